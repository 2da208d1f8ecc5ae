// Package plausible warns when a released measure is mostly noise: when
// the standard deviation of the noise added to it exceeds the whole range
// its true value can plausibly take. A count of persons lies between 0
// and the persons in the data, a count of rows between 0 and the rows of
// the datasets read, a mean or quantile between the column's clamping
// bounds. At a tiny ε the noise can dwarf that range (ε = 1e-9 once
// answered "2,578,057,025 men" out of 20,000 persons); the answer is still
// private, but a reader must be told it says nothing.
//
// The check reads only released values (the noise's standard deviation,
// the clamping bounds) and public sizes (the data map's rounded row
// counts), so it is post-processing and costs no privacy.
package plausible

import (
	"fmt"
	"math"

	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
)

// Sizes are the public sizes the plausible ranges are drawn from: upper
// estimates, never exact counts.
type Sizes struct {
	// Persons bounds the persons in the data (the data map's rounded size
	// of the persons register, or of the largest dataset read).
	Persons float64
	// Rows bounds the rows the query reads (the rounded row counts of its
	// datasets, added up).
	Rows float64
}

// Width returns the width of the range a's true value can plausibly take
// in one group, and a short description of that range; 0 when nothing
// sensible bounds it.
func Width(a plan.Agg, s Sizes) (float64, string) {
	lo, hi := a.Bounds[0], a.Bounds[1]
	span := hi - lo
	switch a.Kind {
	case query.AggCountDistinct:
		return s.Persons, fmt.Sprintf("0 to about %s persons", count(s.Persons))
	case query.AggCountStar, query.AggCount:
		return s.Rows, fmt.Sprintf("0 to about %s rows", count(s.Rows))
	case query.AggSum:
		m := max(math.Abs(lo), math.Abs(hi))
		return s.Rows * m, fmt.Sprintf("about ±%s rows × %g", count(s.Rows), m)
	case query.AggAvg, query.AggQuantile:
		return span, fmt.Sprintf("%g to %g, the column's bounds", lo, hi)
	case query.AggStddev:
		return span / 2, fmt.Sprintf("0 to %g, half the column's bounds", span/2)
	case query.AggVariance:
		return span * span / 4, fmt.Sprintf("0 to %g, the square of half the column's bounds", span*span/4)
	}
	return 0, ""
}

// Warnings returns one warning when the release threshold of the noisy
// person count (res.Meta.SuppressBelow) exceeds the persons in the data —
// then every row is suppressed but for the few the noise alone lifts over
// it, and those say nothing — and one per measure column of res whose
// largest released noise standard deviation exceeds the width of its
// plausible range (Width). aggs are the aggregates of the plan res was
// released from; a measure column is matched to its aggregate by name.
func Warnings(res *result.Result, aggs []plan.Agg, s Sizes) []string {
	byName := make(map[string]plan.Agg, len(aggs))
	for _, a := range aggs {
		byName[a.Name] = a
	}
	var out []string
	if t := res.Meta.SuppressBelow; s.Persons > 0 && t > s.Persons {
		out = append(out, fmt.Sprintf(
			"at this ε the noise is larger than the data: a row is released only when its noisy person count reaches %s, more than the about %s persons in the data, so rows are suppressed whatever their true size and a row released by the noise alone says nothing; ask with a larger ε",
			count(math.Ceil(t)), count(s.Persons)))
	}
	for i, c := range res.Columns {
		a, ok := byName[c.Name]
		if c.Role != result.RoleMeasure || !ok {
			continue
		}
		sd := 0.0
		for _, r := range res.Rows {
			if i < len(r.Cells) && !r.Cells[i].Suppressed {
				sd = max(sd, r.Cells[i].StdDev)
			}
		}
		w, what := Width(a, s)
		if w <= 0 || sd <= w {
			continue
		}
		out = append(out, fmt.Sprintf(
			"%s is mostly noise: the noise's standard deviation (%.3g) exceeds the whole range its true value can plausibly take (%s); ask with a larger ε, fewer groups or narrower bounds",
			c.Name, sd, what))
	}
	return out
}

// count prints a size with thousands separators.
func count(n float64) string {
	s := fmt.Sprintf("%.0f", n)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
