package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/engine/query"
)

// Profile is the SQL that measures, for one query, how much each person
// contributes: how many of the query's groups a person has rows in, and
// the most rows a person has in one group. Its result counts persons by
// what they contribute, one row per combination present:
//
//	g       BIGINT   the person's groups, at most the last of GroupEdges
//	m       BIGINT   the most rows the person has in one group, at most
//	                 the last of RowEdges
//	lo<j>   BIGINT   for Values[j], the 1-based bucket of the person's
//	hi<j>   BIGINT   smallest and largest value; NULL when the person has
//	                 no finite value
//	persons BIGINT   the persons with these values
//
// Tally adds its rows up into histograms: of groups by GroupEdges and of
// rows by RowEdges, which reach Beyond times past the caps so that what
// the caps themselves cut is seen (the last bucket holds every person at
// or above it), and the value histograms. The buckets of g and m are found
// in Go rather than by a CASE expression in the SQL, which DuckDB took
// longer to plan than to run on small tables.
//
// Every person is in exactly one bucket of each histogram, so one person
// changes each histogram by one in one bucket: noised with Laplace at ε,
// each histogram is ε-DP. The engine reads it (after the debit, paying
// from the query's "bound_selection" share) to choose L0 and L∞.
type Profile struct {
	SQL string
	// GroupsCap and RowsCap are the largest buckets: the most L0 and L∞
	// the query may use.
	GroupsCap, RowsCap int
	// Groups is the number of groups the query may release when every key
	// has a public domain (the narrowed domains' product), or 0 when
	// partition selection chooses them.
	Groups int
	// Rows is true when some aggregate counts or sums rows (so L∞ matters);
	// false when every aggregate counts distinct persons.
	Rows bool
	// Totals is true when some aggregate is a total (a count or a sum),
	// which the L0 step biases down by the groups it drops. Means,
	// quantiles and spreads are not: the L0 step drops a person's groups
	// at random (by a keyed hash), which thins a group without tilting it.
	Totals bool
	// Sample is how many persons the profile stands for per person it
	// reads: on large tables (Options.TableRows) it reads one in Sample
	// persons, chosen by a keyed hash of the person key (a fresh secret per
	// query), and the engine multiplies the noisy counts by Sample. 1: every
	// person. Each person is still in one bucket of each histogram or in
	// none, so the histograms' sensitivity (and their ε) is unchanged.
	Sample int
	// ValueAggs is true when some aggregate is a mean, quantile or spread,
	// which takes Bounds.MaxValuesPerPersonPerGroup values per person and
	// group (bounds.ChooseValues picks it from the rows histogram).
	ValueAggs bool
	// Values profile the numeric columns aggregated by sum, avg,
	// quantiles or spreads: for each, two more histograms of persons, by
	// the bucket of their smallest and of their largest value (what
	// "lo:"+Column and "hi:"+Column name), so the engine can narrow the
	// column's clamp to where the persons' values are.
	Values []ValueProfile
}

// ValueProfile is the value histograms of one numeric column or
// aggregated expression (Column is its query.Aggregate.ClampName): Buckets
// equal buckets over its declared or inferred bounds [Lo, Hi].
type ValueProfile struct {
	Column  string
	Lo, Hi  float64
	Buckets int
	// Biased is true when a sum, mean or spread aggregates the column,
	// which its clamp biases. A quantile's clamp only sets the range its
	// tree resolves: the values clamped stay beyond every quantile the
	// clamp does not cross.
	Biased bool
}

// Beyond is how many times its cap the groups and rows histograms reach:
// a person with more groups or rows than the cap is still counted by how
// many, so the chooser (and the interval widening) sees what the cap
// itself cuts.
const Beyond = 4

// GroupEdges are the edges of the groups histogram: Edges of Beyond times
// GroupsCap, no more than the public number of groups when there is one,
// even under the cap (nobody is in more groups than there are: buckets
// past it would hold noise alone, which the chooser read as persons in
// more groups); the cap itself when it is 1.
func (p *Profile) GroupEdges() []int {
	if p.GroupsCap <= 1 {
		return Edges(p.GroupsCap)
	}
	top := p.GroupsCap * Beyond
	if p.Groups > 0 {
		top = min(top, p.Groups)
	}
	return Edges(top)
}

