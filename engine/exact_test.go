package engine

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/statgate/statgate/engine/internal/testkit"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/policies"
)

// wideBound is the max_groups_per_person and max_rows_per_person_per_group
// of the widened policy: far above what any person of the extract has.
const wideBound = 1_000_000

// exactExtraCases add to the corpus what it does not exercise: plain
// groups whose key lies outside its public domain (the NULL death year of
// the living); a CASE key without ELSE, whose NULL group is part of its
// domain and must be kept, also under CUBE next to a boolean key; and
// statistics of value lists in ROLLUP margins.
var exactExtraCases = []testkit.Query{
	{Verb: "accept", Name: "extra_deaths_by_year_including_the_living",
		Text: "SELECT year(death_date) AS year, sex, count(*) AS n FROM population GROUP BY ALL"},
	{Verb: "accept", Name: "extra_case_key_with_null_group",
		Text: "SELECT CASE WHEN birth_year < 1950 THEN 'before 1950' END AS born, count(*) AS n, avg(birth_year) AS mean_year FROM population GROUP BY 1"},
	{Verb: "accept", Name: "extra_boolean_and_case_keys_cube",
		Text: "SELECT sex = 'F' AS female, CASE WHEN birth_year < 1950 THEN 1 WHEN birth_year < 1980 THEN 2.5 END AS band, " +
			"count(*) AS n, count(death_date) AS dead, avg(birth_year) AS mean_year FROM population GROUP BY CUBE (female, band)"},
	{Verb: "accept", Name: "extra_calendar_parts_rollup_with_statistics",
		Text: "SELECT date_part('quarter', contact_date) AS q, date_part('isodow', contact_date) AS d, count(*) AS n, " +
			"median(length_of_stay_days) AS med, stddev(length_of_stay_days) AS sd, var_samp(length_of_stay_days) AS v, " +
			"sum(length_of_stay_days) AS total, count(DISTINCT pid) AS patients FROM npr GROUP BY ROLLUP (q, d)"},
}

