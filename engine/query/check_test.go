package query

import (
	"reflect"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

func TestOutputNames(t *testing.T) {
	tests := []struct {
		desc     string
		sql      string
		wantOut  []string
		wantKeys []string
	}{
		{
			desc: "derived names",
			sql: `SELECT year(contact_date), date_part('week', contact_date), left(icd10, 1), length_of_stay_days + 1,
			             count(icd10), quantile_cont(length_of_stay_days, 0.995), count(upper(icd10)), count(*),
			             count(DISTINCT pid), sum(length_of_stay_days), avg(length_of_stay_days), variance(length_of_stay_days)
			      FROM npr GROUP BY 1, 2, 3, 4`,
			wantOut: []string{"year", "week", "left", "key", "count_icd10", "p99_5_length_of_stay_days", "count", "count_2",
				"persons", "sum_length_of_stay_days", "avg_length_of_stay_days", "variance_length_of_stay_days"},
			wantKeys: []string{"year", "week", "left", "key"},
		},
		{
			desc:     "date names and counts of the person key",
			sql:      "SELECT dayname(contact_date), monthname(contact_date), count(pid), approx_count_distinct(pid) FROM npr GROUP BY 1, 2",
			wantOut:  []string{"dayname", "monthname", "count", "persons"},
			wantKeys: []string{"dayname", "monthname"},
		},
		{
			desc:     "an alias takes the name; the derived name gets a suffix",
			sql:      "SELECT count(*) AS year, year(contact_date) FROM npr GROUP BY 2",
			wantOut:  []string{"year", "year_2"},
			wantKeys: []string{"year_2"},
		},
		{
			desc:     "a key that is not selected gets a name that is not taken",
			sql:      "SELECT hospital AS year, count(*) FROM npr GROUP BY hospital, year(contact_date)",
			wantOut:  []string{"year", "count"},
			wantKeys: []string{"year", "year_2"},
		},
		{
			desc:     "the same key selected twice",
			sql:      "SELECT sex AS a, sex AS b, count(*) FROM population GROUP BY sex",
			wantOut:  []string{"a", "b", "count"},
			wantKeys: []string{"a"},
		},
		{
			desc:     "median and the 0.5 quantile are one aggregate",
			sql:      "SELECT median(ddd), quantile_cont(ddd, 0.5) AS q FROM lmr",
			wantOut:  []string{"median_ddd", "q"},
			wantKeys: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			q, err := testParser.Compile(t.Context(), tc.sql, allDatasets())
			if err != nil {
				t.Fatal(err)
			}
			var out, keys []string
			for _, o := range q.Output {
				out = append(out, o.Name)
			}
			for _, k := range q.Keys {
				keys = append(keys, k.Name)
			}
			if !reflect.DeepEqual(out, tc.wantOut) || !reflect.DeepEqual(keys, tc.wantKeys) {
				t.Errorf("outputs %q keys %q, want %q and %q", out, keys, tc.wantOut, tc.wantKeys)
			}
			if err := validate(q, allDatasets()); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestGroupByForms checks that the ways of naming a key give one model.
func TestGroupByForms(t *testing.T) {
	base := "SELECT year(contact_date) AS y, count(*) AS n FROM npr "
	want, err := testParser.Compile(t.Context(), base+"GROUP BY year(contact_date)", allDatasets())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{
		"GROUP BY 1",
		"GROUP BY y",
		"GROUP BY Y",
		"GROUP BY extract(year FROM contact_date)",
		"GROUP BY date_part('year', contact_date)",
		"GROUP BY year(npr.contact_date)",
		"GROUP BY ALL",
		"GROUP BY 1, y, year(contact_date)",
	} {
		t.Run(g, func(t *testing.T) {
			got, err := testParser.Compile(t.Context(), base+g, allDatasets())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s gives %+v, want %+v", g, got, want)
			}
		})
	}
}

func TestLiterals(t *testing.T) {
	los := &ColumnRef{Table: "npr", Dataset: "npr", Column: "length_of_stay_days", Type: TypeNumber}
	date := &ColumnRef{Table: "npr", Dataset: "npr", Column: "contact_date", Type: TypeDate}
	eq := func(l, r Expr) Expr { return &Compare{Op: "=", L: l, R: r} }
	lit := func(v any, typ Type) *Literal { return &Literal{Value: v, Type: typ} }
	plus := func(d string, iv string) Expr {
		return eq(date, &Cast{X: &Arith{Op: "+", L: lit(d, TypeDate), R: lit(iv, TypeInterval), Type: TypeDate}, To: TypeDate})
	}
	tests := []struct {
		where string
		want  Expr
	}{
		{"length_of_stay_days = 1.5", eq(los, lit(1.5, TypeNumber))},
		{"length_of_stay_days = -3", eq(los, lit(int64(-3), TypeInteger))},
		{"length_of_stay_days = -1.25", eq(los, lit(-1.25, TypeNumber))},
		{"length_of_stay_days = 12345678901234", eq(los, lit(int64(12345678901234), TypeInteger))},
		{"length_of_stay_days = 1e3", eq(los, &Literal{Value: 1000.0, Type: TypeNumber, Double: true})},
		{"length_of_stay_days = 0.1::DOUBLE", eq(los, &Literal{Value: 0.1, Type: TypeNumber, Double: true})},
		{"length_of_stay_days = '7'::INTEGER", eq(los, lit(int64(7), TypeInteger))},
		{"length_of_stay_days = 1.23456789012345678901234", eq(los, lit(1.2345678901234568, TypeNumber))},
		{"length_of_stay_days = NULL", eq(los, lit(nil, TypeNull))},
		{"TRUE", lit(true, TypeBool)},
		{"false::BOOLEAN", lit(false, TypeBool)},
		{"contact_date = DATE '2020-02-29'", eq(date, lit("2020-02-29", TypeDate))},
		{"contact_date = '2020-02-29'::DATE", eq(date, lit("2020-02-29", TypeDate))},
		{"contact_date = CAST(' 2020-02-29 ' AS DATE)", eq(date, lit("2020-02-29", TypeDate))},
		{"contact_date = '2020-02-29'", eq(date, lit("2020-02-29", TypeDate))},
		{"contact_date = NULL::DATE", eq(date, lit(nil, TypeDate))},
		{"contact_date = DATE '2020-01-01' + INTERVAL 2 WEEKS", plus("2020-01-01", "2 weeks")},
		{"contact_date = DATE '2020-01-01' + INTERVAL 1 QUARTER", plus("2020-01-01", "1 quarter")},
		{"contact_date = DATE '2020-01-01' + INTERVAL '1 day'", plus("2020-01-01", "1 day")},
		{"contact_date = DATE '2020-01-01' + INTERVAL '10 Years'", plus("2020-01-01", "10 years")},
		{"contact_date = DATE '2020-01-01' + 30", eq(date, &Arith{Op: "+", L: lit("2020-01-01", TypeDate), R: lit(int64(30), TypeInteger), Type: TypeDate})},
		{"icd10 = 'it''s'", eq(&ColumnRef{Table: "npr", Dataset: "npr", Column: "icd10", Type: TypeString}, lit("it's", TypeString))},
	}
	for _, tc := range tests {
		t.Run(tc.where, func(t *testing.T) {
			q, err := testParser.Compile(t.Context(), "SELECT count(*) FROM npr WHERE "+tc.where, allDatasets())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(q.Where, tc.want) {
				t.Errorf("WHERE %s = %#v, want %#v", tc.where, q.Where, tc.want)
			}
		})
	}
}

func TestExpressionTypes(t *testing.T) {
	tests := []struct {
		key  string
		want Type
	}{
		{"length_of_stay_days + 1", TypeNumber},
		{"year(contact_date) + 1", TypeInteger},
		{"year(contact_date) / 2", TypeNumber},
		{"year(contact_date) % 2", TypeInteger},
		{"contact_date - DATE '2020-01-01'", TypeInteger},
		{"contact_date + 7", TypeDate},
		{"date_trunc('month', contact_date)", TypeDate},
		{"date_diff('month', DATE '2010-01-01', contact_date)", TypeInteger},
		{"CASE WHEN length_of_stay_days > 3 THEN 1 ELSE 2.5 END", TypeNumber},
		{"CASE WHEN length_of_stay_days > 3 THEN 'long' END", TypeString},
		{"coalesce(contact_date, '2020-01-01')", TypeDate},
		{"greatest(year(contact_date), 2015)", TypeInteger},
		{"floor(length_of_stay_days)", TypeNumber},
		{"abs(year(contact_date) - 2020)", TypeInteger},
		{"CAST(year(contact_date) AS VARCHAR)", TypeString},
		{"icd10 LIKE 'E%'", TypeBool},
		{"substring(icd10, 1, 3)", TypeString},
		{"length(icd10)", TypeInteger},
		{"year(contact_date) // 2", TypeInteger},
		{"length_of_stay_days // 2", TypeNumber},
		{"year(contact_date) // 2.5", TypeNumber},
		{"round(year(contact_date), -1)", TypeInteger},
		{"round(length_of_stay_days)", TypeNumber},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			q, err := testParser.Compile(t.Context(), "SELECT "+tc.key+" AS k, count(*) FROM npr GROUP BY 1", allDatasets())
			if err != nil {
				t.Fatal(err)
			}
			if got := q.Keys[0].Expr.ExprType(); got != tc.want {
				t.Errorf("type %s, want %s (%#v)", got, tc.want, q.Keys[0].Expr)
			}
		})
	}
}

// withoutBounds returns a copy of the test policy where npr's length of
// stay has no bounds.
func withoutBounds() *policies.Policy {
	p := *testPolicy
	p.Datasets = map[string]*policies.Dataset{}
	for n, d := range testPolicy.Datasets {
		p.Datasets[n] = d
	}
	npr := *testPolicy.Datasets["npr"]
	npr.Columns = nil
	for _, c := range testPolicy.Datasets["npr"].Columns {
		cc := *c
		if cc.Name == "length_of_stay_days" {
			cc.Bounds = nil
		}
		npr.Columns = append(npr.Columns, &cc)
	}
	p.Datasets["npr"] = &npr
	return &p
}

func TestUnboundedColumn(t *testing.T) {
	cat := NewCatalog(withoutBounds(), []string{"npr"})
	tests := []struct {
		sql      string
		wantCode refusal.Code
	}{
		// SmartNoise sn-068 / sn-069: SUM over a column without bounds.
		{"SELECT sum(length_of_stay_days) FROM npr", refusal.AggregateUnbounded},
		{"SELECT hospital, avg(length_of_stay_days) FROM npr GROUP BY hospital", refusal.AggregateUnbounded},
		{"SELECT median(length_of_stay_days) FROM npr", refusal.AggregateUnbounded},
		// SmartNoise sn-070 / sn-071: grouping and counting need no bounds.
		{"SELECT length_of_stay_days, count(*) FROM npr GROUP BY length_of_stay_days", refusal.Code{}},
		{"SELECT count(length_of_stay_days) FROM npr", refusal.Code{}},
	}
	for _, tc := range tests {
		t.Run(tc.sql, func(t *testing.T) {
			_, err := testParser.Compile(t.Context(), tc.sql, cat)
			if got := refusal.CodeOf(err); got != tc.wantCode || (tc.wantCode == (refusal.Code{}) && err != nil) {
				t.Fatalf("error %v, want code %q", err, tc.wantCode)
			}
		})
	}
}

func TestTooComplex(t *testing.T) {
	tests := []struct {
		desc string
		sql  string
	}{
		{"deep", "SELECT count(*) FROM npr WHERE length_of_stay_days" + strings.Repeat(" + 1", maxDepth+5) + " > 0"},
		{"wide", "SELECT count(*) FROM npr WHERE " + strings.Repeat("1 = 1 OR ", maxNodes/3+10) + "true"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := testParser.Compile(t.Context(), tc.sql, allDatasets())
			if code := refusal.CodeOf(err); code != refusal.QueryTooComplex {
				t.Fatalf("error %v, want %s", err, refusal.QueryTooComplex)
			}
		})
	}
}

