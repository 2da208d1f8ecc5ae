package plan

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/statgate/statgate/engine/admit"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// Options configure Bound. A nil *Options means the zero value.
type Options struct {
	// Seed is the per-query secret that makes the L0 step's choice of a
	// person's groups unpredictable; 0 draws a fresh one from crypto/rand.
	// It appears only inside Plan.SQL, which is therefore never released.
	Seed uint64
	// TableRows are the datasets' row counts, as the extracts database
	// reports them (exec.DB.TableRows); nil or a missing dataset means
	// unknown. They only decide the person buckets of the L0 step (see
	// Bound): the SQL's result does not depend on them.
	TableRows map[string]int64
	// MemoryLimit is DuckDB's memory limit in bytes (0: unknown). With
	// TableRows it decides the person buckets (see Bound): more of them
	// when the estimated memory of one bucket's L0 step
	// (admit.Estimate of its rows) would pass half the limit.
	MemoryLimit int64
	// Bounds are contribution bounds the request fixes, each at or under
	// the policy's cap (nil: the engine chooses).
	Bounds *RequestBounds
	// Totals asks for the margins of the query's keys (every subset of
	// them, as GROUP BY CUBE), with the secondary suppression margins
	// need, when the query has keys and no grouping sets of its own.
	Totals bool
}

// RequestBounds are contribution bounds a request fixes. Zero fields are
// left to the engine. A request may tighten what the policy allows, never
// loosen it: a value above the policy's cap, or a clamp outside a
// column's declared bounds, is refused (bounds_above_cap).
type RequestBounds struct {
	// MaxGroupsPerPerson is L0; at most the policy's max_groups_per_person
	// cap of the datasets read.
	MaxGroupsPerPerson int `json:"max_groups_per_person,omitempty"`
	// MaxRowsPerPersonPerGroup is L∞ for counts; at most the policy's cap.
	MaxRowsPerPersonPerGroup int `json:"max_rows_per_person_per_group,omitempty"`
	// MaxValuesPerPersonPerGroup is how many of a person's values in one
	// group means, quantiles and spreads take (0: as many as
	// MaxRowsPerPersonPerGroup); at most the policy's cap of rows. The
	// engine sets it from the contribution profile (bounds.ChooseValues);
	// it is not a request field.
	MaxValuesPerPersonPerGroup int `json:"-"`
	// Clamp narrows the declared bounds of numeric columns, by column
	// name, for every aggregate whose argument is that column, and the
	// bounds of an aggregated expression by the aggregate's output name
	// (query.Aggregate.ClampName).
	Clamp map[string][2]float64 `json:"clamp,omitempty"`
}

// applyClamps returns q with the request's clamps in place of the
// declared bounds of aggregates over a clamped column (a copy when
// anything changes; the checked query is never edited).
func applyClamps(q *query.Query, rb *RequestBounds) (*query.Query, error) {
	if rb == nil || len(rb.Clamp) == 0 {
		return q, nil
	}
	used := map[string]bool{}
	aggs := slices.Clone(q.Aggs)
	for i, a := range aggs {
		if !numericKind(a.Kind) {
			continue
		}
		name := a.ClampName()
		c, ok := rb.Clamp[name]
		if !ok {
			continue
		}
		used[name] = true
		if !(c[0] <= c[1]) || c[0] < a.Bounds[0] || c[1] > a.Bounds[1] {
			return nil, refusal.New(refusal.BoundsAboveCap,
				fmt.Sprintf("clamp [%g, %g] of %s is not within its declared bounds [%g, %g]", c[0], c[1], name, a.Bounds[0], a.Bounds[1]),
				"give a clamp inside the declared bounds (GET /v1/datasets/{name} lists them)")
		}
		aggs[i].Bounds = c
	}
	for name := range rb.Clamp {
		if !used[name] {
			return nil, refusal.New(refusal.BoundsAboveCap,
				fmt.Sprintf("clamp names %q, which no aggregate of the query takes as its argument", name),
				"clamp the columns you aggregate (sum, avg, quantiles, stddev) by column name, and expressions by the aggregate's output name")
		}
	}
	out := *q
	out.Aggs = aggs
	return &out, nil
}

// numericKind reports whether aggregates of kind k clamp their argument.
func numericKind(k query.AggKind) bool {
	switch k {
	case query.AggSum, query.AggAvg, query.AggQuantile, query.AggStddev, query.AggVariance:
		return true
	}
	return false
}

