package query

import (
	"reflect"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
)

func TestMeasureExpressions(t *testing.T) {
	compile := func(t *testing.T, sql string) *Query {
		t.Helper()
		q, err := testParser.Compile(t.Context(), sql, allDatasets())
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(q, allDatasets()); err != nil {
			t.Fatal(err)
		}
		return q
	}
	t.Run("ratio with a selected and a hidden aggregate", func(t *testing.T) {
		q := compile(t, "SELECT year(contact_date) AS y, count(DISTINCT pid) AS patients, count(*) * 1.0 / count(DISTINCT pid) AS per_patient FROM npr GROUP BY 1")
		if len(q.Aggs) != 2 || q.Aggs[0].Kind != AggCountDistinct || q.Aggs[1].Kind != AggCountStar {
			t.Fatalf("Aggs %+v", q.Aggs)
		}
		// The selected aggregate keeps its output name; the hidden one is
		// named for the measure that reads it.
		if q.Aggs[0].Name != "patients" || q.Aggs[1].Name != "per_patient/count" {
			t.Errorf("aggregate names %q, %q", q.Aggs[0].Name, q.Aggs[1].Name)
		}
		o := q.Output[2]
		want := &Arith{Op: "/", Type: TypeNumber,
			L: &Arith{Op: "*", Type: TypeNumber, L: &AggRef{Agg: 1}, R: &Literal{Value: 1.0, Type: TypeNumber}},
			R: &AggRef{Agg: 0}}
		if o.Name != "per_patient" || o.Key != -1 || o.Agg != -1 || !reflect.DeepEqual(o.Measure, want) {
			t.Errorf("output %+v, measure %#v", o, o.Measure)
		}
		if got := MeasureAggs(o.Measure); !reflect.DeepEqual(got, []int{1, 0}) {
			t.Errorf("MeasureAggs %v", got)
		}
	})
	t.Run("unary minus, casts, FILTER and round", func(t *testing.T) {
		q := compile(t, "SELECT round(100.0 * count(*) FILTER (WHERE contact_type = 'inpatient') / count(*), 1) AS pct, -sum(length_of_stay_days)::DOUBLE AS neg, count(*) / 12 FROM npr")
		if len(q.Aggs) != 3 {
			t.Fatalf("Aggs %+v", q.Aggs)
		}
		if o := q.Output[0]; o.Round == nil || *o.Round != 1 || o.Measure == nil {
			t.Errorf("round(measure, 1): %+v", o)
		}
		if m, ok := q.Output[1].Measure.(*Arith); !ok || m.Op != "-" || !reflect.DeepEqual(m.R, &AggRef{Agg: 2}) {
			t.Errorf("unary minus: %#v", q.Output[1].Measure)
		}
		if q.Output[2].Name != "expr" || outputType(q, 2) != TypeNumber {
			t.Errorf("unnamed measure %+v", q.Output[2])
		}
	})
	t.Run("ORDER BY an expression of aggregates", func(t *testing.T) {
		q := compile(t, "SELECT contact_type, count(*) * 1.0 / count(DISTINCT pid) AS r FROM npr GROUP BY 1 ORDER BY count(*) * 1.0 / count(DISTINCT pid) DESC, sum(length_of_stay_days) / count(*)")
		// The first is the selected measure; the second a hidden one.
		if len(q.OrderBy) != 2 || q.OrderBy[0].Column != 1 || q.OrderBy[1].Column != 2 {
			t.Fatalf("ORDER BY %+v", q.OrderBy)
		}
		if o := q.Output[2]; !o.Hidden || o.Measure == nil || o.Name != "order_by/expr" || len(q.Aggs) != 3 {
			t.Errorf("hidden output %+v, aggregates %+v", o, q.Aggs)
		}
	})
	t.Run("HAVING on the alias of round(agg, n) compares the rounded value", func(t *testing.T) {
		q := compile(t, "SELECT contact_type, round(avg(length_of_stay_days), 1) AS m FROM npr GROUP BY 1 HAVING m > 4.12 AND avg(length_of_stay_days) < 9")
		and, ok := q.Having.(*Logical)
		if !ok || len(and.Args) != 2 {
			t.Fatalf("HAVING %#v", q.Having)
		}
		alias, agg := and.Args[0].(*Compare).L.(*OutputRef), and.Args[1].(*Compare).L.(*OutputRef)
		if alias.Round == nil || *alias.Round != 1 || agg.Round != nil {
			t.Errorf("alias ref %+v, aggregate ref %+v", alias, agg)
		}
	})
	t.Run("HAVING and ORDER BY name a measure", func(t *testing.T) {
		q := compile(t, "SELECT contact_type, sum(length_of_stay_days) / count(DISTINCT pid) AS days FROM npr GROUP BY 1 HAVING days > 2 ORDER BY days DESC")
		if len(q.OrderBy) != 1 || q.OrderBy[0].Column != 1 || q.Having == nil {
			t.Errorf("ORDER BY %+v, HAVING %#v", q.OrderBy, q.Having)
		}
	})
	for _, tc := range []struct {
		sql  string
		code refusal.Code
	}{
		{"SELECT count(*) * year(contact_date) AS c FROM npr GROUP BY year(contact_date)", refusal.AggregateInExpression},
		{"SELECT abs(sum(ddd) - 1) AS c FROM lmr", refusal.AggregateInExpression},
		{"SELECT sum(ddd) % 7 AS c FROM lmr", refusal.AggregateInExpression},
		{"SELECT count(*) || 'x' AS c FROM lmr", refusal.OperatorNotAllowed},
		{"SELECT CAST(count(*) AS VARCHAR) AS c FROM lmr", refusal.AggregateInExpression},
		{"SELECT count(*) / 'a' AS c FROM lmr", refusal.AggregateInExpression},
		{"SELECT sum(ddd) / (SELECT count(*) FROM lmr) AS c FROM lmr", refusal.Subquery},
		{"SELECT sum(min(ddd)) / 2 AS c FROM lmr", refusal.NestedAggregate},
		{"SELECT sum(ddd) / 2 AS c FROM lmr GROUP BY 1", refusal.BadPosition},
	} {
		if _, err := testParser.Compile(t.Context(), tc.sql, allDatasets()); refusal.CodeOf(err) != tc.code {
			t.Errorf("%s: got %v, want %s", tc.sql, err, tc.code)
		}
	}
}
