package protect

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// The reasons a cell is suppressed (result.Cell.Reason).
const (
	ReasonMinCellCount = "min_cell_count"
	ReasonSecondary    = "secondary"
)

// outRow is one released group with its protected measures. A row is
// suppressed as a whole: all its measures are withheld together.
type outRow struct {
	set  int
	keys []any
	// persons is the noisy distinct-person count that decides suppression.
	persons    float64
	meas       []estimate
	suppressed bool
	reason     string
	// cellSuppressed are the measures withheld in a released row
	// (suppressCells), by index.
	cellSuppressed map[int]bool
}

// suppressPrimary withholds every row whose noisy person count is below
// min.
func suppressPrimary(rows []*outRow, threshold float64) {
	if threshold <= 0 {
		return
	}
	for _, r := range rows {
		if r.persons < threshold {
			r.suppressed, r.reason = true, ReasonMinCellCount
		}
	}
}

// suppressCells withholds, in every row still released, each measure
// whose threshold (by aggregate index) its noisy value is below: the
// person counts with a condition. Their rows stay released, except with
// grouping sets (wholeRows), where secondary suppression, which works on
// rows, must keep the withheld value from being recomputed from a margin
// and the released rows: the whole row is withheld there.
func suppressCells(rows []*outRow, thresholds map[int]float64, wholeRows bool) {
	if len(thresholds) == 0 {
		return
	}
	for _, r := range rows {
		if r.suppressed {
			continue
		}
		for i, th := range thresholds {
			if r.meas[i].value < th && wholeRows {
				r.suppressed, r.reason = true, ReasonMinCellCount
				break
			}
			if r.meas[i].value < th {
				if r.cellSuppressed == nil {
					r.cellSuppressed = map[int]bool{}
				}
				r.cellSuppressed[i] = true
			}
		}
	}
}

// relations lists the total relations among rows: for grouping sets S ⊂ T,
// a row m of S equals the sum of the rows of T that agree with it on S's
// keys. Each relation is [m, details...] as indexes into rows; relations
// without a released detail row are left out.
func relations(rows []*outRow, sets []groupSet) [][]int {
	bySet := make([]map[string]int, len(sets))
	for i := range bySet {
		bySet[i] = map[string]int{}
	}
	for i, r := range rows {
		bySet[r.set][keyID(r.keys, sets[r.set].keys)] = i
	}
	var rels [][]int
	for si, s := range sets {
		for ti, t := range sets {
			if si == ti || !subset(s.keys, t.keys) {
				continue
			}
			details := map[int][]int{}
			for i, r := range rows {
				if r.set != ti {
					continue
				}
				if m, ok := bySet[si][keyID(r.keys, s.keys)]; ok {
					details[m] = append(details[m], i)
				}
			}
			ms := make([]int, 0, len(details))
			for m := range details {
				ms = append(ms, m)
			}
			slices.Sort(ms)
			for _, m := range ms {
				rels = append(rels, append([]int{m}, details[m]...))
			}
		}
	}
	return rels
}

// subset reports whether a is a proper subset of b (both sorted).
func subset(a, b []int) bool {
	if len(a) >= len(b) {
		return false
	}
	for _, k := range a {
		if _, ok := slices.BinarySearch(b, k); !ok {
			return false
		}
	}
	return true
}

// maxExact is the largest number of suppressed cells linked by relations
// that suppressSecondary checks exactly (a dense SVD); above it, it
// suppresses whole relations instead.
const maxExact = 1500

// suppressSecondary makes sure no suppressed row can be recomputed from
// released rows through the total relations. First the classic rule, to a
// fixpoint: a relation with exactly one suppressed row gets its smallest
// released row (by noisy person count) suppressed too. Then an exact
// check, since that rule is not enough in general (a cell can be pinned
// down by combining several relations): a suppressed row is derivable iff
// its unit vector lies in the row space of the relations restricted to
// the suppressed rows; for each derivable row the smallest released row of
// one of its relations is suppressed, and both steps repeat until no
// suppressed row is derivable.
func suppressSecondary(rows []*outRow, rels [][]int) {
	for {
		secondaryRule(rows, rels)
		x, ok := firstDerivable(rows, rels)
		if !ok {
			return
		}
		if x >= 0 {
			if !suppressSmallest(rows, relationsOf(rels, x)) {
				return // every cell around x is withheld already: nothing left to withhold
			}
			continue
		}
		// A component too large to check exactly: withhold every row of its
		// relations.
		changed := false
		for _, rel := range componentRelations(rows, rels, -x-1) {
			for _, i := range rel {
				if !rows[i].suppressed {
					rows[i].suppressed, rows[i].reason = true, ReasonSecondary
					changed = true
				}
			}
		}
		if !changed {
			return
		}
	}
}