func TestCheckBadInput(t *testing.T) {
	if _, err := Check(nil, allDatasets()); err == nil || refusal.CodeOf(err).String() != "" {
		t.Errorf("Check(nil): %v, want an internal error", err)
	}
	if _, err := Check(&AST{}, allDatasets()); err == nil || refusal.CodeOf(err).String() != "" {
		t.Errorf("Check(empty AST): %v, want an internal error", err)
	}
}

// TestOddJSON feeds hand-made parse trees to the checker: it must refuse
// them (or, for the control, accept), never panic.
func TestOddJSON(t *testing.T) {
	const countNpr = `{"type":"SELECT_NODE","select_list":[{"class":"FUNCTION","function_name":"count_star"}],"from_table":{"type":"BASE_TABLE","table_name":"npr"}`
	stmt := func(node string) string { return `{"error":false,"statements":[{"node":` + node + `}]}` }
	tests := []struct {
		desc   string
		json   string
		wantOK bool
	}{
		{"control", stmt(countNpr + `}`), true},
		{"not JSON", `{"error":`, false},
		{"array", `[]`, false},
		{"null", `null`, false},
		{"error without message", `{"error":true}`, false},
		{"statement not an object", `{"error":false,"statements":[1]}`, false},
		{"node not an object", `{"error":false,"statements":[{"node":5}]}`, false},
		{"unknown node type", stmt(`{"type":"MYSTERY_NODE"}`), false},
		{"select list an object", stmt(`{"type":"SELECT_NODE","select_list":{},"from_table":{"type":"BASE_TABLE","table_name":"npr"}}`), false},
		{"group set out of range", stmt(countNpr + `,"group_sets":[[99]]}`), false},
		{"group set not a list", stmt(countNpr + `,"group_sets":[7]}`), false},
		{"negative group set index", stmt(countNpr + `,"group_sets":[[-1]]}`), false},
		{"unknown modifier", stmt(countNpr + `,"modifiers":[{"type":"MYSTERY_MODIFIER"}]}`), false},
		{"unknown aggregate handling", stmt(countNpr + `,"aggregate_handling":"MYSTERY"}`), false},
		{"where of unknown class", stmt(countNpr + `,"where_clause":{"class":"MYSTERY"}}`), false},
		{"where a string", stmt(countNpr + `,"where_clause":"x"}`), false},
		{"column names not strings", stmt(countNpr + `,"where_clause":{"class":"COLUMN_REF","column_names":[1]}}`), false},
		{"constant without value", stmt(countNpr + `,"where_clause":{"class":"CONSTANT"}}`), false},
		{"constant of odd type", stmt(countNpr + `,"where_clause":{"class":"CONSTANT","value":{"type":{"id":"BLOB"},"value":"x"}}}`), false},
		{"integer constant a string", stmt(countNpr + `,"where_clause":{"class":"CONSTANT","value":{"type":{"id":"INTEGER"},"value":"x"}}}`), false},
		{"decimal without scale", stmt(countNpr + `,"where_clause":{"class":"CONSTANT","value":{"type":{"id":"DECIMAL"},"value":15}}}`), false},
		{"comparison without operands", stmt(countNpr + `,"where_clause":{"class":"COMPARISON","type":"COMPARE_EQUAL"}}`), false},
		{"conjunction of one", stmt(countNpr + `,"where_clause":{"class":"CONJUNCTION","type":"CONJUNCTION_AND","children":[{"class":"CONSTANT","value":{"type":{"id":"BOOLEAN"},"value":true}}]}}`), false},
		{"case without checks", stmt(countNpr + `,"where_clause":{"class":"CASE"}}`), false},
		{"cast without child", stmt(countNpr + `,"where_clause":{"class":"CAST","cast_type":{"id":"BOOLEAN"}}}`), false},
		{"function children not a list of objects", stmt(countNpr + `,"where_clause":{"class":"FUNCTION","function_name":"year","children":[3]}}`), false},
		{"interval function of a column", stmt(countNpr + `,"where_clause":{"class":"FUNCTION","function_name":"to_days","children":[{"class":"COLUMN_REF","column_names":["icd10"]}]}}`), false},
		{"order by without expression", stmt(countNpr + `,"modifiers":[{"type":"ORDER_MODIFIER","orders":[{"type":"ASCENDING"}]}]}`), false},
		{"join without sides", stmt(`{"type":"SELECT_NODE","select_list":[{"class":"FUNCTION","function_name":"count_star"}],"from_table":{"type":"JOIN","join_type":"INNER","ref_type":"REGULAR","using_columns":["pid"]}}`), false},
		{"limit a string", stmt(countNpr + `,"modifiers":[{"type":"LIMIT_MODIFIER","limit":"ten"}]}`), false},
		{"subquery in FROM without a query", stmt(`{"type":"SELECT_NODE","select_list":[{"class":"FUNCTION","function_name":"count_star"}],"from_table":{"type":"SUBQUERY"}}`), false},
		{"subquery in FROM a string", stmt(`{"type":"SELECT_NODE","select_list":[{"class":"FUNCTION","function_name":"count_star"}],"from_table":{"type":"SUBQUERY","subquery":"x"}}`), false},
		{"subquery in FROM of a string node", stmt(`{"type":"SELECT_NODE","select_list":[{"class":"FUNCTION","function_name":"count_star"}],"from_table":{"type":"SUBQUERY","subquery":{"node":"x"}}}`), false},
		{"subquery in FROM with a WITH list not a list", stmt(`{"type":"SELECT_NODE","cte_map":{"map":7},"select_list":[{"class":"FUNCTION","function_name":"count_star"}],"from_table":{"type":"SUBQUERY","alias":5,"subquery":{"node":` + countNpr + `}}}}`), false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			a, err := decodeAST([]byte(tc.json))
			if err == nil {
				var q *Query
				q, err = Check(a, allDatasets())
				if err == nil {
					if verr := validate(q, allDatasets()); verr != nil {
						t.Fatalf("accepted an inconsistent model: %v", verr)
					}
				}
			}
			if (err == nil) != tc.wantOK {
				t.Fatalf("error %v, want ok=%v", err, tc.wantOK)
			}
		})
	}
}