// cube returns every subset of n keys, finest first: the margins of a table.
func cube(n int) [][]int {
	var sets [][]int
	for mask := (1 << n) - 1; mask >= 0; mask-- {
		var set []int
		for i := 0; i < n; i++ {
			if mask&(1<<i) != 0 {
				set = append(set, i)
			}
		}
		sets = append(sets, set)
	}
	return sets
}

// RowsPerPersonBucket is how many rows of the largest dataset a plan reads
// one person bucket of the L0 step is for: a plan over more rows splits its
// persons into ⌈rows / RowsPerPersonBucket⌉ buckets (at most
// MaxPersonBuckets).
const RowsPerPersonBucket = 12_500_000

// MaxPersonBuckets caps the number of person buckets of the L0 step.
const MaxPersonBuckets = 64

// The values of Bounds.L0Step.
const (
	// L0Applied: persons in more than MaxGroupsPerPerson groups keep a
	// random subset of that many groups.
	L0Applied = "applied"
	// L0OneGroupPerPerson: every key is a function of one-row-per-person
	// data (or there are no keys), so each person is in one group.
	L0OneGroupPerPerson = "one_group_per_person"
	// L0DomainWithinLimit: the keys' public domains span no more groups
	// than the policy's max_groups_per_person.
	L0DomainWithinLimit = "domain_within_limit"
)

