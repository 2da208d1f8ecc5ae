package query

import (
	"context"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/internal/testkit"
	"github.com/statgate/statgate/policies"
)

const (
	policyFile   = "../../policies/norway-synthetic.yaml"
	rejectedFile = "../../testdata/queries/rejected.txt"
	acceptedFile = "../../testdata/queries/accepted.txt"
)

// testParser is shared by the package's tests; it is safe for concurrent use.
var (
	testParser *Parser
	testPolicy *policies.Policy
)

func TestMain(m *testing.M) {
	var err error
	if testPolicy, err = policies.Load(policyFile); err != nil {
		fmt.Fprintln(os.Stderr, "loading the policy:", err)
		os.Exit(1)
	}
	if testParser, err = NewParser(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "opening the parser:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := testParser.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "closing the parser:", err)
		code = 1
	}
	os.Exit(code)
}

// allDatasets is a catalog of every dataset of the policy.
func allDatasets() *Catalog {
	var names []string
	for n := range testPolicy.Datasets {
		names = append(names, n)
	}
	return NewCatalog(testPolicy, names)
}

// projectCatalog is the catalog of one project of the policy.
func projectCatalog(t testing.TB, project string) *Catalog {
	t.Helper()
	p := testPolicy.Projects[project]
	if p == nil {
		t.Fatalf("the policy has no project %s", project)
	}
	return NewCatalog(testPolicy, p.Datasets)
}

// corpusCatalog returns the catalog a corpus block is checked against:
// its project's, or every dataset's.
func corpusCatalog(t testing.TB, c testkit.Query) *Catalog {
	if c.Project == "" {
		return allDatasets()
	}
	return projectCatalog(t, c.Project)
}

// validateDerived checks one derived table: datasets of the project, each
// column of an allowed kind over their columns, with consistent bounds.
func validateDerived(d *Derived, c *Catalog) error {
	if c.policy.Datasets[d.Name] != nil || len(d.From) == 0 || d.PersonKey == "" {
		return fmt.Errorf("derived %s: named like a dataset, without FROM or without a person key", d.Name)
	}
	inner := &Query{From: d.From, Where: d.Where}
	for _, t := range d.From {
		if c.policy.Datasets[t.Dataset] == nil || !c.allowed[t.Dataset] {
			return fmt.Errorf("derived %s reads %s, not a dataset of the project", d.Name, t.Dataset)
		}
	}
	for _, col := range d.Columns {
		switch col.Kind {
		case DerivedCountStar:
			if col.Arg != nil {
				return fmt.Errorf("derived %s.%s: count(*) with an argument", d.Name, col.Name)
			}
		case DerivedMin, DerivedMax, DerivedCount, DerivedSum, DerivedBoolOr, DerivedArgMin, DerivedArgMax:
			if col.Arg == nil || ((col.Kind == DerivedArgMin || col.Kind == DerivedArgMax) != (col.By != nil)) {
				return fmt.Errorf("derived %s.%s: %s with the wrong arguments", d.Name, col.Name, col.Kind)
			}
		default:
			return fmt.Errorf("derived %s.%s: kind %q", d.Name, col.Name, col.Kind)
		}
		if b := col.Column.Bounds; b != nil && !(b[0] <= b[1]) {
			return fmt.Errorf("derived %s.%s: bounds %v", d.Name, col.Name, *b)
		}
		if col.Kind == DerivedSum && !(col.ArgBounds[0] <= col.ArgBounds[1]) {
			return fmt.Errorf("derived %s.%s: argument bounds %v", d.Name, col.Name, col.ArgBounds)
		}
		for _, e := range []Expr{col.Arg, col.By} {
			if e == nil {
				continue
			}
			inner.Aggs = append(inner.Aggs, Aggregate{Kind: AggCount, Arg: e, Name: fmt.Sprintf("a%d", len(inner.Aggs))})
		}
	}
	if len(inner.Aggs) == 0 {
		inner.Aggs = []Aggregate{{Kind: AggCountStar, Name: "n"}}
	}
	for i, a := range inner.Aggs {
		inner.Output = append(inner.Output, OutputColumn{Name: a.Name, Key: -1, Agg: i})
	}
	if err := validate(inner, c); err != nil {
		return fmt.Errorf("derived %s: %w", d.Name, err)
	}
	return nil
}

