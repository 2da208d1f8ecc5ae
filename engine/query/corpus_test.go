package query

import (
	"context"
	"reflect"
	"testing"

	"github.com/statgate/statgate/engine/internal/testkit"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/refusal/refusaltest"
)

// compileCase compiles one corpus case: a query, or a cohort WHERE.
func compileCase(ctx context.Context, t testing.TB, c testkit.Query) (*Query, Expr, error) {
	cat := corpusCatalog(t, c)
	if c.Dataset != "" {
		e, err := testParser.CompileWhere(ctx, c.Dataset, c.Text, cat)
		return nil, e, err
	}
	q, err := testParser.Compile(ctx, c.Text, cat)
	return q, nil, err
}

func TestRejectedCorpus(t *testing.T) {
	cases := testkit.ReadQueries(t, rejectedFile)
	if len(cases) < 60 {
		t.Fatalf("the rejection corpus has %d cases; want at least 60", len(cases))
	}
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			if c.Verb != "reject" && c.Verb != "reject-where" {
				t.Fatalf("line %d: %s in the rejection corpus", c.Line, c.Verb)
			}
			q, e, err := compileCase(t.Context(), t, c)
			r, ok := refusal.As(err)
			if !ok {
				t.Fatalf("line %d: got (%v, %v, %v), want refusal %s", c.Line, q, e, err, c.Code)
			}
			want, ok := refusal.Lookup(c.Code)
			if !ok {
				t.Fatalf("line %d: %s is not a registered refusal code (engine/refusal/codes.go)", c.Line, c.Code)
			}
			if r.Code != want {
				t.Fatalf("line %d: got refusal %s: %v; want %s", c.Line, r.Code, r, c.Code)
			}
			if r.Message == "" {
				t.Errorf("line %d: refusal without message", c.Line)
			}
		})
	}
}

func TestAcceptedCorpus(t *testing.T) {
	cases := testkit.ReadQueries(t, acceptedFile)
	queries := 0
	names := map[string]bool{}
	for _, c := range cases {
		if c.Verb != "accept" && c.Verb != "accept-where" {
			t.Fatalf("line %d: %s in the acceptance corpus", c.Line, c.Verb)
		}
		if c.Verb == "accept" {
			queries++
			if names[c.Name] {
				t.Fatalf("line %d: name %s repeated", c.Line, c.Name)
			}
			names[c.Name] = true
		}
	}
	if queries < 40 {
		t.Fatalf("the acceptance corpus has %d queries; want at least 40", queries)
	}
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			q, e, err := compileCase(t.Context(), t, c)
			if err != nil {
				t.Fatalf("line %d: %v", c.Line, err)
			}
			if c.Verb == "accept-where" {
				if e == nil || e.ExprType() != TypeBool {
					t.Fatalf("line %d: condition %#v is not boolean", c.Line, e)
				}
				return
			}
			if err := validate(q, corpusCatalog(t, c)); err != nil {
				t.Fatalf("line %d: inconsistent model: %v", c.Line, err)
			}
		})
	}
}