// Bound plans a checked query under the policy's contribution bounds
// (DESIGN §3). The SQL it returns reads the datasets of q.From (the table
// name is the dataset name, columns are qualified by TableRef.Alias, joins
// are inner joins on each dataset's person key, or LEFT JOINs of
// one-row-per-person datasets, query.TableRef.Left) and has this shape:
//
//  1. src: the rows passing WHERE (and with a person key), with the person
//     (From[0]'s person key), the keys k0… and the aggregates' arguments x0….
//  2. partials: one row per (person, keys); rows whose key lies outside its
//     public domain are dropped first, so they neither form groups nor use
//     up a person's groups. Per aggregate: count(*) and count(x) capped at
//     M = max_rows_per_person_per_group; count(DISTINCT person) FILTER
//     (WHERE c) the flag bool_or(c) (false when c is NULL on every row);
//     sum(x) the person's sum of values
//     clamped to [lo, hi], the sum then clamped to [M·min(lo,0), M·max(hi,0)];
//     avg(x) the capped count and the normalised sum Σ(clamp(x) − mid)·c/n
//     (mid = (lo+hi)/2, n the person's non-null values, c = min(n, V)), so a
//     person with many rows counts as V average rows; quantiles, stddev and
//     variance a random sample of at most V clamped values, keyed by the
//     query's seed and a function of the person's values alone (not of the
//     order rows arrive in). V (Bounds.MaxValuesPerPersonPerGroup) is M
//     unless the request bounds set it: means, quantiles and spreads are
//     not biased down by a smaller V, only reweighted towards persons with
//     fewer rows, so the engine may choose it smaller than M to cut their
//     noise.
//  3. The L0 step (Bounds.L0Step = "applied") runs before partials: the
//     rows of src in their domains are ranked per person by h =
//     hash(person, keys, seed) with dense_rank(), which gives every row of
//     a (person, group) its group's rank among the person's distinct
//     groups, and only the rows ranked at most L0 are kept (kept);
//     partials aggregates those rows alone. A person in more than L0
//     groups thus keeps the L0 groups with the smallest hashes. One window
//     over the rows is cheaper in DuckDB than a per-person cut-off taken
//     from the distinct (person, h) and joined back (0.6× at 10 M rows,
//     issue 14), and the (person, group) aggregation runs over the kept
//     rows only. Groups of one person tie only on a 64-bit hash collision
//     (probability below n²/2⁶⁵ for a person with n groups), the one way a
//     person could keep more than L0 groups.
//     On large tables (Options.TableRows above RowsPerPersonBucket rows,
//     or more than Options.MemoryLimit allows one bucket, see
//     personBuckets) steps 1–3 run once per person bucket (hash(person) %
//     buckets), as branches src0, kept0, partials0, src1, … whose
//     partials are combined with UNION ALL, each bucket's rows read from
//     the table once. Every step can spill, but at 100 M rows and a 2.5 GB
//     limit one bucket of the session-6 formulation spilled 4 GB and
//     crashed DuckDB 1.5.6 (SIGSEGV); with 8 buckets this step's engine
//     process peaked at 2.7–2.8 GiB (benchmarks/RESULTS-100M.md). A
//     person's groups all fall in one bucket, so the result is the same as
//     without buckets, for the same seed.
//  4. The totals per group: the keys, [the grouping id,] the persons and
//     the aggregates' columns (see Column and Role).
//
// Bounds in force: L0 and M are the smallest max_groups_per_person and
// max_rows_per_person_per_group among the datasets read that are not
// one_row_per_person (1 and 1 when all are). The L0 step is skipped when
// each person can be in one group only (L0 is then 1) or when the keys'
// public domains span at most L0 groups (L0 is then that number);
// Bounds.MaxGroupsPerPerson reports the L0 in force.
//
// Person-level conditions: WHERE may hold query.Exists conditions (the
// person has, or has no, row in another dataset satisfying a condition),
// each rendered in src as a correlated [NOT] EXISTS subquery on the person
// key. Plan.Datasets lists their datasets after those of FROM, so their ε
// range, δ, suppression rules and budgets apply; their bounds do not
// enter L0 and M, since a person's rows there only decide whether that
// person's rows pass, adding nothing to what the person contributes.
//
// Sensitivities (Plan.Aggs, Plan.PersonsL0/LInf), without grouping sets:
// every aggregate and the person count have L0 = the L0 in force;
// count(*) and count(x) LInf = M; count(DISTINCT person) LInf = 1 (with
// FILTER (WHERE c) too: its partial is the person's flag "c holds on one
// of my rows in the group", and the totals count the persons flagged); sum
// LInf = M·max(|min(lo,0)|, |max(hi,0)|); avg LInf = V (its count) and
// NormLInf = V·(hi−lo)/2; quantile, stddev and variance take
// MaxContributionsPerPartition = V values per person and group. With k
// grouping sets, a person is in up to L0 groups of each set and a margin
// cell may merge a person's L0 fine groups, yet the person's rows in one
// set add up to at most L0 fine groups' worth over all its cells: the
// measures take L0 = k and LInf, NormLInf and MaxContributionsPerPartition
// multiplied by L0 (L1 = k·L0·M, L2 = √k·L0·M, both bounds of the change
// one person makes across all cells); the person counts (FILTERed or
// not) have L0 = k·L0 and LInf = 1 (they count distinct persons, one per
// cell).
//
// Key domains (Plan.Keys[i].Domain): a column with a policy domain; year()
// of a date column with policy years; month 1–12, quarter 1–4, day 1–31,
// and through date_part week 1–53, dow 0–6, isodow 1–7, doy 1–366; left(col, n) and substr(col, 1, n) of a
// column with a policy prefix domain for n; icd10_chapter() the 22
// chapters; a CASE whose arms are all constants those constants (and nil,
// the NULL group, without ELSE); a boolean key false and true. Other keys
// have none and need DP partition selection. Bound refuses with
// refusal.DomainTooLarge when the domains span more than MaxDomainCells
// groups.
//
// Bound returns an error wrapping ErrInvalidQuery for a model the checker
// would not produce, and a refusal for a query it must refuse.
func Bound(q *query.Query, pol *policies.Policy, opts *Options) (*Plan, error) {
	if q == nil || pol == nil {
		return nil, fmt.Errorf("plan.Bound: %w", invalidf("nil query or policy"))
	}
	if opts != nil && opts.Totals && q.GroupingSets == nil && len(q.Keys) > 0 {
		for _, o := range q.Output {
			if len(query.MeasureWindows(o.Measure)) > 0 {
				// The margins would stand in the window's rows, as the
				// checker refuses for grouping sets written in the SQL.
				return nil, refusal.New(refusal.WindowFunction, "sum(...) OVER (...) is not supported with totals",
					"ask without totals, or for the margins alone and divide by them yourself")
			}
		}
		// A copy: the checked query is never edited.
		withTotals := *q
		withTotals.GroupingSets = cube(len(q.Keys))
		q = &withTotals
	}
	var rb *RequestBounds
	if opts != nil {
		rb = opts.Bounds
	}
	q, err := applyClamps(q, rb)
	if err != nil {
		return nil, err
	}
	b, err := newBuilder(q, pol, rb)
	if err != nil {
		return nil, fmt.Errorf("plan.Bound: %w", err)
	}
	var seed uint64
	if opts != nil {
		seed = opts.Seed
	}
	for seed == 0 {
		var buf [8]byte
		if _, err := rand.Read(buf[:]); err != nil {
			return nil, fmt.Errorf("plan.Bound: drawing the seed: %w", err)
		}
		seed = binary.LittleEndian.Uint64(buf[:])
	}
	p := b.plan()
	var rows map[string]int64
	var limit int64
	if opts != nil {
		rows, limit = opts.TableRows, opts.MemoryLimit
	}
	p.SQL = b.sql(seed, b.personBuckets(rows, limit))
	p.Profile = b.profile(seed, rows)
	return p, nil
}