// TestBoundedEqualsPlainOverCorpus proves the "Done when" item: on
// data where no person exceeds the bounds, the bounded result equals plain
// DuckDB on the same question exactly.
//
// The policy is widened so that no person of the checked-in extract
// exceeds it (L0 and M far above any person's groups and rows, every
// numeric column's bounds its data's [min, max]). Every accepted corpus
// query (and cohort criterion, as the count it stands for) is compiled,
// planned and run in a plain DuckDB holding the extract, and the user's
// own text runs there too. Per group, the bounded plan's columns give back
// the plain result: counts exactly, floating-point statistics within a
// relative 1e-9. Plain groups whose key lies outside the key's public
// domain are absent from the plan by design and must be the only ones
// missing. Grouping sets are compared row for row (a margin's rolled-up
// keys are NULL on both sides).
//
// Three edits of the user's text, all through DuckDB's own parse tree:
// HAVING, ORDER BY and LIMIT apply to released (noisy) values, so a query
// with them is compared without them, and its text as written must return
// a subset of those plain groups; an unqualified person key after
// JOIN … ON, which DuckDB's binder refuses as ambiguous and statgate reads
// as the person, is qualified with the first table's alias; and
// approx_count_distinct, DuckDB's HyperLogLog estimate, which statgate
// computes exactly (as count(DISTINCT)), is made count(DISTINCT).
func TestBoundedEqualsPlainOverCorpus(t *testing.T) {
	ctx := t.Context()
	db := openPlainDB(t)
	pol := widePolicy(t, db)
	parser, err := query.NewParser(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parser.Close() })
	cat := query.NewCatalog(pol, datasetNames(pol))

	cases := append(testkit.ReadQueries(t, acceptedCorpus), exactExtraCases...)
	var (
		compared, groups, outOfDomain int
		filtered, qualified           []string
		empty, outside                []string
	)
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			q, err := parser.Compile(ctx, c.SQL(), cat)
			if err != nil {
				t.Fatalf("line %d: %v", c.Line, err)
			}
			p, err := plan.Bound(q, pol, &plan.Options{Seed: 1})
			if err != nil {
				t.Fatalf("line %d: plan: %v", c.Line, err)
			}
			ex := exactFromPlan(t, q, p, mustQuery(t, db, p.SQL))

			text := c.SQL()
			if strings.Contains(strings.ToLower(text), "approx_count_distinct") {
				text = rewriteSQL(t, db, text, exactDistinctCounts)
			}
			if _, err := queryTable(db, text); err != nil {
				personKey := pol.Datasets[q.From[0].Dataset].PersonKey
				if !strings.Contains(err.Error(), `Ambiguous reference to column name "`+personKey+`"`) {
					t.Fatalf("line %d: plain DuckDB: %v", c.Line, err)
				}
				text = rewriteSQL(t, db, text, qualifyColumn(q.From[0].Alias, personKey))
				qualified = append(qualified, c.String())
			}
			plainText := text
			if q.Having != nil || q.Limit != nil {
				plainText = rewriteSQL(t, db, text, dropHavingAndModifiers)
				filtered = append(filtered, c.String())
			}
			plain := mustQuery(t, db, plainText).rows

			cmp := rowComparer{q: q, p: p}
			missingBounded, missingPlain := matchRows(ex, plain, cmp)
			for _, r := range missingBounded {
				t.Errorf("line %d: bounded group %v has no equal plain group", c.Line, r)
			}
			for _, r := range missingPlain {
				if !cmp.outsideDomain(r) {
					t.Errorf("line %d: plain group %v is missing from the bounded result and has no key outside its public domain", c.Line, r)
				}
			}
			if plainText != text {
				asWritten := mustQuery(t, db, text).rows
				if extra, _ := matchRows(asWritten, plain, cmp); len(extra) > 0 {
					t.Errorf("line %d: the query as written returns %v, not among its groups without HAVING/LIMIT", c.Line, extra)
				}
			}
			if t.Failed() {
				return
			}
			compared++
			groups += len(ex)
			outOfDomain += len(missingPlain)
			for _, r := range missingPlain {
				outside = append(outside, fmt.Sprintf("%s %v", c, r))
			}
			if len(ex) == 0 {
				empty = append(empty, c.String())
			}
		})
	}
	t.Logf("compared %d of %d queries: %d groups equal; %d plain groups outside a key's public domain, absent by design", compared, len(cases), groups, outOfDomain)
	t.Logf("compared without HAVING/ORDER BY/LIMIT (as written: a subset): %v", filtered)
	t.Logf("person key qualified for DuckDB's binder: %v", qualified)
	t.Logf("empty on both sides (the extract has no matching row): %v", empty)
	if compared != len(cases) {
		t.Errorf("compared %d of %d queries", compared, len(cases))
	}
	// A domain that lost a value would show here, not as a failure: the
	// plain groups outside the keys' domains are exactly these, the NULL
	// groups of keys whose domain lists no NULL.
	if want := []string{"contacts_with_cause_letter [<nil> 13891]", "extra_deaths_by_year_including_the_living [<nil> F 2216]", "extra_deaths_by_year_including_the_living [<nil> M 2293]"}; !slices.Equal(outside, want) {
		t.Errorf("plain groups outside their keys' domains: %q, want %q (a domain may have lost a value)", outside, want)
	}
	if outOfDomain == 0 {
		t.Errorf("no plain group fell outside a public domain; the extra cases should produce some")
	}
	if len(empty) > len(cases)/10 {
		t.Errorf("%d queries have empty results on both sides (%v); too many comparisons prove nothing", len(empty), empty)
	}
}