// validate checks that q is a consistent model: what FuzzCheck and the
// corpus tests require of every accepted query.
func validate(q *Query, c *Catalog) error {
	if len(q.From) == 0 {
		return fmt.Errorf("no FROM")
	}
	tables := map[string]*policies.Dataset{}
	seen := map[string]bool{}
	derived := map[string]*policies.Dataset{}
	for _, d := range q.Derived {
		if err := validateDerived(d, c); err != nil {
			return err
		}
		derived[d.Name] = d.Dataset()
	}
	for i, t := range q.From {
		ds := c.policy.Datasets[t.Dataset]
		if ds == nil && derived[t.Dataset] != nil {
			ds = derived[t.Dataset]
		} else if ds == nil || !c.allowed[t.Dataset] {
			return fmt.Errorf("FROM %s: not a dataset of the project", t.Dataset)
		}
		if t.Left && (i == 0 || !ds.OneRowPerPerson) {
			return fmt.Errorf("FROM %s: LEFT JOINed but the base table or not one row per person", t.Dataset)
		}
		if seen[t.Dataset] || tables[t.Alias] != nil || t.Alias == "" {
			return fmt.Errorf("FROM %s AS %s: repeated or empty", t.Dataset, t.Alias)
		}
		seen[t.Dataset], tables[t.Alias] = true, ds
	}
	var exprErr error
	checkExpr := func(where string, e Expr, allowOutput bool) {
		if e == nil {
			return
		}
		walk(e, func(x Expr) {
			if exprErr != nil {
				return
			}
			switch v := x.(type) {
			case *ColumnRef:
				ds := tables[v.Table]
				if ds == nil || ds.Name != v.Dataset {
					exprErr = fmt.Errorf("%s: column %s.%s of no table in FROM", where, v.Table, v.Column)
					return
				}
				col := column(ds, v.Column)
				if col == nil || col.Name == ds.PersonKey || modelType(col) != v.Type {
					exprErr = fmt.Errorf("%s: column %s.%s is unknown, the person key or mistyped", where, v.Table, v.Column)
				}
			case *OutputRef:
				if !allowOutput || v.Column < 0 || v.Column >= len(q.Output) {
					exprErr = fmt.Errorf("%s: bad output reference %d", where, v.Column)
				}
			case *Func:
				if !slices.Contains(FuncNames, v.Name) {
					exprErr = fmt.Errorf("%s: function %s not on the allow-list", where, v.Name)
				}
			case *Literal:
				switch v.Value.(type) {
				case nil, bool, int64, float64, string:
				default:
					exprErr = fmt.Errorf("%s: literal of Go type %T", where, v.Value)
				}
			}
			if reflect.ValueOf(x).IsNil() {
				exprErr = fmt.Errorf("%s: nil expression", where)
			}
			if allowOutput {
				switch x.(type) {
				case *OutputRef, *Literal, *Compare, *Logical, *IsNull, *Between, *In, *Arith:
				default:
					exprErr = fmt.Errorf("%s: %T cannot be evaluated after protection", where, x)
				}
			}
		})
	}
	checkExpr("WHERE", q.Where, false)
	if q.Where != nil && q.Where.ExprType() != TypeBool && !loose(q.Where.ExprType()) {
		return fmt.Errorf("WHERE is of type %s", q.Where.ExprType())
	}
	if len(q.Keys) > MaxGroupKeys || len(q.Aggs) == 0 || len(q.Aggs) > MaxAggregates {
		return fmt.Errorf("%d keys, %d aggregates", len(q.Keys), len(q.Aggs))
	}
	names := map[string]bool{}
	for i, k := range q.Keys {
		checkExpr(fmt.Sprintf("key %d", i), k.Expr, false)
		if k.Expr == nil || k.Name == "" || names[strings.ToLower(k.Name)] {
			return fmt.Errorf("key %d: nil, unnamed or name %q repeated", i, k.Name)
		}
		names[strings.ToLower(k.Name)] = true
	}
	for i, a := range q.Aggs {
		if a.Name == "" || names[strings.ToLower(a.Name)] {
			return fmt.Errorf("aggregate %d: unnamed or name %q repeated", i, a.Name)
		}
		names[strings.ToLower(a.Name)] = true
		checkExpr(fmt.Sprintf("aggregate %d", i), a.Arg, false)
		switch a.Kind {
		case AggCountStar:
			if a.Arg != nil {
				return fmt.Errorf("aggregate %d (%s) has an argument", i, a.Kind)
			}
		case AggCountDistinct:
			if a.Arg != nil && a.Arg.ExprType() != TypeBool {
				return fmt.Errorf("aggregate %d (%s) has a condition of type %s", i, a.Kind, a.Arg.ExprType())
			}
		case AggCount:
			if a.Arg == nil {
				return fmt.Errorf("aggregate %d: count without argument", i)
			}
		case AggSum, AggAvg, AggQuantile, AggStddev, AggVariance:
			if a.Arg == nil || !isNumeric(a.Arg.ExprType()) {
				return fmt.Errorf("aggregate %d (%s) is not over a numeric column or expression", i, a.Kind)
			}
			if ref, ok := a.Arg.(*ColumnRef); ok {
				col := column(tables[ref.Table], ref.Column)
				if col.Bounds == nil || *col.Bounds != a.Bounds {
					return fmt.Errorf("aggregate %d (%s): bounds %v differ from the policy's", i, a.Kind, a.Bounds)
				}
			}
			if lo, hi := a.Bounds[0], a.Bounds[1]; !(lo <= hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
				return fmt.Errorf("aggregate %d (%s): bounds %v are not a finite interval", i, a.Kind, a.Bounds)
			}
			if a.Kind == AggQuantile && !(a.P > 0 && a.P < 1) {
				return fmt.Errorf("aggregate %d: quantile %v", i, a.P)
			}
		default:
			return fmt.Errorf("aggregate %d: kind %q", i, a.Kind)
		}
	}
	if exprErr != nil {
		return exprErr
	}
	outNames := map[string]bool{}
	usedAgg := make([]bool, len(q.Aggs))
	for i, o := range q.Output {
		if o.Measure != nil {
			if o.Key >= 0 || o.Agg >= 0 {
				return fmt.Errorf("output %d: a measure with key %d, agg %d", i, o.Key, o.Agg)
			}
			aggs := MeasureAggs(o.Measure)
			if len(aggs) == 0 {
				return fmt.Errorf("output %d: a measure without an aggregate", i)
			}
			if err := checkMeasure(o.Measure, len(q.Aggs), len(q.Keys)); err != nil {
				return fmt.Errorf("output %d: %w", i, err)
			}
			for _, a := range aggs {
				usedAgg[a] = true
			}
		} else if (o.Key >= 0) == (o.Agg >= 0) || o.Key >= len(q.Keys) || o.Agg >= len(q.Aggs) {
			return fmt.Errorf("output %d: key %d, agg %d", i, o.Key, o.Agg)
		}
		if o.Name == "" || outNames[strings.ToLower(o.Name)] {
			return fmt.Errorf("output %d: empty or repeated name %q", i, o.Name)
		}
		outNames[strings.ToLower(o.Name)] = true
		if o.Agg >= 0 {
			usedAgg[o.Agg] = true
		}
	}
	for i, u := range usedAgg {
		if !u {
			return fmt.Errorf("aggregate %d is not output", i)
		}
	}
	for _, s := range q.GroupingSets {
		for _, k := range s {
			if k < 0 || k >= len(q.Keys) {
				return fmt.Errorf("grouping set %v: key out of range", s)
			}
		}
	}
	checkExpr("HAVING", q.Having, true)
	if exprErr != nil {
		return exprErr
	}
	for _, o := range q.OrderBy {
		if o.Column < 0 || o.Column >= len(q.Output) {
			return fmt.Errorf("ORDER BY column %d", o.Column)
		}
	}
	if q.Limit != nil && *q.Limit < 0 {
		return fmt.Errorf("LIMIT %d", *q.Limit)
	}
	return nil
}