// personBuckets is the number of person buckets of the L0 step (1: none)
// for datasets of the given sizes (as the data map publishes them, see
// publicRows) and DuckDB's memory limit (0: unknown): one per
// RowsPerPersonBucket rows of the largest dataset read, and at
// least enough that one bucket's estimated memory is at most half the
// limit, at most MaxPersonBuckets.
func (b *builder) personBuckets(rows map[string]int64, memoryLimit int64) int {
	if b.step != L0Applied {
		return 1
	}
	most := b.publicRows(rows)
	n := (most + RowsPerPersonBucket - 1) / RowsPerPersonBucket
	if half := memoryLimit / 2; half > 0 {
		need := admit.Estimate(most)
		n = max(n, (need+half-1)/half)
	}
	return int(min(max(n, 1), MaxPersonBuckets))
}

// builder holds one query's resolved tables, bounds and key domains.
type builder struct {
	q *query.Query
	// pol is the policy with the datasets q's derived tables stand for
	// (see withDerived); base is the policy itself.
	pol, base *policies.Policy
	tables    map[string]*policies.Dataset // by alias
	// l0 and m are the bounds in force; groups is the L0 after the step
	// decision (1, the domain size or l0).
	l0, m, groups int
	// mv is the values a person adds to one group's mean, quantile or
	// spread (m unless the request bounds set it).
	mv int
	// l0cap is the most L0 may be: keys whose public domains hold at most
	// this many groups keep every group of a person (no truncation).
	l0cap int
	// rowsCap is the most L∞ may be.
	rowsCap int
	// allDomains and product: every key has a public domain, and their
	// narrowed sizes' product.
	allDomains bool
	product    int
	// request holds the bounds the request fixes (nil: none).
	request *RequestBounds
	step    string
	domains []keyDomain
}

func newBuilder(q *query.Query, pol *policies.Policy, rb *RequestBounds) (*builder, error) {
	withTables, err := withDerived(q, pol)
	if err != nil {
		return nil, err
	}
	b := &builder{q: q, pol: withTables, base: pol, tables: map[string]*policies.Dataset{}, request: rb}
	if err := b.resolveTables(); err != nil {
		return nil, err
	}
	if err := b.validate(); err != nil {
		return nil, err
	}
	if err := b.bounds(); err != nil {
		return nil, err
	}
	if err := b.keyDomains(); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *builder) resolveTables() error {
	if len(b.q.From) == 0 {
		return invalidf("no dataset in FROM")
	}
	for _, t := range b.q.From {
		ds := b.pol.Datasets[t.Dataset]
		if ds == nil {
			return invalidf("dataset %q is not in the policy", t.Dataset)
		}
		if ds.PersonKey == "" {
			return invalidf("dataset %q has no person key", t.Dataset)
		}
		alias := aliasOf(t)
		if b.tables[alias] != nil {
			return invalidf("table alias %q is used twice", alias)
		}
		if t.Left && (len(b.tables) == 0 || !ds.OneRowPerPerson) {
			return invalidf("dataset %q is LEFT JOINed but is the base table or not one row per person", t.Dataset)
		}
		b.tables[alias] = ds
	}
	return nil
}

// aliasOf is the name a table's columns are qualified with.
func aliasOf(t query.TableRef) string {
	if t.Alias != "" {
		return t.Alias
	}
	return t.Dataset
}

