package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/statgate/statgate/engine/delivery"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/internal/testkit"
)

// switchDelivery writes delivery k of TestNoRequestFailsDuringSwitches:
// 100 contacts with code Q90 (which the base data never has), each by a
// person of its own that no other delivery uses, in month k of 2023, and
// returns the file and the month's last day.
func switchDelivery(t *testing.T, dir string, k int) (string, time.Time) {
	t.Helper()
	month := time.Date(2023, time.Month(k), 1, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	b.WriteString("pid,contact_date,icd10,contact_type,hospital,length_of_stay_days\n")
	for i := range 100 {
		fmt.Fprintf(&b, "%d,%s,Q90,outpatient,Helse Bergen,0\n", 5_000_000+k*1000+i, month.AddDate(0, 0, i%28).Format(time.DateOnly))
	}
	f := filepath.Join(dir, fmt.Sprintf("npr-%02d.csv", k))
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return f, month.AddDate(0, 1, -1)
}

// TestNoRequestFailsDuringSwitches: clients ask without pause while
// deliveries make version after version (with a compaction and a prune of
// the unused parts after every fourth) and the engine switches to each
// as `serve --watch-extracts` does. No request fails, and no answer is
// half-switched: an answer naming version c has exactly version c's data
// (no noise here: the count of the delivered contacts is 100 per delivery
// up to c), its "data up to" month, and its ID.
func TestNoRequestFailsDuringSwitches(t *testing.T) {
	e := openEngine(t, func(o *Options) {
		o.Noise = testkit.FakeNoise{Noise: noise.Laplace()}
		o.NoRepeats = true // every answer executes on its snapshot
		o.Policy.Projects["diabetes-2026"].Budget.Epsilon = 1e4
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.WatchExtracts(ctx, 2*time.Millisecond, nil)
	c0 := e.ExtractVersion().Counter

	type answer struct {
		version int64
		id      string
		upTo    string
		n       any
		err     error
	}
	var (
		mu      sync.Mutex
		answers []answer
		wg      sync.WaitGroup
	)
	questions := []string{
		"SELECT count(*) AS n FROM npr WHERE icd10 = 'Q90'",
		"SELECT contact_type, count(*) AS n FROM npr WHERE icd10 = 'Q90' GROUP BY 1",
	}
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				res, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: questions[(w+i)%2], Epsilon: 1})
				if ctx.Err() != nil {
					return
				}
				a := answer{err: err}
				if err == nil {
					a.version, a.id, a.upTo = res.Meta.ExtractVersion, res.Meta.Extract, res.Meta.DataUpTo["npr"]
					for _, r := range res.Rows {
						if c := r.Cells[len(r.Cells)-1]; c.Value != nil {
							a.n = c.Value
						}
					}
				}
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
			}
		})
	}

	src := t.TempDir()
	const deliveries = 8
	ids := map[int64]string{c0: e.ExtractVersion().ID}
	months := map[int64]string{}
	counts := map[int64]float64{}
	for k := 1; k <= deliveries; k++ {
		f, through := switchDelivery(t, src, k)
		rep, err := delivery.Deliver(context.Background(), &delivery.Options{Policy: e.Policy(), DataDir: e.opts.DataDir, Dataset: "npr",
			Files: []string{f}, Through: through, Principal: "ops", Audit: e.audit})
		if err != nil {
			t.Fatal(err)
		}
		for e.ExtractVersion().Counter != rep.Version {
			time.Sleep(time.Millisecond)
		}
		ids[rep.Version] = e.ExtractVersion().ID
		months[rep.Version] = through.Format("2006-01")
		counts[rep.Version] = float64(100 * k)
		time.Sleep(30 * time.Millisecond) // answers on this version too
		if k%4 != 0 {
			continue
		}
		// Compact npr (a new version of the same rows: the same ID, data
		// up to and count), then remove the parts no version uses while
		// requests still run on older snapshots.
		cr, err := delivery.Compact(context.Background(), &delivery.CompactOptions{DataDir: e.opts.DataDir, Principal: "ops", Audit: e.audit})
		if err != nil || cr.Datasets["npr"] < 2 {
			t.Fatalf("compact = %+v, %v", cr, err)
		}
		for e.ExtractVersion().Counter != cr.Version {
			time.Sleep(time.Millisecond)
		}
		if id := e.ExtractVersion().ID; id != ids[rep.Version] {
			t.Errorf("the compacted version is named %s, the one before %s: the same data should keep its ID", id, ids[rep.Version])
		}
		ids[cr.Version], months[cr.Version], counts[cr.Version] = ids[rep.Version], months[rep.Version], counts[rep.Version]
		if pr, err := exec.Prune(context.Background(), &exec.PruneOptions{DataDir: e.opts.DataDir}); err != nil || len(pr.Removed) == 0 {
			t.Fatalf("prune = %+v, %v; want the merged parts removed", pr, err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	cancel()
	wg.Wait()

	seen := map[int64]int{}
	for _, a := range answers {
		if a.err != nil {
			t.Errorf("a request failed during the switches: %v", a.err)
			continue
		}
		seen[a.version]++
		if a.id != ids[a.version] {
			t.Errorf("an answer names version %d with extract %s; that version is %s", a.version, a.id, ids[a.version])
		}
		if a.version == c0 {
			continue
		}
		if a.upTo != months[a.version] || a.n != counts[a.version] {
			t.Errorf("an answer on version %d: data up to %s, %v Q90 contacts; that version holds data up to %s and %v", a.version, a.upTo, a.n, months[a.version], counts[a.version])
		}
	}
	if len(seen) < deliveries/2 {
		t.Errorf("answers came from %d versions (%v) of %d; the clients did not ask through the switches", len(seen), seen, deliveries+1)
	}
	t.Logf("%d answers, 0 errors, over %d versions", len(answers), len(seen))
}
