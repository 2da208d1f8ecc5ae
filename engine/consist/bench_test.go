package consist

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/statgate/statgate/engine/result"
)

// BenchmarkApply makes noisy CUBE tables consistent: a 12 × 15 table
// (dense fit) and a municipality × year × sex table of 10,680 finest cells
// (conjugate gradients), a fifth of its finest cells suppressed in the
// second variant.
func BenchmarkApply(b *testing.B) {
	for _, tc := range []struct {
		dims     []int
		suppress bool
	}{
		{[]int{12, 15}, false},
		{[]int{356, 15, 2}, false},
		{[]int{356, 15, 2}, true},
	} {
		g := newGrid(tc.dims, cubeSets(len(tc.dims)))
		rng := rand.New(rand.NewPCG(1, 2))
		fine := make([]float64, g.nFine())
		for f := range fine {
			fine[f] = float64(rng.IntN(60))
		}
		truth := g.truth(fine)
		cells := make([]result.Cell, len(truth))
		for r, x := range truth {
			if tc.suppress && r < g.nFine() && rng.IntN(5) == 0 {
				cells[r] = sup("min_cell_count")
				continue
			}
			cells[r] = rel(max(x+4*rng.NormFloat64(), 0), 4)
		}
		res := g.result(cells)
		b.Run(fmt.Sprintf("cells=%d,rows=%d,suppressed=%v", g.nFine(), len(truth), tc.suppress), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Apply(res)
			}
		})
	}
}