// RowEdges are the edges of the rows histogram: Edges of Beyond times
// RowsCap (the cap itself when it is 1).
func (p *Profile) RowEdges() []int {
	if p.RowsCap <= 1 {
		return Edges(p.RowsCap)
	}
	return Edges(p.RowsCap * Beyond)
}

// ValueBuckets is the number of buckets of a value histogram.
const ValueBuckets = 32

// Edges are the lower edges of the buckets of a histogram of counts
// 1..cap: every count up to 8, then about a quarter more each bucket
// (10, 12, 14, 16, 20, 24, …), and cap itself last, so the tail of a
// long distribution falls in few buckets of many persons instead of many
// of few (each bucket is noised on its own). A count at or above cap is
// in the last bucket.
func Edges(cap int) []int {
	var out []int
	for e := 1; e < cap; {
		out = append(out, e)
		if e < 8 {
			e++
			continue
		}
		step := 1 << (bitsLen(e) - 3) // a quarter of the power of two at or below e
		e += step
	}
	return append(out, max(cap, 1))
}

// bitsLen is the number of bits of n > 0.
func bitsLen(n int) int {
	l := 0
	for ; n > 0; n >>= 1 {
		l++
	}
	return l
}

// BucketValue is the count a histogram's bucket j (0-based) stands for:
// the middle of [edges[j], edges[j+1]), the last edge itself for the last
// bucket (which holds every count at or above it).
func BucketValue(edges []int, j int) float64 {
	if j+1 >= len(edges) {
		return float64(edges[j])
	}
	return float64(edges[j]+edges[j+1]-1) / 2
}

// bucketOf is the 1-based bucket of count v among edges (lower edges,
// ascending): the last bucket whose edge is at most v; 1 below the first.
func bucketOf(v int64, edges []int) int {
	return max(sort.Search(len(edges), func(j int) bool { return int64(edges[j]) > v }), 1)
}

// Tally adds one row of the profile's result to hists (keyed and sized
// as Lengths): vals are the row's columns before persons (g, m, then lo
// and hi of each value profile), valid false for a NULL one. A row of
// another shape, or a bucket out of range (the SQL makes none), adds
// nothing, so no data value can make reading fail.
func (p *Profile) Tally(hists map[string][]int64, vals []int64, valid []bool, persons int64) {
	if len(vals) != 2+2*len(p.Values) || len(valid) != len(vals) {
		return
	}
	add := func(name string, b int) {
		if h := hists[name]; b >= 1 && b <= len(h) {
			h[b-1] += persons
		}
	}
	if valid[0] {
		add(ProfileGroups, bucketOf(vals[0], p.GroupEdges()))
	}
	if valid[1] {
		add(ProfileRows, bucketOf(vals[1], p.RowEdges()))
	}
	for j, v := range p.Values {
		for k, name := range []string{ProfileLow + v.Column, ProfileHigh + v.Column} {
			if i := 2 + 2*j + k; valid[i] && vals[i] >= 1 && vals[i] <= int64(v.Buckets) {
				add(name, int(vals[i]))
			}
		}
	}
}

// HasGroups is true when the profile holds the groups histogram: when the
// query may choose L0 (GroupsCap > 1) among more than one public group.
// With one group per person, or one group in all, it would say only how
// many persons there are, which the rows histogram says too, and its
// share of ε goes to the others.
func (p *Profile) HasGroups() bool { return p.GroupsCap > 1 && p.Groups != 1 }

// HasRows is true when the profile holds the rows histogram: when the
// query may choose L∞ (RowsCap > 1 and some aggregate counts or sums
// rows) or the values a mean, quantile or spread takes per person.
func (p *Profile) HasRows() bool { return p.RowsCap > 1 && (p.Rows || p.ValueAggs) }

// Histograms is the number of histograms of the profile (at least 1).
func (p *Profile) Histograms() int {
	n := 2 * len(p.Values)
	if p.HasGroups() {
		n++
	}
	if p.HasRows() {
		n++
	}
	return max(n, 1)
}

// Lengths are the profile's histograms by name and their number of buckets.
func (p *Profile) Lengths() map[string]int {
	out := map[string]int{}
	if p.HasGroups() {
		out[ProfileGroups] = len(p.GroupEdges())
	}
	if p.HasRows() {
		out[ProfileRows] = len(p.RowEdges())
	}
	for _, v := range p.Values {
		out[ProfileLow+v.Column], out[ProfileHigh+v.Column] = v.Buckets, v.Buckets
	}
	return out
}