// checkMeasure checks that a measure expression holds only aggregates of
// the query, windows over them partitioned by its keys (keys of them,
// ascending, resolved), numeric constants and + - * /.
func checkMeasure(e Expr, aggs, keys int) error {
	switch x := e.(type) {
	case *AggRef:
		if x.Agg < 0 || x.Agg >= aggs {
			return fmt.Errorf("measure reads aggregate %d of %d", x.Agg, aggs)
		}
		return nil
	case *WindowSum:
		if x.Agg < 0 || x.Agg >= aggs {
			return fmt.Errorf("window sums aggregate %d of %d", x.Agg, aggs)
		}
		if x.partition != nil || !slices.IsSorted(x.Partition) || len(slices.Compact(slices.Clone(x.Partition))) != len(x.Partition) {
			return fmt.Errorf("window partition %v unresolved or not a sorted set", x.Partition)
		}
		for _, k := range x.Partition {
			if k < 0 || k >= keys {
				return fmt.Errorf("window partitions by key %d of %d", k, keys)
			}
		}
		return nil
	case *Literal:
		if x.Type != TypeInteger && x.Type != TypeNumber {
			return fmt.Errorf("measure constant of type %s", x.Type)
		}
		return nil
	case *Arith:
		if !strings.Contains("+-*/", x.Op) || len(x.Op) != 1 {
			return fmt.Errorf("measure operator %q", x.Op)
		}
		if err := checkMeasure(x.L, aggs, keys); err != nil {
			return err
		}
		return checkMeasure(x.R, aggs, keys)
	}
	return fmt.Errorf("measure node %T", e)
}