// TestAcceptedSpotChecks checks the model of a few accepted queries in detail.
func TestAcceptedSpotChecks(t *testing.T) {
	byName := map[string]testkit.Query{}
	for _, c := range testkit.ReadQueries(t, acceptedFile) {
		byName[c.Name] = c
	}
	col := func(table, dataset, column string, typ Type) *ColumnRef {
		return &ColumnRef{Table: table, Dataset: dataset, Column: column, Type: typ}
	}
	lit := func(v any, typ Type) *Literal { return &Literal{Value: v, Type: typ} }
	ten := int64(10)
	tests := []struct {
		desc  string
		check func(t *testing.T, q *Query)
	}{
		{"diabetes_prevalence_by_age_band_and_sex", func(t *testing.T, q *Query) {
			wantFrom := []TableRef{{Dataset: "npr", Alias: "n"}, {Dataset: "population", Alias: "p"}}
			if !reflect.DeepEqual(q.From, wantFrom) {
				t.Errorf("From = %+v, want %+v", q.From, wantFrom)
			}
			if len(q.Keys) != 2 || q.Keys[0].Name != "age_band" || q.Keys[1].Name != "sex" {
				t.Fatalf("Keys = %+v", q.Keys)
			}
			if _, ok := q.Keys[0].Expr.(*Case); !ok {
				t.Errorf("age band key is %T, want *Case", q.Keys[0].Expr)
			}
			if !reflect.DeepEqual(q.Keys[1].Expr, col("p", "population", "sex", TypeString)) {
				t.Errorf("sex key = %#v", q.Keys[1].Expr)
			}
			if len(q.Aggs) != 1 || q.Aggs[0].Kind != AggCountDistinct || q.Aggs[0].Name != "persons" {
				t.Errorf("Aggs = %+v", q.Aggs)
			}
			if q.GroupingSets != nil {
				t.Errorf("GroupingSets = %v, want nil", q.GroupingSets)
			}
			if !reflect.DeepEqual(q.OrderBy, []OrderItem{{Column: 0}, {Column: 1}}) {
				t.Errorf("OrderBy = %+v", q.OrderBy)
			}
		}},
		{"stay_quantiles_by_contact_type", func(t *testing.T, q *Query) {
			los := col("npr", "npr", "length_of_stay_days", TypeNumber)
			want := []Aggregate{
				{Kind: AggQuantile, Arg: los, P: 0.5, Bounds: [2]float64{0, 90}, Name: "median_length_of_stay_days"},
				{Kind: AggQuantile, Arg: los, P: 0.9, Bounds: [2]float64{0, 90}, Name: "p90_length_of_stay_days"},
				{Kind: AggStddev, Arg: los, Bounds: [2]float64{0, 90}, Name: "stddev_length_of_stay_days"},
			}
			if !reflect.DeepEqual(q.Aggs, want) {
				t.Errorf("Aggs = %+v, want %+v", q.Aggs, want)
			}
		}},
		{"contacts_by_year_and_type", func(t *testing.T, q *Query) {
			want := [][]int{{}, {0}, {0, 1}}
			if !reflect.DeepEqual(q.GroupingSets, want) {
				t.Errorf("GroupingSets = %v, want %v", q.GroupingSets, want)
			}
			yr := &Func{Name: "year", Args: []Expr{col("npr", "npr", "contact_date", TypeDate)}, Type: TypeInteger}
			if !reflect.DeepEqual(q.Keys[0].Expr, yr) || q.Keys[0].Name != "year" {
				t.Errorf("key 0 = %+v", q.Keys[0])
			}
		}},
		{"contacts_by_quarter_cube", func(t *testing.T, q *Query) {
			if len(q.GroupingSets) != 4 {
				t.Errorf("GroupingSets = %v, want the 4 sets of a CUBE of 2", q.GroupingSets)
			}
			// extract(year FROM d) is normalised to year(d).
			cmp, ok := q.Where.(*Compare)
			if !ok {
				t.Fatalf("Where = %#v", q.Where)
			}
			if f, ok := cmp.L.(*Func); !ok || f.Name != "year" {
				t.Errorf("extract(year ...) = %#v, want year(...)", cmp.L)
			}
		}},
		{"contacts_by_letter_and_month", func(t *testing.T, q *Query) {
			// Strings compared with a date become date literals.
			and := q.Where.(*Logical)
			if got := and.Args[0].(*Compare).R; !reflect.DeepEqual(got, lit("2023-01-01", TypeDate)) {
				t.Errorf("date bound = %#v", got)
			}
			// date_trunc returns a TIMESTAMP in DuckDB; the checker casts it back.
			c, ok := q.Keys[1].Expr.(*Cast)
			if !ok || c.To != TypeDate || c.X.(*Func).Name != "date_trunc" {
				t.Errorf("month key = %#v", q.Keys[1].Expr)
			}
		}},
		{"contacts_by_icd10_chapter", func(t *testing.T, q *Query) {
			if q.Limit == nil || *q.Limit != ten {
				t.Errorf("Limit = %v, want 10", q.Limit)
			}
			if !reflect.DeepEqual(q.OrderBy, []OrderItem{{Column: 1, Desc: true}}) {
				t.Errorf("OrderBy = %+v", q.OrderBy)
			}
			f := q.Keys[0].Expr.(*Func)
			if f.Name != "icd10_chapter" || f.Type != TypeString {
				t.Errorf("chapter key = %#v", f)
			}
		}},
		{"long_stays_by_hospital", func(t *testing.T, q *Query) {
			want := &Logical{Op: "AND", Args: []Expr{
				&Compare{Op: ">", L: &OutputRef{Column: 1, Type: TypeInteger}, R: lit(int64(20), TypeInteger)},
				&Compare{Op: "<", L: &OutputRef{Column: 1, Type: TypeInteger}, R: lit(int64(100000), TypeInteger)},
			}}
			if !reflect.DeepEqual(q.Having, want) {
				t.Errorf("Having = %#v", q.Having)
			}
		}},
		{"recent_contacts_interval", func(t *testing.T, q *Query) {
			cmp := q.Where.(*Logical).Args[0].(*Compare)
			want := &Cast{X: &Arith{Op: "-", L: lit("2024-12-31", TypeDate), R: lit("1 year", TypeInterval), Type: TypeDate}, To: TypeDate}
			if !reflect.DeepEqual(cmp.R, want) {
				t.Errorf("date - INTERVAL 1 YEAR = %#v", cmp.R)
			}
			cmp = q.Where.(*Logical).Args[1].(*Compare)
			if got := cmp.R.(*Cast).X.(*Arith).R; !reflect.DeepEqual(got, lit("3 months", TypeInterval)) {
				t.Errorf("INTERVAL '3 months' = %#v", got)
			}
			if len(q.Keys) != 1 || q.Keys[0].Name != "hospital" {
				t.Errorf("GROUP BY ALL keys = %+v", q.Keys)
			}
		}},
		{"three_way_join", func(t *testing.T, q *Query) {
			if len(q.From) != 3 || q.From[2].Dataset != "lmr" {
				t.Errorf("From = %+v", q.From)
			}
			a := q.Aggs[1]
			if a.Kind != AggQuantile || a.P != 0.5 || a.Bounds != [2]float64{0, 365} || a.Name != "median_ddd" {
				t.Errorf("median = %+v", a)
			}
		}},
		{"hidden_group_key", func(t *testing.T, q *Query) {
			if len(q.Keys) != 1 || q.Keys[0].Name != "hospital" || len(q.Output) != 1 || q.Output[0].Agg != 0 {
				t.Errorf("Keys = %+v, Output = %+v", q.Keys, q.Output)
			}
		}},
		{"duplicate_aggregates_share_one", func(t *testing.T, q *Query) {
			if len(q.Aggs) != 2 {
				t.Fatalf("Aggs = %+v, want 2", q.Aggs)
			}
			want := []OutputColumn{{Name: "a", Key: -1, Agg: 0}, {Name: "b", Key: -1, Agg: 0}, {Name: "count", Key: -1, Agg: 1}, {Name: "count_2", Key: -1, Agg: 1}}
			if !reflect.DeepEqual(q.Output, want) {
				t.Errorf("Output = %+v, want %+v", q.Output, want)
			}
		}},
		{"percentile_cont_within_group", func(t *testing.T, q *Query) {
			if a := q.Aggs[0]; a.Kind != AggQuantile || a.P != 0.75 || a.Name != "p75" {
				t.Errorf("Aggs = %+v", q.Aggs)
			}
		}},
		{"contacts_counted_by_person_key", func(t *testing.T, q *Query) {
			// count(pid) is count(*), the same aggregate; its FILTER counts rows too.
			if len(q.Aggs) != 3 || q.Aggs[0].Kind != AggCountStar || q.Aggs[1].Kind != AggCount || q.Aggs[2].Kind != AggCountDistinct {
				t.Errorf("Aggs = %+v, want count(*), count(CASE ...), count(DISTINCT pid)", q.Aggs)
			}
		}},
		{"contacts_counted_by_joined_key", func(t *testing.T, q *Query) {
			want := []OutputColumn{{Name: "sex", Key: 0, Agg: -1}, {Name: "contacts", Key: -1, Agg: 0}, {Name: "also_contacts", Key: -1, Agg: 0}}
			if len(q.Aggs) != 1 || q.Aggs[0].Kind != AggCountStar || !reflect.DeepEqual(q.Output, want) {
				t.Errorf("Aggs = %+v, Output = %+v", q.Aggs, q.Output)
			}
		}},
		{"per_person_contacts_counted_by_key", func(t *testing.T, q *Query) {
			if len(q.Derived) != 1 || q.Derived[0].Columns[0].Kind != DerivedCountStar || q.Aggs[0].Kind != AggCountStar {
				t.Errorf("Derived = %+v, Aggs = %+v", q.Derived, q.Aggs)
			}
		}},
		{"patients_by_approx_count_distinct", func(t *testing.T, q *Query) {
			// approx_count_distinct(pid) is count(DISTINCT pid); its FILTER flags persons.
			if len(q.Aggs) != 2 || q.Aggs[0].Kind != AggCountDistinct || q.Aggs[0].Arg != nil || q.Aggs[1].Kind != AggCountDistinct || q.Aggs[1].Arg == nil {
				t.Errorf("Aggs = %+v", q.Aggs)
			}
		}},
		{"persons_by_approx_count_distinct", func(t *testing.T, q *Query) {
			if len(q.Aggs) != 1 || q.Aggs[0].Kind != AggCountDistinct || q.Output[1].Agg != 0 || q.Output[2].Agg != 0 {
				t.Errorf("Aggs = %+v, Output = %+v", q.Aggs, q.Output)
			}
		}},
		{"uppercase_identifiers", func(t *testing.T, q *Query) {
			if !reflect.DeepEqual(q.Keys[0].Expr, col("X", "npr", "hospital", TypeString)) || q.Output[0].Name != "hospital" {
				t.Errorf("key = %#v, output %+v", q.Keys[0].Expr, q.Output)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			c, ok := byName[tc.desc]
			if !ok {
				t.Fatalf("no accepted query named %s", tc.desc)
			}
			q, _, err := compileCase(t.Context(), t, c)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, q)
		})
	}
}

// TestCodesCovered makes sure every refusal code this package constructs
// is exercised by the rejection corpus or a named unit test, and that the
// corpus expects no code this package does not construct.
func TestCodesCovered(t *testing.T) {
	src := refusaltest.Scan(t, ".")
	if len(src.Uses) < 40 {
		t.Fatalf("found %d codes in the package's source; the scan is off", len(src.Uses))
	}
	used := map[refusal.Code]bool{
		// Exercised by unit tests in this package rather than the corpus.
		refusal.QueryTooLong:       true, // TestParse
		refusal.QueryTooComplex:    true, // TestTooComplex
		refusal.AggregateUnbounded: true, // TestUnboundedColumn (the policy bounds every numeric column)
		refusal.ClauseNotAllowed:   true, // TestOddJSON
	}
	for _, c := range testkit.ReadQueries(t, rejectedFile) {
		code, ok := refusal.Lookup(c.Code)
		if !ok || src.Uses[code] == nil {
			t.Errorf("line %d: code %s is not one package query constructs", c.Line, c.Code)
		}
		used[code] = true
	}
	for code := range src.Uses {
		if !used[code] {
			t.Errorf("code %s is not exercised by the rejection corpus or a unit test", code)
		}
	}
}
