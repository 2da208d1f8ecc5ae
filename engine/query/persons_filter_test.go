package query

import (
	"reflect"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
)

// TestPersonsFilter: count(DISTINCT pid) FILTER (WHERE c) and
// count(DISTINCT CASE WHEN c THEN pid END) are one person count whose Arg
// is c; a FILTER on the CASE form adds its condition; CASE forms that
// are not "the person key or NULL" stay refused.
func TestPersonsFilter(t *testing.T) {
	compile := func(sql string) (*Query, error) { return testParser.Compile(t.Context(), sql, allDatasets()) }
	q, err := compile(`SELECT count(DISTINCT pid) FILTER (WHERE icd10 LIKE 'E11%') AS a,
	                          count(DISTINCT CASE WHEN icd10 LIKE 'E11%' THEN pid END) AS b,
	                          count(DISTINCT CASE WHEN icd10 LIKE 'E11%' THEN npr.pid ELSE NULL END) AS c,
	                          count(DISTINCT pid) AS d FROM npr`)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Aggs) != 2 || q.Output[0].Agg != 0 || q.Output[1].Agg != 0 || q.Output[2].Agg != 0 || q.Output[3].Agg != 1 {
		t.Fatalf("aggregates %+v, output %+v: want the three conditional counts to be one aggregate", q.Aggs, q.Output)
	}
	a := q.Aggs[0]
	if a.Kind != AggCountDistinct || !reflect.DeepEqual(a.Arg, &Like{X: &ColumnRef{Table: "npr", Dataset: "npr", Column: "icd10", Type: TypeString}, Pattern: &Literal{Value: "E11%", Type: TypeString}}) {
		t.Errorf("aggregate %+v (arg %#v), want count_persons with the condition as its argument", a, a.Arg)
	}
	if q.Aggs[1].Kind != AggCountDistinct || q.Aggs[1].Arg != nil {
		t.Errorf("count(DISTINCT pid) is %+v, want no argument", q.Aggs[1])
	}

	both, err := compile(`SELECT count(DISTINCT CASE WHEN icd10 LIKE 'E11%' THEN pid END) FILTER (WHERE contact_type = 'inpatient') AS n FROM npr`)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := both.Aggs[0].Arg.(*Logical); !ok || l.Op != "AND" || len(l.Args) != 2 {
		t.Errorf("FILTER on the CASE form has argument %#v, want the AND of both conditions", both.Aggs[0].Arg)
	}

	for sql, code := range map[string]refusal.Code{
		`SELECT count(DISTINCT CASE WHEN icd10 LIKE 'E11%' THEN hospital END) FROM npr`:               refusal.CountDistinctNotPerson,
		`SELECT count(DISTINCT CASE WHEN icd10 LIKE 'E11%' THEN pid ELSE 0 END) FROM npr`:             refusal.CountDistinctNotPerson,
		`SELECT count(DISTINCT CASE WHEN icd10 LIKE 'E11%' THEN pid WHEN true THEN pid END) FROM npr`: refusal.CountDistinctNotPerson,
		`SELECT count(DISTINCT pid) FILTER (WHERE pid > 3) FROM npr`:                                  refusal.PersonKeyAggregated,
	} {
		if _, err := compile(sql); refusal.CodeOf(err) != code {
			t.Errorf("%s: %v, want %s", sql, err, code)
		}
	}
}
