package plan

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/query"
)

// TestProfileSamplesPersonsOnLargeTables: over more than
// ProfileFullRows rows the profile reads one in Sample persons, and its
// histograms times Sample estimate the full ones within binomial error;
// the sample depends on the seed; below the size it reads everyone.
func TestProfileSamplesPersonsOnLargeTables(t *testing.T) {
	db := openDB(t, testPolicy())
	// 4,000 persons with 1–12 rows over 20 shared codes.
	mustExec(t, db, `INSERT INTO npr
		SELECT pid, DATE '2015-01-01' + r::INTEGER, 'C' || ((pid * 7 + r * 13) % 20),
			['inpatient', 'outpatient', 'day'][1 + (pid + r) % 3], 'Helse Bergen', (pid * r) % 90
		FROM range(4000) p(pid), range(12) s(r)
		WHERE r <= pid % 12`)
	q := &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", nprICD)},
		Aggs: []query.Aggregate{countStar("n"), losBounded(query.AggSum, "s")}}
	hist := func(p *Plan) map[string]float64 {
		out := map[string]float64{}
		for what, h := range tallyRows(t, p.Profile, queryRows(t, db, p.Profile.SQL)) {
			for b, n := range h {
				if n > 0 {
					out[fmt.Sprintf("%s/%d", what, b+1)] += float64(n)
				}
			}
		}
		return out
	}
	full, err := Bound(q, testPolicy(), &Options{Seed: 3, TableRows: map[string]int64{"npr": ProfileFullRows}})
	if err != nil {
		t.Fatal(err)
	}
	if full.Profile.Sample != 1 || strings.Contains(full.Profile.SQL, "% 1 = 0") {
		t.Fatalf("at ProfileFullRows rows: sample %d, want 1 (no filter)", full.Profile.Sample)
	}
	want := hist(full)
	if want["groups/1"]+want["groups/2"]+want["groups/3"]+want["groups/4"] < 1000 {
		t.Fatalf("full profile %v: too few persons", want)
	}
	// Sizes count as the data map publishes them (two significant
	// figures), so exact sizes within one published size sample alike.
	for rows, want := range map[int64]int{ProfileFullRows + 1: 1, 2_049_999: 1, 2_050_000: 3, 10_000_000: 10, 10_049_999: 10, 100_000_000: 100} {
		p, err := Bound(q, testPolicy(), &Options{Seed: 3, TableRows: map[string]int64{"npr": rows}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Profile.Sample != want {
			t.Errorf("at %d rows: sample %d, want %d", rows, p.Profile.Sample, want)
		}
	}
	var samples []map[string]float64
	for _, seed := range []uint64{3, 4} {
		p, err := Bound(q, testPolicy(), &Options{Seed: seed, TableRows: map[string]int64{"npr": 4 * ProfileSampleRows}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Profile.Sample != 4 || !strings.Contains(p.Profile.SQL, "% 4 = 0") {
			t.Fatalf("at 4 × ProfileSampleRows rows: sample %d, want 4:\n%s", p.Profile.Sample, p.Profile.SQL)
		}
		got := hist(p)
		samples = append(samples, got)
		for _, what := range []string{ProfileGroups, ProfileRows} {
			var total, wantTotal float64
			for k, n := range want {
				if strings.HasPrefix(k, what+"/") {
					wantTotal += n
					total += got[k]
				}
			}
			// Each person is in the sample with probability 1/4: the
			// scaled count has variance 16 · n · (1/4)(3/4) = 3n; 5 σ
			// (a missing or wrong scale is off by a factor of 2 or more).
			if tol := 5 * math.Sqrt(3*wantTotal); math.Abs(4*total-wantTotal) > tol {
				t.Errorf("seed %d, %s: 4 × %g sampled persons, %g in all (tolerance %.0f)", seed, what, total, wantTotal, tol)
			}
		}
		for k, n := range want {
			if n < 300 {
				continue
			}
			if tol := 5 * math.Sqrt(3*n); math.Abs(4*got[k]-n) > tol {
				t.Errorf("seed %d, bucket %s: 4 × %g, want about %g (tolerance %.0f)", seed, k, got[k], n, tol)
			}
		}
	}
	same := true
	for k := range want {
		if samples[0][k] != samples[1][k] {
			same = false
		}
	}
	if same {
		t.Error("seeds 3 and 4 sampled the same histograms: the sample ignores the seed")
	}
}
