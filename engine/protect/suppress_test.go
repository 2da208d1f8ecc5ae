package protect

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestSuppressPrimary(t *testing.T) {
	tests := []struct {
		desc    string
		persons []float64
		min     float64
		want    []bool
	}{
		{"below the threshold", []float64{2, 5, 4.99, 100, 0}, 5, []bool{true, false, true, false, true}},
		{"no minimum", []float64{2, 5, 0}, 0, []bool{false, false, false}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			var rows []*outRow
			for _, p := range tc.persons {
				rows = append(rows, &outRow{persons: p})
			}
			suppressPrimary(rows, tc.min)
			for i, r := range rows {
				if r.suppressed != tc.want[i] || (r.suppressed && r.reason != ReasonMinCellCount) {
					t.Errorf("row %d (persons %g): suppressed %v (%s), want %v", i, r.persons, r.suppressed, r.reason, tc.want[i])
				}
			}
		})
	}
}

// cube is a two-way table with row totals, column totals and a grand
// total, laid out as the rows of GROUP BY CUBE(r, c).
type cube struct {
	rows     []*outRow
	sets     []groupSet
	det      [][]int // det[i][j]: index of cell (i, j)
	rowTotal []int
	colTotal []int
	grand    int
}

// newCube builds the table from the persons of its detail cells; margins
// hold the sums.
func newCube(persons [][]float64) *cube {
	c := &cube{sets: []groupSet{{keys: []int{0, 1}}, {keys: []int{0}}, {keys: []int{1}}, {keys: []int{}}}}
	add := func(set int, p float64, keys ...any) int {
		c.rows = append(c.rows, &outRow{set: set, keys: keys, persons: p})
		return len(c.rows) - 1
	}
	var grand float64
	colSum := make([]float64, len(persons[0]))
	for i, line := range persons {
		c.det = append(c.det, nil)
		for j, p := range line {
			c.det[i] = append(c.det[i], add(0, p, fmt.Sprint("r", i), fmt.Sprint("c", j)))
			colSum[j] += p
			grand += p
		}
	}
	for i, line := range persons {
		var s float64
		for _, p := range line {
			s += p
		}
		c.rowTotal = append(c.rowTotal, add(1, s, fmt.Sprint("r", i), nil))
	}
	for j, s := range colSum {
		c.colTotal = append(c.colTotal, add(2, s, nil, fmt.Sprint("c", j)))
	}
	c.grand = add(3, grand, nil, nil)
	return c
}

// relations are the table's total relations, written out independently
// of relations(): each as (total, parts...).
func (c *cube) relations() [][]int {
	var rels [][]int
	var all []int
	for i, line := range c.det {
		rels = append(rels, append([]int{c.rowTotal[i]}, line...))
		all = append(all, line...)
	}
	for j := range c.colTotal {
		rel := []int{c.colTotal[j]}
		for i := range c.det {
			rel = append(rel, c.det[i][j])
		}
		rels = append(rels, rel)
	}
	rels = append(rels, append([]int{c.grand}, c.rowTotal...), append([]int{c.grand}, c.colTotal...), append([]int{c.grand}, all...))
	return rels
}