// secondaryRule applies "no relation has exactly one suppressed row" to a
// fixpoint.
func secondaryRule(rows []*outRow, rels [][]int) {
	for changed := true; changed; {
		changed = false
		for _, rel := range rels {
			n := 0
			for _, i := range rel {
				if rows[i].suppressed {
					n++
				}
			}
			if n == 1 && suppressSmallest(rows, [][]int{rel}) {
				changed = true
			}
		}
	}
}

// suppressSmallest withholds the released row with the smallest noisy
// person count among rels (ties: the first row); false when all are
// withheld already.
func suppressSmallest(rows []*outRow, rels [][]int) bool {
	best := -1
	for _, rel := range rels {
		for _, i := range rel {
			if rows[i].suppressed {
				continue
			}
			if best < 0 || rows[i].persons < rows[best].persons || (rows[i].persons == rows[best].persons && i < best) {
				best = i
			}
		}
	}
	if best < 0 {
		return false
	}
	rows[best].suppressed, rows[best].reason = true, ReasonSecondary
	return true
}

func relationsOf(rels [][]int, x int) [][]int {
	var out [][]int
	for _, rel := range rels {
		if slices.Contains(rel, x) {
			out = append(out, rel)
		}
	}
	return out
}

// components groups the suppressed rows that appear in relations into
// connected components (two rows are linked when a relation holds both).
// It returns, per row, its component id (-1 when not suppressed or in no
// relation) and the components' rows.
func components(rows []*outRow, rels [][]int) ([]int, [][]int) {
	parent := make([]int, len(rows))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	inRel := make([]bool, len(rows))
	for _, rel := range rels {
		first := -1
		for _, i := range rel {
			if !rows[i].suppressed {
				continue
			}
			inRel[i] = true
			if first < 0 {
				first = i
			} else {
				parent[find(i)] = find(first)
			}
		}
	}
	comp := make([]int, len(rows))
	ids := map[int]int{}
	var members [][]int
	for i := range rows {
		comp[i] = -1
		if !inRel[i] {
			continue
		}
		root := find(i)
		id, ok := ids[root]
		if !ok {
			id = len(members)
			ids[root] = id
			members = append(members, nil)
		}
		comp[i] = id
		members[id] = append(members[id], i)
	}
	return comp, members
}

// componentRelations returns the relations that hold a suppressed row of
// component c.
func componentRelations(rows []*outRow, rels [][]int, c int) [][]int {
	comp, _ := components(rows, rels)
	var out [][]int
	for _, rel := range rels {
		for _, i := range rel {
			if comp[i] == c {
				out = append(out, rel)
				break
			}
		}
	}
	return out
}

// firstDerivable returns the suppressed row with the smallest index that
// the relations determine, and true; or, for a component too large to
// check exactly, -(component id)-1 and true; or false when no suppressed
// row is derivable.
func firstDerivable(rows []*outRow, rels [][]int) (int, bool) {
	comp, members := components(rows, rels)
	for c, cells := range members {
		if len(cells) > maxExact {
			return -c - 1, true
		}
		col := map[int]int{}
		for j, i := range cells {
			col[i] = j
		}
		var eqs [][]int
		for _, rel := range rels {
			for _, i := range rel {
				if comp[i] == c {
					eqs = append(eqs, rel)
					break
				}
			}
		}
		a := mat.NewDense(len(eqs), len(cells), nil)
		for e, rel := range eqs {
			for pos, i := range rel {
				j, ok := col[i]
				if !ok {
					continue
				}
				coef := -1.0
				if pos == 0 {
					coef = 1
				}
				a.Set(e, j, a.At(e, j)+coef)
			}
		}
		for j, det := range determined(a) {
			if det {
				return cells[j], true
			}
		}
	}
	return 0, false
}

// determined reports for each unknown of the homogeneous system a·x = 0
// whether every solution fixes it, i.e. whether its unit vector is in the
// row space of a: true iff it is zero in every null-space vector.
func determined(a *mat.Dense) []bool {
	m, n := a.Dims()
	out := make([]bool, n)
	// Pad to at least n rows so the SVD's V spans the null space in full.
	if m < n {
		p := mat.NewDense(n, n, nil)
		p.Slice(0, m, 0, n).(*mat.Dense).Copy(a)
		a = p
	}
	var svd mat.SVD
	if !svd.Factorize(a, mat.SVDFull) {
		return out // cannot tell: treat as not determined
	}
	rank := svd.Rank(1e-10)
	var v mat.Dense
	svd.VTo(&v)
	for j := range n {
		out[j] = true
		for k := rank; k < n; k++ {
			if math.Abs(v.At(j, k)) > 1e-8 {
				out[j] = false
				break
			}
		}
	}
	return out
}
