package main

import (
	"math"
	"slices"
	"testing"

	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"
)

func TestSplitBudget(t *testing.T) {
	const eps, delta = 1.2, 3e-6
	for _, tc := range []struct {
		desc              string
		noise, partitions string
		want              budget
	}{
		{
			desc: "per-aggregate laplace", noise: noiseLaplace, partitions: partitionsPerAggregate,
			want: budget{
				Persons: share{AggEpsilon: eps / 3, SelDelta: delta / 3},
				Rows:    share{AggEpsilon: eps / 6, SelEpsilon: eps / 6, SelDelta: delta / 3},
				Mean:    share{AggEpsilon: eps / 6, SelEpsilon: eps / 6, SelDelta: delta / 3},
			},
		},
		{
			desc: "per-aggregate gaussian", noise: noiseGaussian, partitions: partitionsPerAggregate,
			want: budget{
				Persons: share{AggEpsilon: eps / 3, AggDelta: delta / 6, SelDelta: delta / 6},
				Rows:    share{AggEpsilon: eps / 6, AggDelta: delta / 6, SelEpsilon: eps / 6, SelDelta: delta / 6},
				Mean:    share{AggEpsilon: eps / 6, AggDelta: delta / 6, SelEpsilon: eps / 6, SelDelta: delta / 6},
			},
		},
		{
			desc: "shared laplace", noise: noiseLaplace, partitions: partitionsShared,
			want: budget{
				Persons:   share{AggEpsilon: eps / 4},
				Rows:      share{AggEpsilon: eps / 4},
				Mean:      share{AggEpsilon: eps / 4},
				Selection: share{SelEpsilon: eps / 4, SelDelta: delta},
			},
		},
		{
			desc: "shared gaussian", noise: noiseGaussian, partitions: partitionsShared,
			want: budget{
				Persons:   share{AggEpsilon: eps / 4, AggDelta: delta / 4},
				Rows:      share{AggEpsilon: eps / 4, AggDelta: delta / 4},
				Mean:      share{AggEpsilon: eps / 4, AggDelta: delta / 4},
				Selection: share{SelEpsilon: eps / 4, SelDelta: delta / 4},
			},
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got := splitBudget(eps, delta, tc.noise, tc.partitions)
			if !budgetsClose(got, tc.want) {
				t.Errorf("splitBudget = %+v, want %+v", got, tc.want)
			}
			tot := got.total()
			if e := tot.AggEpsilon + tot.SelEpsilon; math.Abs(e-eps) > 1e-12 {
				t.Errorf("shares add up to ε = %v, want %v", e, eps)
			}
			if d := tot.AggDelta + tot.SelDelta; math.Abs(d-delta) > 1e-18 {
				t.Errorf("shares add up to δ = %v, want %v", d, delta)
			}
			if _, err := pbeam.NewPrivacySpec(got.specParams(5)); err != nil {
				t.Errorf("pbeam.NewPrivacySpec rejects the split: %v", err)
			}
		})
	}
}

func TestShareSpecParams(t *testing.T) {
	const eps, delta, pre = 1.2, 3e-6, 5
	for _, tc := range []struct {
		desc              string
		noise, partitions string
		// wantStages are the stages the staged plan runs; wantPre those
		// whose spec carries the pre-threshold (they select partitions).
		wantStages, wantPre []string
	}{
		{desc: "per-aggregate laplace", noise: noiseLaplace, partitions: partitionsPerAggregate,
			wantStages: []string{stagePersons, stageRows, stageMean}, wantPre: []string{stagePersons, stageRows, stageMean}},
		{desc: "per-aggregate gaussian", noise: noiseGaussian, partitions: partitionsPerAggregate,
			wantStages: []string{stagePersons, stageRows, stageMean}, wantPre: []string{stagePersons, stageRows, stageMean}},
		{desc: "shared laplace", noise: noiseLaplace, partitions: partitionsShared,
			wantStages: []string{stageSelect, stagePersons, stageRows, stageMean}, wantPre: []string{stageSelect}},
		{desc: "shared gaussian", noise: noiseGaussian, partitions: partitionsShared,
			wantStages: []string{stageSelect, stagePersons, stageRows, stageMean}, wantPre: []string{stageSelect}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			b := splitBudget(eps, delta, tc.noise, tc.partitions)
			shares := map[string]share{stageSelect: b.Selection, stagePersons: b.Persons, stageRows: b.Rows, stageMean: b.Mean}
			var sumEps, sumDelta float64
			var withPre []string
			for _, name := range tc.wantStages {
				p := shares[name].specParams(pre)
				if _, err := pbeam.NewPrivacySpec(p); err != nil {
					t.Errorf("stage %s: pbeam.NewPrivacySpec rejects %+v: %v", name, p, err)
				}
				if p.PreThreshold == pre {
					withPre = append(withPre, name)
				}
				sumEps += p.AggregationEpsilon + p.PartitionSelectionEpsilon
				sumDelta += p.AggregationDelta + p.PartitionSelectionDelta
			}
			if !slices.Equal(withPre, tc.wantPre) {
				t.Errorf("stages with the pre-threshold %v, want %v", withPre, tc.wantPre)
			}
			if math.Abs(sumEps-eps) > 1e-12 || math.Abs(sumDelta-delta) > 1e-18 {
				t.Errorf("stage specs add up to (ε, δ) = (%v, %v), want (%v, %v)", sumEps, sumDelta, eps, delta)
			}
		})
	}
}

// budgetsClose compares budgets up to floating-point rounding.
func budgetsClose(a, b budget) bool {
	eq := func(x, y share) bool {
		near := func(u, v float64) bool { return math.Abs(u-v) <= 1e-15*math.Max(1, math.Abs(v)) }
		return near(x.AggEpsilon, y.AggEpsilon) && near(x.AggDelta, y.AggDelta) &&
			near(x.SelEpsilon, y.SelEpsilon) && near(x.SelDelta, y.SelDelta)
	}
	return eq(a.Persons, b.Persons) && eq(a.Rows, b.Rows) && eq(a.Mean, b.Mean) && eq(a.Selection, b.Selection)
}