// derivable lists the suppressed rows whose value the relations and the
// released rows determine: a suppressed cell is derivable iff adding its
// unit vector to the constraint matrix over the suppressed cells leaves
// the rank unchanged.
func derivable(rows []*outRow, rels [][]int) []int {
	var unknown []int
	col := map[int]int{}
	for i, r := range rows {
		if r.suppressed {
			col[i] = len(unknown)
			unknown = append(unknown, i)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	a := mat.NewDense(len(rels)+1, len(unknown), nil) // last row: the unit vector
	for e, rel := range rels {
		for pos, i := range rel {
			if j, ok := col[i]; ok {
				coef := -1.0
				if pos == 0 {
					coef = 1
				}
				a.Set(e, j, a.At(e, j)+coef)
			}
		}
	}
	rank := func(m mat.Matrix) int {
		var svd mat.SVD
		if !svd.Factorize(m, mat.SVDNone) {
			panic("svd failed")
		}
		return svd.Rank(1e-10)
	}
	base := rank(a.Slice(0, len(rels), 0, len(unknown)))
	var out []int
	for j, i := range unknown {
		for k := range len(unknown) {
			a.Set(len(rels), k, 0)
		}
		a.Set(len(rels), j, 1)
		if rank(a) == base {
			out = append(out, i)
		}
	}
	return out
}

func TestSecondarySuppression(t *testing.T) {
	big := 100.0
	tests := []struct {
		desc  string
		small [][2]int // detail cells below the minimum
		// ruleLeaks: the classic one-per-line rule alone leaves a
		// suppressed cell derivable.
		ruleLeaks bool
	}{
		{desc: "one small cell"},
		{desc: "two small cells in a row", small: [][2]int{{0, 0}, {0, 1}}},
		{desc: "a small cell in every row", small: [][2]int{{0, 0}, {1, 1}, {2, 2}, {3, 3}}},
		{desc: "a whole row small", small: [][2]int{{2, 0}, {2, 1}, {2, 2}, {2, 3}}},
		{
			desc:      "two blocks joined by a bridge cell",
			small:     [][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}, {2, 2}, {2, 3}, {3, 2}, {3, 3}, {1, 2}},
			ruleLeaks: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			persons := make([][]float64, 4)
			for i := range persons {
				persons[i] = []float64{big + float64(i), big + 10 + float64(i), big + 20, big + 30}
			}
			small := tc.small
			if small == nil {
				small = [][2]int{{1, 2}}
			}
			for k, ij := range small {
				persons[ij[0]][ij[1]] = float64(k%3 + 1)
			}
			build := func() *cube {
				c := newCube(persons)
				suppressPrimary(c.rows, 5)
				return c
			}

			// The classic rule alone.
			c := build()
			secondaryRule(c.rows, relations(c.rows, c.sets))
			if leaks := derivable(c.rows, c.relations()); (len(leaks) > 0) != tc.ruleLeaks {
				t.Errorf("after the one-per-line rule alone, derivable cells %v (expected leaks: %v)", leaks, tc.ruleLeaks)
			}

			c = build()
			primary := 0
			for _, r := range c.rows {
				if r.suppressed {
					primary++
				}
			}
			suppressSecondary(c.rows, relations(c.rows, c.sets))
			if leaks := derivable(c.rows, c.relations()); len(leaks) > 0 {
				t.Errorf("suppressed rows %v can be recomputed from the released ones", leaks)
			}
			secondary := 0
			for _, r := range c.rows {
				switch {
				case r.suppressed && r.reason == ReasonSecondary:
					secondary++
				case r.suppressed && r.reason != ReasonMinCellCount:
					t.Errorf("row %v suppressed with reason %q", r.keys, r.reason)
				}
			}
			if secondary == 0 {
				t.Error("no secondary suppression")
			}
			// Secondary suppression is as small as a line needs: never more
			// than the table's detail cells.
			if primary+secondary > 16 {
				t.Errorf("%d primary + %d secondary suppressions in a 4×4 table", primary, secondary)
			}
		})
	}
}

// TestSecondaryPicksSmallest checks that the rule withholds the released
// cell with the smallest person count of the line.
func TestSecondaryPicksSmallest(t *testing.T) {
	c := newCube([][]float64{{2, 50, 30}, {60, 70, 80}})
	suppressPrimary(c.rows, 5)
	suppressSecondary(c.rows, relations(c.rows, c.sets))
	// Row 0: 2 is primary; 30 is the smallest other cell of its row. Column
	// 0: 2 and then 60, the only other cell.
	for _, ij := range [][2]int{{0, 2}, {1, 0}} {
		if r := c.rows[c.det[ij[0]][ij[1]]]; !r.suppressed || r.reason != ReasonSecondary {
			t.Errorf("cell %v: suppressed %v (%s), want secondary", ij, r.suppressed, r.reason)
		}
	}
	if c.rows[c.det[0][1]].suppressed {
		t.Error("cell (0, 1) suppressed, but (0, 2) is smaller")
	}
	if leaks := derivable(c.rows, c.relations()); len(leaks) > 0 {
		t.Errorf("derivable: %v", leaks)
	}
}

func TestRelations(t *testing.T) {
	c := newCube([][]float64{{1, 2}, {3, 4}})
	got := relations(c.rows, c.sets)
	want := c.relations()
	norm := func(rels [][]int) []string {
		var out []string
		for _, r := range rels {
			parts := slices.Clone(r[1:])
			slices.Sort(parts)
			out = append(out, fmt.Sprint(r[0], parts))
		}
		slices.Sort(out)
		return out
	}
	if g, w := norm(got), norm(want); !slices.Equal(g, w) {
		t.Errorf("relations\n got %v\nwant %v", g, w)
	}
}

// TestDetermined compares the null-space test of suppressSecondary with
// the rank test on random small systems.
func TestDetermined(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		m, n := 1+rng.IntN(6), 1+rng.IntN(6)
		a := mat.NewDense(m, n, nil)
		for i := range m {
			for j := range n {
				if rng.IntN(3) == 0 {
					a.Set(i, j, float64(1-2*rng.IntN(2)))
				}
			}
		}
		got := determined(a)
		for j := range n {
			aug := mat.NewDense(m+1, n, nil)
			aug.Slice(0, m, 0, n).(*mat.Dense).Copy(a)
			aug.Set(m, j, 1)
			var s1, s2 mat.SVD
			s1.Factorize(a, mat.SVDNone)
			s2.Factorize(aug, mat.SVDNone)
			want := s1.Rank(1e-10) == s2.Rank(1e-10)
			if got[j] != want {
				t.Fatalf("trial %d: unknown %d of\n%v\ndetermined = %v, want %v", trial, j, mat.Formatted(a), got[j], want)
			}
		}
	}
}