// The values of Profile's what column.
const (
	ProfileGroups = "groups"
	ProfileRows   = "rows"
	// ProfileLow and ProfileHigh prefix a column's value histograms.
	ProfileLow  = "lo:"
	ProfileHigh = "hi:"
	// ProfileLikely prefixes the likely reading of the groups and rows
	// histograms (protect.Release.NoiseProfile): the one the bounds are
	// chosen from.
	ProfileLikely = "likely:"
)

// ProfileFullRows is the most rows of the largest dataset read (as the
// data map publishes its size, see publicRows) that a profile reads in
// full. On a larger table it samples persons: it reads one in
// Profile.Sample = ⌈rows / ProfileSampleRows⌉ of them, between ⅔ and 1 ×
// ProfileSampleRows rows, since shares of persons need far fewer persons
// than the table holds, and the profile runs before the bounded query on
// every request. A full profile of 2 M rows costs about what the bounded
// query does, a sample of 1 M rows from 10 M a tenth of it (issue 14);
// 1 M rows are about 100,000 persons at ten rows each, the registry size
// the utility benchmark measures its accuracy on with full profiles.
const ProfileFullRows = 2_000_000

// ProfileSampleRows is about how many rows a sampled profile reads (see
// ProfileFullRows).
const ProfileSampleRows = 1_000_000

// profileSample is Profile.Sample for datasets of the given sizes.
func (b *builder) profileSample(rows map[string]int64) int {
	return ProfileSample(b.publicRows(rows))
}

// ProfileSample is Profile.Sample for a largest dataset of the given rows
// as the data map publishes them (catalog.Approx): 1 up to
// ProfileFullRows, else one person in ⌈rows / ProfileSampleRows⌉.
func ProfileSample(publicRows int64) int {
	if publicRows <= ProfileFullRows {
		return 1
	}
	return int((publicRows + ProfileSampleRows - 1) / ProfileSampleRows)
}

// publicRows is the size of the largest dataset the query reads as the
// data map publishes it (catalog.Approx: two significant figures). The
// profile's sample and the person buckets depend on this size alone: on
// the exact one, one person's rows could cross a threshold that changes
// how noisy the profile is (and so the bounds and notes released) or how
// long the query takes, which no ε accounts for.
func (b *builder) publicRows(rows map[string]int64) int64 {
	var most int64
	for _, t := range b.q.From {
		most = max(most, rows[t.Dataset])
	}
	approx, _ := catalog.Approx(most)
	return approx
}

