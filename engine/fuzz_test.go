package engine

import (
	"context"
	"testing"

	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/internal/testkit"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// maxTotalsKeys is the most keys FuzzPlan also plans with totals (every
// subset of the keys as a grouping set, as Request.Totals asks).
const maxTotalsKeys = 4

// FuzzPlan runs arbitrary SQL through the checker and the planner with the
// shipped policy and every dataset: whatever the checker accepts must be
// planned or refused with a *refusal.Error (e.g. domain_too_large), with
// and without totals, and every plan's SQL must prepare (parse, bind and
// plan) in the locked-down execution database holding the testdata
// extract. A plan that does not prepare would fail after the budget was
// debited. Nothing may panic. Seeded with both query corpora.
func FuzzPlan(f *testing.F) {
	for _, path := range []string{acceptedCorpus, rejectedCorpus} {
		for _, c := range testkit.ReadQueries(f, path) {
			f.Add(c.SQL())
		}
	}
	ctx := context.Background()
	pol, parser, _ := shippedChecker(f)
	db, err := exec.Open(ctx, &exec.Options{Path: exec.ExtractsPath(loadedDir), ReadOnly: true, Threads: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	cat := query.NewCatalog(pol, datasetNames(pol))

	f.Fuzz(func(t *testing.T, text string) {
		q, err := parser.Compile(ctx, text, cat)
		if err != nil {
			if _, ok := refusal.As(err); !ok {
				t.Fatalf("Compile: an error that is not a refusal: %v", err)
			}
			return
		}
		variants := []bool{false}
		if q.GroupingSets == nil && len(q.Keys) > 0 && len(q.Keys) <= maxTotalsKeys {
			variants = append(variants, true)
		}
		for _, totals := range variants {
			p, err := plan.Bound(q, pol, &plan.Options{Seed: 1, Totals: totals})
			if err != nil {
				if _, ok := refusal.As(err); !ok {
					t.Fatalf("Bound (totals %v): an error that is not a refusal: %v", totals, err)
				}
				continue
			}
			if err := db.Prepare(ctx, p.SQL); err != nil {
				t.Fatalf("the plan (totals %v) does not prepare: %v\n%s", totals, err, p.SQL)
			}
		}
	})
}

// TestOverflowingNumberIsRefused: DuckDB serialises a numeric constant
// that overflows a DOUBLE (1e400) as a bare Infinity, which is not JSON;
// the checker must refuse it as a bad literal, not fail with an internal
// error. (Also kept as FuzzPlan inputs in testdata/fuzz/FuzzPlan.)
func TestOverflowingNumberIsRefused(t *testing.T) {
	ctx := t.Context()
	_, parser, cat := shippedChecker(t)
	tests := []struct {
		desc, sql string
	}{
		{"positive", "SELECT count(*) FROM npr WHERE length_of_stay_days > 1e400"},
		{"negative", "SELECT count(*) FROM npr WHERE length_of_stay_days > -1e400"},
		{"in a key", "SELECT length_of_stay_days * 1e999 AS x, count(*) FROM npr GROUP BY 1"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := parser.Compile(ctx, tc.sql, cat)
			if code := refusal.CodeOf(err); code != refusal.BadLiteral {
				t.Fatalf("Compile = %v (code %q), want refusal %s", err, code, refusal.BadLiteral)
			}
		})
	}
}

// shippedChecker loads the shipped policy and a parser (closed when tb
// ends), and the catalog of all the policy's datasets.
func shippedChecker(tb testing.TB) (*policies.Policy, *query.Parser, *query.Catalog) {
	tb.Helper()
	pol, err := policies.Load(policyPath)
	if err != nil {
		tb.Fatal(err)
	}
	parser, err := query.NewParser(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { parser.Close() })
	return pol, parser, query.NewCatalog(pol, datasetNames(pol))
}
