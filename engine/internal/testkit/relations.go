package testkit

import "github.com/statgate/statgate/engine/result"

// Relation is one additive relation among the rows of a result with
// totals, as protect's secondary suppression and package consist see
// them: the row of a coarser grouping set (Margin) and the rows of one
// finer grouping set that agree with it on its keys (Details), by index
// into the result's rows.
type Relation struct {
	Margin  int
	Details []int
}

// Relations lists the relations among res's rows over every pair of
// grouping sets S ⊂ T. The keys are res's first nKeys columns and a
// row's grouping set is read off its nil key cells, so the keys must
// have no NULL values of their own. The order is unspecified.
func Relations(res *result.Result, nKeys int) []Relation {
	pattern := func(r result.Row) uint {
		var p uint
		for k := range nKeys {
			if r.Cells[k].Value != nil {
				p |= 1 << k
			}
		}
		return p
	}
	var out []Relation
	for m, mr := range res.Rows {
		pm := pattern(mr)
		byFiner := map[uint][]int{}
		for d, dr := range res.Rows {
			pd := pattern(dr)
			if pd == pm || pd&pm != pm {
				continue
			}
			agree := true
			for k := range nKeys {
				if pm&(1<<k) != 0 && mr.Cells[k].Value != dr.Cells[k].Value {
					agree = false
				}
			}
			if agree {
				byFiner[pd] = append(byFiner[pd], d)
			}
		}
		for _, ds := range byFiner {
			out = append(out, Relation{Margin: m, Details: ds})
		}
	}
	return out
}

// Tally returns, for the float64 count column c of res, how many rows of
// the relation (its margin included) are suppressed and the sum of its
// released details.
func (rl Relation) Tally(res *result.Result, c int) (suppressed int, sum float64) {
	if res.Rows[rl.Margin].Cells[c].Suppressed {
		suppressed++
	}
	for _, d := range rl.Details {
		cell := res.Rows[d].Cells[c]
		if cell.Suppressed {
			suppressed++
			continue
		}
		sum += cell.Value.(float64)
	}
	return suppressed, sum
}
