package epi

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Empirical privacy tests: the release is run many times with real noise
// on the cells of two neighbouring datasets (one person more), and the
// privacy loss is estimated from the two distributions of a released
// number: ε̂ = the largest |ln(P_a(v) / P_b(v))| over values v both
// distributions hit often. It must not exceed the ε paid (with a margin
// for sampling error), and a release noised for twice the ε must be
// caught, which shows the estimate can fail.

// cellRows builds the Arrow batch of a grid query: text keys, then
// measures (int64 when every value is whole, else float64).
func cellRows(t *testing.T, keys [][]string, measures [][]float64, keyNames, measureNames []string) arrow.RecordBatch {
	t.Helper()
	var fields []arrow.Field
	for _, n := range keyNames {
		fields = append(fields, arrow.Field{Name: n, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	for _, n := range measureNames {
		fields = append(fields, arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	for r := range keys {
		for k, v := range keys[r] {
			b.Field(k).(*array.StringBuilder).Append(v)
		}
		for m, v := range measures[r] {
			b.Field(len(keyNames) + m).(*array.Float64Builder).Append(v)
		}
	}
	return b.NewRecordBatch()
}

// reader returns a fresh reader over one batch.
func reader(t *testing.T, rec arrow.RecordBatch) array.RecordReader {
	t.Helper()
	rr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// empiricalEpsilon estimates the privacy loss from two samples of a
// whole-numbered output.
func empiricalEpsilon(a, b []float64, minCount int) float64 {
	ca, cb := map[float64]int{}, map[float64]int{}
	for _, v := range a {
		ca[v]++
	}
	for _, v := range b {
		cb[v]++
	}
	var worst float64
	for v, na := range ca {
		nb := cb[v]
		if na < minCount || nb < minCount {
			continue
		}
		worst = math.Max(worst, math.Abs(math.Log(float64(na)/float64(nb))))
	}
	return worst
}

const privacyRuns = 25000

func TestSurvivalEmpiricalEpsilon(t *testing.T) {
	if testing.Short() {
		t.Skip("statistical")
	}
	q := &SurvivalQuery{Index: Source{Dataset: "cancer", PersonKey: "pid", Column: "diagnosis_date", Alias: IndexAlias},
		Event: Source{Dataset: "death_causes", PersonKey: "pid", Column: "death_date", Alias: EventAlias},
		End:   time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC), Interval: IntervalYear, Horizon: 2}
	p, err := PlanSurvival(q)
	if err != nil {
		t.Fatal(err)
	}
	// The neighbour is one more person followed beyond the horizon: the
	// released at_risk at time 2 is that one cell's noisy count.
	batch := func(beyond float64) arrow.RecordBatch {
		return cellRows(t, [][]string{{"0", "event"}, {"0", "censored"}, {"1", "event"}, {"1", "censored"}, {"2", "beyond"}},
			[][]float64{{40}, {10}, {20}, {10}, {beyond}}, []string{"j", "outcome"}, []string{"n"})
	}
	base, neighbour := batch(60), batch(61)
	defer base.Release()
	defer neighbour.Release()
	sample := func(eps float64, rec arrow.RecordBatch) []float64 {
		rel, err := p.Prepare(&Options{Epsilon: eps})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float64, privacyRuns)
		for i := range out {
			res, err := rel.Apply(context.Background(), reader(t, rec))
			if err != nil {
				t.Fatal(err)
			}
			pt := res.Strata[0].Points[1]
			if pt.AtRisk == nil {
				t.Fatal("at_risk withheld without a minimum cell count")
			}
			out[i] = *pt.AtRisk
		}
		return out
	}
	for _, tc := range []struct {
		desc       string
		released   float64 // the ε the release is prepared with
		wantAtMost bool    // ε̂ must stay within 1 (+ sampling margin)
	}{
		{"at the ε paid", 1, true},
		{"a release noised for twice the ε is caught", 2, false},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got := empiricalEpsilon(sample(tc.released, base), sample(tc.released, neighbour), 400)
			t.Logf("ε̂ = %.3f (release prepared at ε = %g)", got, tc.released)
			if tc.wantAtMost && (got > 1.2 || got < 0.7) {
				t.Errorf("ε̂ = %.3f, want about 1 and at most 1.2", got)
			}
			if !tc.wantAtMost && got <= 1.2 {
				t.Errorf("ε̂ = %.3f for a release at ε 2: the estimate cannot tell", got)
			}
		})
	}
}

func TestRatesEmpiricalEpsilon(t *testing.T) {
	if testing.Short() {
		t.Skip("statistical")
	}
	p, err := PlanRates(&RatesQuery{Event: Source{Dataset: "npr", PersonKey: "pid", Column: "contact_date", Alias: EventAlias},
		Persons: Persons{Dataset: "population", PersonKey: "pid", BirthYear: "birth_year"},
		From:    time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC), Per: 100000})
	if err != nil {
		t.Fatal(err)
	}
	// One grid cell (no strata): the neighbour has one event and ten
	// years at risk more. The released events are that cell's noisy count.
	batch := func(events, days float64) arrow.RecordBatch {
		return cellRows(t, [][]string{{}}, [][]float64{{days, events}}, nil, []string{"days", "events"})
	}
	base, neighbour := batch(40, 3_000_000), batch(41, 3_000_000+3653)
	defer base.Release()
	defer neighbour.Release()
	sample := func(eps float64, rec arrow.RecordBatch) []float64 {
		rel, err := p.Prepare(&Options{Epsilon: eps})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float64, privacyRuns)
		for i := range out {
			res, err := rel.Apply(context.Background(), reader(t, rec))
			if err != nil {
				t.Fatal(err)
			}
			out[i] = *res.Rows[0].Events.Value
		}
		return out
	}
	got := empiricalEpsilon(sample(1, base), sample(1, neighbour), 400)
	share := EventsShare(3653 / daysPerYear)
	t.Logf("ε̂ of the events = %.3f (ε 1, of which %.2f to events)", got, share)
	if got > 1.1 || got < 0.6 {
		t.Errorf("ε̂ = %.3f, want about %.2f and at most 1.1", got, share)
	}
	if got := empiricalEpsilon(sample(2.5, base), sample(2.5, neighbour), 400); got <= 1.1 {
		t.Errorf("ε̂ = %.3f for a release at ε 2.5: the estimate cannot tell", got)
	}
}
