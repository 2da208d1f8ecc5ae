package engine

import (
	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/engine/plausible"
)

// publicSizes are the rounded sizes of the data map for datasets: the
// rows they hold added up, and the persons of the persons register (or,
// without one, the rows). A dataset under 1,000 rows, published as
// "fewer than 1,000", counts as 1,000.
func (x *loaded) publicSizes(datasets []string) plausible.Sizes {
	var s plausible.Sizes
	for _, d := range datasets {
		approx, _ := catalog.Approx(x.sizes[d])
		s.Rows += float64(max(approx, 1000))
	}
	s.Persons = float64(x.persons)
	if s.Persons == 0 {
		s.Persons = s.Rows
	}
	return s
}