// openPlainDB opens the test's own unrestricted in-memory DuckDB with the
// checked-in extract (testdata/registries) as one table per dataset and an
// icd10_chapter macro that computes what plan renders for the function.
func openPlainDB(t testing.TB) *sql.DB {
	t.Helper()
	conn, err := duckdb.NewConnector("?threads=2", nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	for _, ds := range []string{"population", "npr", "lmr", "cancer", "death_causes"} {
		mustExec(t, db, fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM read_parquet('../testdata/registries/%s.parquet')", ds, ds))
	}
	chapter := plan.RenderExpr(&query.Func{Name: "icd10_chapter", Type: query.TypeString,
		Args: []query.Expr{&query.ColumnRef{Column: "c", Type: query.TypeString}}})
	mustExec(t, db, "CREATE MACRO icd10_chapter(c) AS "+chapter)
	return db
}

// widePolicy loads the shipped policy and widens it so that no person of
// the extract in db exceeds its bounds: max_groups_per_person and
// max_rows_per_person_per_group become wideBound, and every numeric
// column's bounds the [min, max] of its data, so clamping changes nothing.
func widePolicy(t *testing.T, db *sql.DB) *policies.Policy {
	t.Helper()
	pol, err := policies.Load(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range pol.Datasets {
		var rows int64
		mustScan(t, db, fmt.Sprintf("SELECT count(*) FROM %s GROUP BY %s ORDER BY 1 DESC LIMIT 1", ds.Name, ds.PersonKey), &rows)
		if rows >= wideBound {
			t.Fatalf("a person has %d rows in %s; the widened bounds would not hold", rows, ds.Name)
		}
		ds.MaxGroupsPerPerson, ds.MaxRowsPerPersonPerGroup = wideBound, wideBound
		for _, col := range ds.Columns {
			if col.Type != policies.TypeInteger && col.Type != policies.TypeNumber {
				continue
			}
			var lo, hi sql.NullFloat64
			mustScan(t, db, fmt.Sprintf("SELECT min(%[1]s)::DOUBLE, max(%[1]s)::DOUBLE FROM %[2]s", col.Name, ds.Name), &lo, &hi)
			if !lo.Valid {
				t.Fatalf("%s.%s has no values", ds.Name, col.Name)
			}
			col.Bounds = &[2]float64{lo.Float64, hi.Float64}
		}
	}
	return pol
}

// datasetNames lists every dataset of the policy, sorted.
func datasetNames(pol *policies.Policy) []string {
	var names []string
	for name := range pol.Datasets {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func mustExec(t testing.TB, db *sql.DB, stmt string) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func mustScan(t testing.TB, db *sql.DB, q string, dest ...any) {
	t.Helper()
	if err := db.QueryRowContext(context.Background(), q).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// table is a query result: column names and rows of scanned values.
type table struct {
	cols []string
	rows [][]any
}

// col returns the index of the named column.
func (tb table) col(t testing.TB, name string) int {
	t.Helper()
	i := slices.Index(tb.cols, name)
	if i < 0 {
		t.Fatalf("no column %s in %v", name, tb.cols)
	}
	return i
}

func mustQuery(t testing.TB, db *sql.DB, q string) table {
	t.Helper()
	tb, err := queryTable(db, q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	return tb
}

// queryTable runs q and returns all its rows.
func queryTable(db *sql.DB, q string) (table, error) {
	var tb table
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		return tb, err
	}
	defer rows.Close()
	if tb.cols, err = rows.Columns(); err != nil {
		return tb, err
	}
	for rows.Next() {
		row := make([]any, len(tb.cols))
		ptrs := make([]any, len(row))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return tb, err
		}
		tb.rows = append(tb.rows, row)
	}
	return tb, rows.Err()
}

// rewriteSQL returns text changed through DuckDB's own parse tree:
// json_serialize_sql, edit the SELECT node, json_deserialize_sql.
func rewriteSQL(t *testing.T, db *sql.DB, text string, edit func(node map[string]any)) string {
	t.Helper()
	var tree string
	mustScanArgs(t, db, "SELECT json_serialize_sql($1::VARCHAR)::VARCHAR", []any{text}, &tree)
	dec := json.NewDecoder(strings.NewReader(tree))
	dec.UseNumber() // keep constants exact
	var ast struct {
		Error      bool             `json:"error"`
		Statements []map[string]any `json:"statements"`
	}
	if err := dec.Decode(&ast); err != nil || ast.Error || len(ast.Statements) != 1 {
		t.Fatalf("parse tree of %q: %v %s", text, err, tree)
	}
	node, ok := ast.Statements[0]["node"].(map[string]any)
	if !ok || node["type"] != "SELECT_NODE" {
		t.Fatalf("the statement of %q is not a SELECT node: %s", text, tree)
	}
	edit(node)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ast); err != nil {
		t.Fatal(err)
	}
	var out string
	mustScanArgs(t, db, "SELECT json_deserialize_sql($1::VARCHAR::JSON)", []any{buf.String()}, &out)
	return out
}

// dropHavingAndModifiers removes HAVING, ORDER BY and LIMIT from a SELECT node.
func dropHavingAndModifiers(node map[string]any) {
	node["having"] = nil
	node["modifiers"] = []any{}
}

// exactDistinctCounts makes every approx_count_distinct(x) count(DISTINCT x).
func exactDistinctCounts(node map[string]any) {
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["class"] == "FUNCTION" && v["function_name"] == "approx_count_distinct" {
				v["function_name"], v["distinct"] = "count", true
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(node)
}

// qualifyColumn returns an edit that qualifies every unqualified reference
// to column with table.
func qualifyColumn(table, column string) func(map[string]any) {
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if names, ok := v["column_names"].([]any); ok && v["class"] == "COLUMN_REF" && len(names) == 1 {
				if s, ok := names[0].(string); ok && strings.EqualFold(s, column) {
					v["column_names"] = []any{table, s}
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	return func(node map[string]any) { walk(node) }
}

func mustScanArgs(t testing.TB, db *sql.DB, q string, args []any, dest ...any) {
	t.Helper()
	if err := db.QueryRowContext(context.Background(), q, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// exactFromPlan turns the rows of a bounded plan into the rows the user's
// query returns without protection: one value per query.Query.Output
// column, computed from the plan's columns as protect does before noise.
func exactFromPlan(t *testing.T, q *query.Query, p *plan.Plan, tb table) [][]any {
	t.Helper()
	colOf := func(role plan.Role, index int) int {
		for _, c := range p.Columns {
			if c.Role == role && (role == plan.RolePersons || c.Index == index) {
				return tb.col(t, c.Name)
			}
		}
		t.Fatalf("the plan has no %s column for %d", role, index)
		return -1
	}
	var out [][]any
	valuesOf := func(row []any) func(int) any {
		return func(i int) any {
			a := p.Aggs[i]
			switch a.Kind {
			case query.AggCountStar, query.AggCount:
				return number(t, row[colOf(plan.RoleCount, i)])
			case query.AggCountDistinct:
				if q.Aggs[i].Arg != nil { // FILTERed: a count column of its own
					return number(t, row[colOf(plan.RoleCount, i)])
				}
				return number(t, row[colOf(plan.RolePersons, i)])
			case query.AggSum:
				return number(t, row[colOf(plan.RoleSum, i)])
			case query.AggAvg:
				n := number(t, row[colOf(plan.RoleCount, i)])
				if n == 0 {
					return nil
				}
				lo, hi := a.Bounds[0], a.Bounds[1]
				return number(t, row[colOf(plan.RoleNormSum, i)])/n + (lo + (hi-lo)/2)
			case query.AggQuantile, query.AggStddev, query.AggVariance:
				return listStatistic(a, numbers(t, row[colOf(plan.RoleValues, i)]))
			}
			t.Fatalf("aggregate kind %s", a.Kind)
			return nil
		}
	}
	// A window adds up its aggregate over the rows of its partition, as
	// SQL's sum skips NULL.
	partition := func(row []any, w *query.WindowSum) string {
		var parts []string
		for _, k := range w.Partition {
			parts = append(parts, fmt.Sprintf("%T:%v", row[colOf(plan.RoleKey, k)], row[colOf(plan.RoleKey, k)]))
		}
		return strings.Join(parts, "\x00")
	}
	totals := map[*query.WindowSum]map[string]float64{}
	for _, o := range q.Output {
		for _, w := range query.MeasureWindows(o.Measure) {
			totals[w] = map[string]float64{}
			for _, row := range tb.rows {
				if v, ok := toFloat64(valuesOf(row)(w.Agg)); ok {
					totals[w][partition(row, w)] += v
				}
			}
		}
	}
	for _, row := range tb.rows {
		aggValue := valuesOf(row)
		window := func(w *query.WindowSum) any { return totals[w][partition(row, w)] }
		ex := make([]any, len(q.Output))
		for j, o := range q.Output {
			switch {
			case o.Key >= 0:
				ex[j] = row[colOf(plan.RoleKey, o.Key)]
				continue
			case o.Measure != nil:
				ex[j] = exactMeasure(o.Measure, aggValue, window)
			default:
				ex[j] = aggValue(o.Agg)
			}
			if x, ok := ex[j].(float64); ok && o.Round != nil {
				// round(agg, n) as DuckDB rounds: half away from zero.
				scale := math.Pow(10, float64(*o.Round))
				ex[j] = math.Round(x*scale) / scale
			}
		}
		out = append(out, ex)
	}
	return out
}

// exactMeasure evaluates a measure expression over exact aggregate values
// as DuckDB does: NULL in, NULL out. DuckDB's x / 0 is ±Inf or NaN, which
// the engine withholds (post.ReasonDenominator); no corpus query divides
// by an exact 0, and this gives NULL, which would fail the comparison.
func exactMeasure(e query.Expr, agg func(int) any, window func(*query.WindowSum) any) any {
	switch x := e.(type) {
	case *query.AggRef:
		return agg(x.Agg)
	case *query.WindowSum:
		return window(x)
	case *query.Literal:
		v, _ := toFloat64(x.Value)
		return v
	case *query.Arith:
		l, okL := toFloat64(exactMeasure(x.L, agg, window))
		r, okR := toFloat64(exactMeasure(x.R, agg, window))
		if !okL || !okR {
			return nil
		}
		switch x.Op {
		case "+":
			return l + r
		case "-":
			return l - r
		case "*":
			return l * r
		case "/":
			if r == 0 {
				return nil
			}
			return l / r
		}
	}
	return nil
}

// listStatistic computes a quantile (DuckDB's quantile_cont), the sample
// standard deviation or the sample variance of vals; nil (SQL NULL) when
// there are too few values.
func listStatistic(a plan.Agg, vals []float64) any {
	n := len(vals)
	if a.Kind == query.AggQuantile {
		if n == 0 {
			return nil
		}
		slices.Sort(vals)
		rn := float64(n-1) * a.P
		lo, hi := math.Floor(rn), math.Ceil(rn)
		vlo, vhi := vals[int(lo)], vals[int(hi)]
		return vlo + (rn-lo)*(vhi-vlo)
	}
	if n < 2 {
		return nil
	}
	var mean float64
	for _, v := range vals {
		mean += v
	}
	mean /= float64(n)
	var ss float64
	for _, v := range vals {
		ss += (v - mean) * (v - mean)
	}
	variance := ss / float64(n-1)
	if a.Kind == query.AggStddev {
		return math.Sqrt(variance)
	}
	return variance
}

// number converts a scanned numeric value to float64.
func number(t testing.TB, v any) float64 {
	t.Helper()
	f, ok := toFloat64(v)
	if !ok {
		t.Fatalf("value %#v is not a number", v)
	}
	return f
}

// numbers converts a scanned LIST(DOUBLE) to a slice.
func numbers(t testing.TB, v any) []float64 {
	t.Helper()
	list, ok := v.([]any)
	if !ok && v != nil {
		t.Fatalf("value %#v is not a list", v)
	}
	out := make([]float64, 0, len(list))
	for _, x := range list {
		out = append(out, number(t, x))
	}
	return out
}

// toFloat64 converts any numeric value duckdb-go scans to float64.
func toFloat64(v any) (float64, bool) {
	switch v := v.(type) {
	case int8:
		return float64(v), true
	case int16:
		return float64(v), true
	case int32:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint8:
		return float64(v), true
	case uint16:
		return float64(v), true
	case uint32:
		return float64(v), true
	case uint64:
		return float64(v), true
	case float32:
		return float64(v), true
	case float64:
		return v, true
	case *big.Int:
		f, _ := new(big.Float).SetInt(v).Float64()
		return f, true
	case duckdb.Decimal:
		return v.Float64(), true
	}
	return 0, false
}

// canonical renders a key value so that equal values of the two sides (and
// of the plan's public domains) compare equal: numbers in shortest form,
// whole numbers without a fraction, dates as YYYY-MM-DD.
func canonical(v any) string {
	if v == nil {
		return "NULL"
	}
	if f, ok := toFloat64(v); ok {
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return strconv.FormatInt(int64(f), 10)
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		if v.Equal(v.Truncate(24 * time.Hour)) {
			return v.UTC().Format(time.DateOnly)
		}
		return v.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%T:%v", v, v)
}

// rowComparer compares result rows of one query: keys exactly, counts
// exactly, other statistics within a relative tolerance.
type rowComparer struct {
	q *query.Query
	p *plan.Plan
}

// relTol is the relative tolerance of floating-point statistics: the plan
// sums partials in another order, and avg adds back the bounds' midpoint.
const relTol = 1e-9

// key is the row's visible group key (the output columns that are keys).
func (c rowComparer) key(row []any) string {
	var parts []string
	for j, o := range c.q.Output {
		if o.Key >= 0 {
			parts = append(parts, canonical(row[j]))
		}
	}
	return strings.Join(parts, "|")
}

// equal reports whether rows a and b hold the same values.
func (c rowComparer) equal(a, b []any) bool {
	for j, o := range c.q.Output {
		if o.Hidden {
			break // what only HAVING or ORDER BY read (last) is not in the plain result
		}
		if o.Key >= 0 {
			if canonical(a[j]) != canonical(b[j]) {
				return false
			}
			continue
		}
		kind := query.AggAvg // a measure expression: a number, compared within relTol
		if o.Measure == nil {
			kind = c.q.Aggs[o.Agg].Kind
		}
		if !c.equalValue(kind, a[j], b[j]) {
			return false
		}
	}
	return true
}

func (c rowComparer) equalValue(kind query.AggKind, a, b any) bool {
	fa, okA := toFloat64(a)
	fb, okB := toFloat64(b)
	switch {
	case a == nil && b == nil:
		return true
	case kind == query.AggSum && (a == nil && okB && fb == 0 || b == nil && okA && fa == 0):
		// sum over no non-NULL value: SQL's NULL, the plan's 0.
		return true
	case !okA || !okB:
		return false
	case kind == query.AggCountStar || kind == query.AggCount || kind == query.AggCountDistinct:
		return fa == fb
	}
	return math.Abs(fa-fb) <= relTol*math.Max(1, math.Max(math.Abs(fa), math.Abs(fb)))
}

// outsideDomain reports whether a result row has a visible key whose value
// lies outside the key's public domain: the plan drops such rows before
// grouping. A NULL counts as outside when the domain has no NULL group,
// except under grouping sets, where NULL also marks a margin.
func (c rowComparer) outsideDomain(row []any) bool {
	for j, o := range c.q.Output {
		if o.Key < 0 {
			continue
		}
		dom := c.p.Keys[o.Key].Domain
		if dom == nil {
			continue
		}
		if row[j] == nil && c.q.GroupingSets != nil {
			continue
		}
		v := canonical(row[j])
		if !slices.ContainsFunc(dom, func(d any) bool { return canonical(d) == v }) {
			return true
		}
	}
	return false
}

// matchRows pairs each row of want with an equal row of got (same visible
// key, equal values), each got row used once, and returns the rows of
// either side left unpaired.
func matchRows(want, got [][]any, c rowComparer) (unmatchedWant, unmatchedGot [][]any) {
	byKey := map[string][]int{}
	for i, r := range got {
		k := c.key(r)
		byKey[k] = append(byKey[k], i)
	}
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for _, i := range byKey[c.key(w)] {
			if !used[i] && c.equal(w, got[i]) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			unmatchedWant = append(unmatchedWant, w)
		}
	}
	for i, r := range got {
		if !used[i] {
			unmatchedGot = append(unmatchedGot, r)
		}
	}
	return unmatchedWant, unmatchedGot
}