// profile returns the query's profile, or nil when there is nothing to
// choose: the request fixed the bounds, or a person is in one group with
// one row and no numeric column is aggregated. seed keys the sample of
// persons on large tables (rows, as Options.TableRows).
func (b *builder) profile(seed uint64, rows map[string]int64) *Profile {
	q := b.q
	if r := b.request; r != nil && (r.MaxGroupsPerPerson > 0 || r.MaxRowsPerPersonPerGroup > 0) {
		return nil
	}
	pr := &Profile{GroupsCap: b.l0cap, RowsCap: b.rowsCap, Sample: b.profileSample(rows)}
	if b.step == L0OneGroupPerPerson {
		pr.GroupsCap = 1
	}
	for _, a := range q.Aggs {
		if a.Kind != query.AggCountDistinct {
			pr.Rows = true
		}
		switch a.Kind {
		case query.AggCountStar, query.AggCount, query.AggCountDistinct, query.AggSum:
			pr.Totals = true
		}
	}
	if b.allDomains {
		pr.Groups = b.product
	}
	pr.ValueAggs = b.valueAggs()
	valueArg := map[string]int{} // clamp name → the src column x<i> that holds it
	for i, a := range q.Aggs {
		switch a.Kind {
		case query.AggSum, query.AggAvg, query.AggQuantile, query.AggStddev, query.AggVariance:
		default:
			continue
		}
		name := a.ClampName()
		if !(a.Bounds[0] < a.Bounds[1]) {
			continue
		}
		biased := a.Kind != query.AggQuantile
		if j, seen := valueArg[name]; seen {
			for k := range pr.Values {
				if pr.Values[k].Column == name {
					pr.Values[k].Biased = pr.Values[k].Biased || biased
				}
			}
			// The column itself rather than a FILTERed part of it
			// (ClampName): its clamp is shared by both.
			if _, plain := a.Arg.(*query.ColumnRef); plain {
				if _, was := q.Aggs[j].Arg.(*query.ColumnRef); !was {
					valueArg[name] = i
				}
			}
			continue
		}
		valueArg[name] = i
		pr.Values = append(pr.Values, ValueProfile{Column: name, Lo: a.Bounds[0], Hi: a.Bounds[1], Buckets: ValueBuckets, Biased: biased})
	}
	if !pr.HasGroups() && (pr.RowsCap <= 1 || !pr.Rows) && len(pr.Values) == 0 {
		return nil // nothing to choose
	}
	keys := make([]string, len(q.Keys))
	for i := range q.Keys {
		keys[i] = keyCol(i)
	}
	var s strings.Builder
	s.WriteString("WITH ")
	b.writeDerived(&s)
	s.WriteString("src AS (\n")
	sample := ""
	if pr.Sample > 1 {
		base := q.From[0]
		person := quoteIdent(aliasOf(base)) + "." + quoteIdent(b.tables[aliasOf(base)].PersonKey)
		// Another key than the L0 step's: (person, seed) rather than
		// (person, keys, seed). Hashed twice: the low bits of DuckDB's
		// hash of several values follow a sequential person key too
		// evenly (hash(pid, c) % 16 over pids 0–3999 gives 248–252 each),
		// which correlates with data that depend on the key's residues.
		sample = fmt.Sprintf("hash(hash(%s, %d::UBIGINT)) %% %d = 0", person, seed, pr.Sample)
	}
	b.writeSrc(&s, sample)
	s.WriteString("),\npg AS (\n")
	pgItems := append(append([]string{"person"}, keys...), "count(*) AS r")
	perItems := []string{"person", "count(*) AS g", "max(r) AS m"}
	for j, v := range pr.Values {
		x := fmt.Sprintf("x%d", valueArg[v.Column])
		pgItems = append(pgItems, fmt.Sprintf("min(%s) AS vlo%d", x, j), fmt.Sprintf("max(%s) AS vhi%d", x, j))
		perItems = append(perItems, fmt.Sprintf("min(vlo%d) AS plo%d", j, j), fmt.Sprintf("max(vhi%d) AS phi%d", j, j))
	}
	selectList(&s, "  ", pgItems)
	s.WriteString("  FROM src\n")
	if filters := b.domainFilters(keys); len(filters) > 0 {
		s.WriteString("  WHERE " + strings.Join(filters, "\n    AND ") + "\n")
	}
	s.WriteString("  GROUP BY " + strings.Join(append([]string{"person"}, keys...), ", ") + "\n),\n")
	s.WriteString("per AS (\n")
	selectList(&s, "  ", perItems)
	s.WriteString("  FROM pg\n  GROUP BY person\n)\n")
	g, m := pr.GroupEdges(), pr.RowEdges()
	out := []string{fmt.Sprintf("least(g, %d)::BIGINT AS g", g[len(g)-1]), fmt.Sprintf("least(m, %d)::BIGINT AS m", m[len(m)-1])}
	for j, v := range pr.Values {
		w := (v.Hi - v.Lo) / float64(v.Buckets)
		for _, h := range []struct{ name, col string }{{"lo", fmt.Sprintf("plo%d", j)}, {"hi", fmt.Sprintf("phi%d", j)}} {
			out = append(out, fmt.Sprintf("CASE WHEN isfinite(%s) THEN 1 + least(greatest(floor((%s - %s) / %s), 0), %d)::BIGINT END AS %s%d",
				h.col, h.col, renderFloat(v.Lo), renderFloat(w), v.Buckets-1, h.name, j))
		}
	}
	positions := make([]string, len(out))
	for i := range out {
		positions[i] = fmt.Sprint(i + 1)
	}
	s.WriteString("SELECT " + strings.Join(out, ", ") + ", count(*)::BIGINT AS persons\nFROM per\nGROUP BY " + strings.Join(positions, ", ") + "\n")
	pr.SQL = s.String()
	return pr
}
