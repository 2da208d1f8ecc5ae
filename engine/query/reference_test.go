package query

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
)

// TestReferenceCoversChecker requires the reference to list exactly the
// names the checker's maps accept: every scalarFuncs key as a function or
// a synonym, every numericAggregates key as an aggregate name (beside the
// counts of personCounts).
func TestReferenceCoversChecker(t *testing.T) {
	ref := AllowedSQL()
	var listed []string
	for _, f := range ref.Functions {
		listed = append(listed, f.Name)
		listed = append(listed, f.Synonyms...)
		if f.Signature == "" || f.Doc == "" || f.Example == "" {
			t.Errorf("function %s is not documented: %+v", f.Name, f)
		}
	}
	sort.Strings(listed)
	accepted := slices.Sorted(maps.Keys(scalarFuncs))
	if !slices.Equal(listed, accepted) {
		t.Errorf("reference lists functions %v\nchecker accepts        %v", listed, accepted)
	}
	if len(funcDocs) != len(FuncNames) {
		t.Errorf("%d function docs for %d FuncNames", len(funcDocs), len(FuncNames))
	}
	var aggs []string
	for _, a := range ref.Aggregates {
		if !personCounts[a.Name] {
			aggs = append(aggs, a.Name)
			aggs = append(aggs, a.Synonyms...)
		}
	}
	sort.Strings(aggs)
	if want := slices.Sorted(maps.Keys(numericAggregates)); !slices.Equal(aggs, want) {
		t.Errorf("reference lists numeric aggregates %v\nchecker accepts                %v", aggs, want)
	}
	for _, name := range slices.Collect(maps.Keys(aggregateNames)) {
		inRefused := false
		for _, r := range ref.Refused {
			inRefused = inRefused || slices.Contains(r.Names, name)
		}
		allowed := personCounts[name] || numericAggregates[name] != ""
		if allowed == inRefused {
			t.Errorf("aggregate %s: allowed %v, listed as refused %v", name, allowed, inRefused)
		}
	}
	var queryCodes int
	for _, c := range refusal.Codes() {
		if c.Kind() == refusal.KindQuery {
			queryCodes++
		}
	}
	if len(ref.Codes) != queryCodes || queryCodes == 0 {
		t.Errorf("reference has %d codes, the registry %d query codes", len(ref.Codes), queryCodes)
	}
}

// TestNumericAggregatesSwitch checks that each numeric aggregate name is
// accepted by aggregate() over a bounded column and checks into its kind.
func TestNumericAggregatesSwitch(t *testing.T) {
	for name, kind := range numericAggregates {
		sql := fmt.Sprintf("SELECT %s(ddd) AS x FROM lmr", name)
		if name == "quantile_cont" || name == "quantile" {
			sql = fmt.Sprintf("SELECT %s(ddd, 0.5) AS x FROM lmr", name)
		}
		q, err := testParser.Compile(context.Background(), sql, allDatasets())
		if err != nil {
			t.Errorf("%s: %v", sql, err)
			continue
		}
		if len(q.Aggs) != 1 || q.Aggs[0].Kind != kind {
			t.Errorf("%s: aggregates %+v, want kind %s", sql, q.Aggs, kind)
		}
	}
}

// TestReferenceExamples runs every example of the reference through the
// checker, and every refused name through a probe query that must be
// refused with the listed code and hint.
func TestReferenceExamples(t *testing.T) {
	ref := AllowedSQL()
	cat := allDatasets()
	ctx := context.Background()
	for _, f := range slices.Concat(ref.Functions, ref.Aggregates) {
		if _, err := testParser.Compile(ctx, f.Example, cat); err != nil {
			t.Errorf("example of %s refused: %s: %v", f.Name, f.Example, err)
		}
	}
	for _, r := range ref.Refused {
		for _, name := range r.Names {
			probe := fmt.Sprintf("SELECT %s(ddd) AS x FROM lmr", name)
			if r.Code == refusal.FunctionNotAllowed.String() {
				probe = fmt.Sprintf("SELECT count(*) AS n FROM lmr WHERE %s() IS NOT NULL", name)
			}
			_, err := testParser.Compile(ctx, probe, cat)
			e, ok := refusal.As(err)
			if !ok {
				t.Errorf("%s: not refused: %v", probe, err)
				continue
			}
			if e.Code.String() != r.Code || e.Hint != r.Hint {
				t.Errorf("%s: refused %s (hint %q), reference says %s (hint %q)", probe, e.Code, e.Hint, r.Code, r.Hint)
			}
		}
	}
}
