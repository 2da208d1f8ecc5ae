package query

// Temporal makes an Exists condition date-aware. The person's index date
// for the condition is the date (Date, a date column of the Exists'
// table) of their first row for which Where and every Relative condition
// hold; the person meets the condition when that index date exists and
// the washout and age conditions hold at it. All of it is a function of
// one person's own rows (every search is correlated on the person key
// only), so, like a plain Exists, it only decides whether that person's
// rows pass. Package plan renders it from the model:
//
//	EXISTS (SELECT 1 FROM (SELECT min(<date>) AS d FROM <dataset> AS <alias>,
//	    <index subquery of each Relative's criterion> ...
//	    WHERE <inner> = <outer> AND <where> AND <date − that index in [MinDays, MaxDays]>) AS ix
//	  WHERE ix.d IS NOT NULL
//	    AND NOT EXISTS (<a row with WashoutWhere dated in [ix.d − WashoutDays, ix.d)>)
//	    AND EXISTS (<the persons register row with year(ix.d) − birth year in Age>))
type Temporal struct {
	// Date is the date column of the Exists' table that dates its rows,
	// qualified with the table's alias.
	Date *ColumnRef
	// Relative conditions: the row is dated within a window of another
	// condition's index date.
	Relative []Relative
	// WashoutDays > 0: the person has no row of the table for which
	// WashoutWhere holds dated in the WashoutDays days before the index
	// date (the index day itself excluded).
	WashoutDays int
	// WashoutWhere filters the washout rows (columns qualified with the
	// table's alias); nil: any row.
	WashoutWhere Expr
	// Age, when set, requires the age at the index date (its calendar
	// year minus the birth year) to be within [Min, Max].
	Age *AgeAtIndex
}

// Relative requires a row's date to be within [MinDays, MaxDays] days of
// the index date of another condition (its Of): date − index ∈ [MinDays,
// MaxDays]. "After, within 90 days" is [0, 90]; "before, within 30 days"
// [−30, 0]. OpenMin and OpenMax drop that end of the window.
type Relative struct {
	// Of is the other condition; it has a Temporal with a Date, and is not
	// negated (an index date is the first row of a condition that holds).
	Of               *Exists
	MinDays, MaxDays int
	OpenMin, OpenMax bool
}

// AgeAtIndex is an age condition at an index date, from the persons
// register (one row per person).
type AgeAtIndex struct {
	// Table is the persons register and the alias of BirthYear.
	Table TableRef
	// Inner is its person key, BirthYear its birth year column, both
	// qualified with Table's alias.
	Inner, BirthYear *ColumnRef
	// Min and Max bound the age in whole years, inclusive.
	Min, Max int
}

// Datasets returns the datasets an Exists condition reads: its own
// table's and, through its temporal conditions, those of the conditions
// it refers to and of the persons register, in order, each once.
func (e *Exists) Datasets() []string {
	var out []string
	seen := map[*Exists]bool{}
	var walk func(x *Exists)
	add := func(name string) {
		for _, n := range out {
			if n == name {
				return
			}
		}
		out = append(out, name)
	}
	walk = func(x *Exists) {
		if x == nil || seen[x] {
			return
		}
		seen[x] = true
		add(x.Table.Dataset)
		if t := x.Temporal; t != nil {
			if t.Age != nil {
				add(t.Age.Table.Dataset)
			}
			for _, r := range t.Relative {
				walk(r.Of)
			}
		}
	}
	walk(e)
	return out
}