// validate checks that every expression and aggregate is inside the model.
func (b *builder) validate() error {
	q := b.q
	if err := b.validateDerived(); err != nil {
		return err
	}
	if q.Where != nil {
		if err := b.validateWhere(q.Where); err != nil {
			return fmt.Errorf("WHERE: %w", err)
		}
	}
	for i, k := range q.Keys {
		if err := b.validateExpr(k.Expr); err != nil {
			return fmt.Errorf("group key %d (%s): %w", i, k.Name, err)
		}
	}
	for i, a := range q.Aggs {
		if err := b.validateAgg(a); err != nil {
			return fmt.Errorf("aggregate %d (%s): %w", i, a.Name, err)
		}
	}
	if q.GroupingSets != nil {
		if len(q.GroupingSets) == 0 || len(q.Keys) == 0 {
			return invalidf("grouping sets need keys and at least one set")
		}
		for _, set := range q.GroupingSets {
			for j, k := range set {
				if k < 0 || k >= len(q.Keys) || slices.Contains(set[:j], k) {
					return invalidf("grouping set %v does not list distinct key indexes", set)
				}
			}
		}
	}
	return nil
}

func (b *builder) validateAgg(a query.Aggregate) error {
	switch a.Kind {
	case query.AggCountStar:
		return nil
	case query.AggCountDistinct:
		if a.Arg == nil {
			return nil
		}
		if t := a.Arg.ExprType(); t != query.TypeBool {
			return invalidf("the condition of a person count is %s, not boolean", t)
		}
		return b.validateExpr(a.Arg)
	case query.AggCount:
		if a.Arg == nil {
			return invalidf("count has no argument")
		}
		return b.validateExpr(a.Arg)
	case query.AggSum, query.AggAvg, query.AggQuantile, query.AggStddev, query.AggVariance:
		if a.Arg == nil {
			return invalidf("%s has no argument", a.Kind)
		}
		lo, hi := a.Bounds[0], a.Bounds[1]
		if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || lo > hi {
			return invalidf("%s has bounds [%g, %g]", a.Kind, lo, hi)
		}
		if a.Kind == query.AggQuantile && !(a.P > 0 && a.P < 1) {
			return invalidf("quantile %g is not in (0, 1)", a.P)
		}
		return b.validateExpr(a.Arg)
	}
	return invalidf("aggregate kind %q", a.Kind)
}

// validateExpr checks an expression against the model: known node types
// and operators, and columns of tables in FROM that the policy declares.
func (b *builder) validateExpr(e query.Expr) error { return b.validateIn(e, b.tables) }

// validateIn is validateExpr with the tables (by alias) that are in scope.
func (b *builder) validateIn(e query.Expr, tables map[string]*policies.Dataset) error {
	return walkExpr(e, func(e query.Expr) error {
		switch e := e.(type) {
		case *query.ColumnRef:
			ds := tables[e.Table]
			if ds == nil || ds.Name != e.Dataset {
				return invalidf("column %q refers to table %q, which is not in FROM as dataset %q", e.Column, e.Table, e.Dataset)
			}
			if policyColumn(b.pol, e) == nil {
				return invalidf("column %q is not declared for dataset %q", e.Column, e.Dataset)
			}
		case *query.Literal:
			switch v := e.Value.(type) {
			case nil, bool, int64, float64:
			case string:
				if e.Type == query.TypeDate && !isISODate(v) {
					return invalidf("date literal is not YYYY-MM-DD")
				}
			default:
				return invalidf("literal of Go type %T", e.Value)
			}
		case *query.Func:
			if e.Name == "" {
				return invalidf("function without a name")
			}
			if err := validPattern(e); err != nil {
				return err
			}
		case *query.Compare:
			if !compareOps[e.Op] {
				return invalidf("comparison operator %q", e.Op)
			}
		case *query.Logical:
			ok := (e.Op == "NOT" && len(e.Args) == 1) || ((e.Op == "AND" || e.Op == "OR") && len(e.Args) >= 2)
			if !ok {
				return invalidf("logical operator %q with %d arguments", e.Op, len(e.Args))
			}
		case *query.Arith:
			if !arithOps[e.Op] {
				return invalidf("arithmetic operator %q", e.Op)
			}
		case *query.Case:
			if len(e.Whens) == 0 {
				return invalidf("CASE without WHEN")
			}
		case *query.Cast:
			if _, ok := sqlTypes[e.To]; !ok {
				return invalidf("cast to type %q", e.To)
			}
		case *query.In, *query.Between, *query.Like, *query.IsNull:
		case *query.Exists:
			return invalidf("EXISTS may only be the WHERE condition or an argument of its top-level AND")
		default:
			return invalidf("expression of type %T", e)
		}
		return nil
	})
}

// validPattern requires a regexp function to have a constant pattern the
// checker accepts: DuckDB compiles it when the plan runs, after the debit.
func validPattern(f *query.Func) error {
	if f.Name != "regexp_matches" && f.Name != "regexp_full_match" {
		return nil
	}
	pattern, ok := "", len(f.Args) == 2
	if ok {
		pattern, ok = literalString(f.Args[1])
	}
	if !ok || query.CheckPattern(pattern) != nil {
		return invalidf("%s needs a constant pattern the checker accepts", f.Name)
	}
	return nil
}

// isISODate reports whether s looks like YYYY-MM-DD.
func isISODate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i, c := range []byte(s) {
		if i != 4 && i != 7 && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// walkExpr calls fn on e and every expression below it, depth first; a
// nil expression (or a typed nil) is an error.
func walkExpr(e query.Expr, fn func(query.Expr) error) error {
	if isNilExpr(e) {
		return invalidf("missing expression")
	}
	if err := fn(e); err != nil {
		return err
	}
	var kids []query.Expr
	switch e := e.(type) {
	case *query.Func:
		kids = e.Args
	case *query.Compare:
		kids = []query.Expr{e.L, e.R}
	case *query.Logical:
		kids = e.Args
	case *query.In:
		kids = append([]query.Expr{e.X}, e.List...)
	case *query.Between:
		kids = []query.Expr{e.X, e.Lo, e.Hi}
	case *query.Like:
		kids = []query.Expr{e.X, e.Pattern}
	case *query.IsNull:
		kids = []query.Expr{e.X}
	case *query.Arith:
		kids = []query.Expr{e.L, e.R}
	case *query.Case:
		for _, w := range e.Whens {
			kids = append(kids, w.Cond, w.Then)
		}
		if e.Else != nil {
			kids = append(kids, e.Else)
		}
	case *query.Cast:
		kids = []query.Expr{e.X}
	}
	for _, k := range kids {
		if err := walkExpr(k, fn); err != nil {
			return err
		}
	}
	return nil
}

// isNilExpr reports whether e is nil or a typed nil pointer.
func isNilExpr(e query.Expr) bool {
	switch e := e.(type) {
	case nil:
		return true
	case *query.ColumnRef:
		return e == nil
	case *query.Literal:
		return e == nil
	case *query.Func:
		return e == nil
	case *query.Compare:
		return e == nil
	case *query.Logical:
		return e == nil
	case *query.In:
		return e == nil
	case *query.Between:
		return e == nil
	case *query.Like:
		return e == nil
	case *query.IsNull:
		return e == nil
	case *query.Arith:
		return e == nil
	case *query.Case:
		return e == nil
	case *query.Cast:
		return e == nil
	case *query.OutputRef:
		return e == nil
	case *query.Exists:
		return e == nil
	}
	return false
}

// bounds sets l0 and m from the effective policy of the tables read.
func (b *builder) bounds() error {
	names := make([]string, 0, len(b.tables))
	for _, ds := range b.tables {
		if !slices.Contains(names, ds.Name) {
			names = append(names, ds.Name)
		}
	}
	slices.Sort(names)
	eff, err := b.pol.Resolve(names)
	if err != nil {
		return err
	}
	b.l0, b.m, b.l0cap, b.rowsCap = eff.MaxGroupsPerPerson, eff.MaxRowsPerPersonPerGroup, eff.GroupsCap, eff.RowsCap
	if r := b.request; r != nil {
		if r.MaxGroupsPerPerson < 0 || r.MaxGroupsPerPerson > eff.GroupsCap {
			return refusal.New(refusal.BoundsAboveCap,
				fmt.Sprintf("max_groups_per_person %d is not within 1..%d, the cap of %v", r.MaxGroupsPerPerson, eff.GroupsCap, names),
				fmt.Sprintf("ask for at most %d, or omit it to let statgate choose", eff.GroupsCap))
		}
		if r.MaxRowsPerPersonPerGroup < 0 || r.MaxRowsPerPersonPerGroup > eff.RowsCap {
			return refusal.New(refusal.BoundsAboveCap,
				fmt.Sprintf("max_rows_per_person_per_group %d is not within 1..%d, the cap of %v", r.MaxRowsPerPersonPerGroup, eff.RowsCap, names),
				fmt.Sprintf("ask for at most %d, or omit it to let statgate choose", eff.RowsCap))
		}
		if r.MaxGroupsPerPerson > 0 {
			// A fixed L0 is both the default and the most the domains may use.
			b.l0, b.l0cap = r.MaxGroupsPerPerson, r.MaxGroupsPerPerson
		}
		if r.MaxRowsPerPersonPerGroup > 0 {
			b.m = r.MaxRowsPerPersonPerGroup
		}
	}
	b.mv = b.m
	if r := b.request; r != nil && r.MaxValuesPerPersonPerGroup > 0 {
		b.mv = min(r.MaxValuesPerPersonPerGroup, eff.RowsCap)
	}
	return nil
}

// keyDomains derives each key's domain, refuses an oversized product and
// decides the L0 step.
func (b *builder) keyDomains() error {
	if err := b.deriveKeyDomains(true); err != nil {
		return err
	}
	if b.product > MaxDomainCells {
		// Domains derived by arithmetic that make the product too large
		// are dropped: those keys pass partition selection, as they did
		// before they had domains, rather than the query being refused.
		b.domains = nil
		if err := b.deriveKeyDomains(false); err != nil {
			return err
		}
	}
	if b.product > MaxDomainCells {
		return domainTooLarge()
	}
	return nil
}

// deriveKeyDomains sets b.domains, b.allDomains, b.product (at most
// MaxDomainCells + 1) and the L0 step, with domains derived by arithmetic
// (derivedDomain) when derived is true.
func (b *builder) deriveKeyDomains(derived bool) error {
	product, allDomains, oneRow := 1, true, true
	for i, k := range b.q.Keys {
		d, err := domainOf(k.Expr, b.pol)
		if err != nil {
			return fmt.Errorf("group key %d (%s): %w", i, k.Name, err)
		}
		if d.values == nil {
			d = strftimeDomain(k.Expr, b.pol, b.q.Where)
		}
		if d.values == nil && derived {
			d = derivedDomain(k.Expr, b.pol, b.q.Where)
		}
		if d.values == nil {
			d = listedDomain(k.Expr, b.q.Where)
		}
		d = narrow(d, k.Expr, b.q.Where)
		b.domains = append(b.domains, d)
		if d.values == nil {
			allDomains = false
		} else {
			product = min(product*len(d.values), MaxDomainCells+1)
		}
		if !b.oneRowPerPerson(k.Expr) {
			oneRow = false
		}
	}
	b.allDomains, b.product = allDomains, product
	switch {
	case oneRow:
		b.step, b.groups = L0OneGroupPerPerson, 1
	case allDomains && product <= b.l0cap:
		b.step, b.groups = L0DomainWithinLimit, max(product, 1)
	default:
		b.step, b.groups = L0Applied, b.l0
	}
	return nil
}

// oneRowPerPerson reports whether e reads only columns of one-row-per-person
// datasets, so that it takes one value per person.
func (b *builder) oneRowPerPerson(e query.Expr) bool {
	err := walkExpr(e, func(e query.Expr) error {
		if c, ok := e.(*query.ColumnRef); ok && !b.tables[c.Table].OneRowPerPerson {
			return ErrInvalidQuery // any error stops the walk
		}
		return nil
	})
	return err == nil
}

// plan fills everything of the Plan but its SQL.
func (b *builder) plan() *Plan {
	q := b.q
	p := &Plan{
		Bounds: Bounds{MaxGroupsPerPerson: b.groups, MaxRowsPerPersonPerGroup: b.m, L0Step: b.step, Chosen: "policy"},
	}
	if b.valueAggs() {
		p.Bounds.MaxValuesPerPersonPerGroup = b.mv
	}
	if r := b.request; r != nil && (r.MaxGroupsPerPerson > 0 || r.MaxRowsPerPersonPerGroup > 0) {
		p.Bounds.Chosen = "request"
	}
	for _, t := range q.From {
		if b.derivedIndex(t.Dataset) < 0 && !slices.Contains(p.Datasets, t.Dataset) {
			p.Datasets = append(p.Datasets, t.Dataset)
		}
	}
	for _, ds := range b.derivedDatasets() {
		if !slices.Contains(p.Datasets, ds) {
			p.Datasets = append(p.Datasets, ds)
		}
	}
	for _, x := range existsIn(q.Where) {
		for _, ds := range x.Datasets() {
			if !slices.Contains(p.Datasets, ds) {
				p.Datasets = append(p.Datasets, ds)
			}
		}
	}
	for i, k := range q.Keys {
		p.Keys = append(p.Keys, Key{Name: k.Name, Type: k.Expr.ExprType(), Domain: b.domains[i].values})
		p.Columns = append(p.Columns, Column{Name: keyCol(i), Role: RoleKey, Index: i})
	}
	sets := int64(1)
	merge := 1.0 // how many of a person's fine groups one output cell may merge
	if q.GroupingSets != nil {
		p.GroupingSets = make([][]int, len(q.GroupingSets))
		for i, s := range q.GroupingSets {
			p.GroupingSets[i] = slices.Clone(s)
		}
		p.Columns = append(p.Columns, Column{Name: "gid", Role: RoleGroupingID, Index: -1})
		sets, merge = int64(len(q.GroupingSets)), float64(b.groups)
	}
	l0 := int64(b.groups) * sets
	p.PersonsL0, p.PersonsLInf = l0, 1
	// With grouping sets a person's rows in one set add up to at most
	// merge·M over all its cells, however they fall into cells, so the
	// measures take L0 = sets and LInf = merge·M: L1 sets·L0·M (Laplace)
	// and L2 √sets·L0·M (Gaussian) bound what one person changes across
	// all cells. The distinct-person count keeps (sets·L0, 1).
	aggL0 := l0
	if q.GroupingSets != nil {
		aggL0 = sets
	}
	p.Columns = append(p.Columns, Column{Name: "persons", Role: RolePersons, Index: slices.IndexFunc(q.Aggs, func(a query.Aggregate) bool {
		return a.Kind == query.AggCountDistinct && a.Arg == nil
	})})
	m, mv := float64(b.m), float64(b.mv)
	for i, a := range q.Aggs {
		ag := Agg{Kind: a.Kind, Name: a.Name, P: a.P, Bounds: a.Bounds, L0: aggL0}
		if a.Kind == query.AggQuantile {
			ag.Values = RenderValue(a.Arg)
		}
		lo, hi := a.Bounds[0], a.Bounds[1]
		switch a.Kind {
		case query.AggCountStar, query.AggCount:
			ag.LInf = m * merge
			p.Columns = append(p.Columns, Column{Name: aggCol(i, "count"), Role: RoleCount, Index: i})
		case query.AggCountDistinct:
			// A FILTERed count of persons counts each person at most
			// once per cell too (the cells' count of distinct persons
			// whose flag is set), so it has the person count's
			// sensitivities; it reads a count column of its own.
			ag.L0, ag.LInf = l0, 1
			if a.Arg != nil {
				p.Columns = append(p.Columns, Column{Name: aggCol(i, "count"), Role: RoleCount, Index: i})
			}
		case query.AggSum:
			ag.LInf = m * math.Max(math.Abs(math.Min(lo, 0)), math.Max(hi, 0)) * merge
			p.Columns = append(p.Columns, Column{Name: aggCol(i, "sum"), Role: RoleSum, Index: i})
		case query.AggAvg:
			ag.LInf = mv * merge
			ag.NormLInf = mv * (hi - lo) / 2 * merge
			p.Columns = append(p.Columns,
				Column{Name: aggCol(i, "count"), Role: RoleCount, Index: i},
				Column{Name: aggCol(i, "norm_sum"), Role: RoleNormSum, Index: i})
		case query.AggQuantile, query.AggStddev, query.AggVariance:
			ag.MaxContributionsPerPartition = int64(b.mv) * int64(merge)
			p.Columns = append(p.Columns, Column{Name: aggCol(i, "values"), Role: RoleValues, Index: i})
		}
		p.Aggs = append(p.Aggs, ag)
	}
	return p
}

// valueAggs reports whether the query has a mean, quantile or spread:
// an aggregate that takes mv values per person and group.
func (b *builder) valueAggs() bool {
	return slices.ContainsFunc(b.q.Aggs, func(a query.Aggregate) bool { return isValueAgg(a.Kind) })
}

// isValueAgg reports whether aggregates of kind k take a person's values
// (at most mv per group) rather than a capped total.
func isValueAgg(k query.AggKind) bool {
	switch k {
	case query.AggAvg, query.AggQuantile, query.AggStddev, query.AggVariance:
		return true
	}
	return false
}

func keyCol(i int) string { return fmt.Sprintf("k%d", i) }

func aggCol(i int, what string) string { return fmt.Sprintf("a%d_%s", i, what) }
