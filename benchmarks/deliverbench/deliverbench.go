// Package deliverbench measures a delivery onto a large registry (issue
// 19): `statgate deliver` of a 1 % npr delivery onto the benchmark npr
// while closed-loop clients keep asking an engine that watches the
// extracts, as `statgate serve --watch-extracts` does.
//
// One run reports: the seconds from the delivery's start until new
// requests run on the new version (and until a client's answer names
// it), the same rows loaded alone with `statgate load` and the ratio of
// the two, the copy-and-append alternative (copy the extracts file,
// INSERT the delivery inside it, checkpoint) timed on the same data —
// all three under the same closed-loop load, and again idle after it —,
// the clients' answers and errors through the switch and their median
// latency before and after it (the cost of reading a dataset as a view
// over two parts), and a refused delivery (one NULL person key): the
// version, its fingerprint and the exact data must stay byte-identical.
package deliverbench

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the raw DuckDB of the copy-and-append option

	"github.com/statgate/statgate/benchmarks"
	"github.com/statgate/statgate/benchmarks/internal/stats"
	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/delivery"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/state/sqlite"
	"github.com/statgate/statgate/policies"
)

// Options configure Run.
type Options struct {
	// Cache is the benchmark data cache (benchmarks.Prepare).
	Cache string
	// Scratch holds the run's data directories; removed afterwards.
	Scratch string
	// Rows is the base npr's size, DeliveryRows the delivery's.
	Rows, DeliveryRows int64
	Groups             int
	Seed               uint64
	// Clients ask closed-loop through the delivery.
	Clients int
	// Watch is how often the engine checks the extracts file.
	Watch       time.Duration
	MemoryLimit string
	Threads     int
	// QueryTimeout bounds each execution of the engine and of the exact
	// check (0: 15 minutes; a 100 M-row question on a loaded 2-core
	// machine takes minutes, and the benchmark is about the switch).
	QueryTimeout time.Duration
	// SkipCopy leaves out the copy-and-append option.
	SkipCopy bool
	// Progress receives a line per step; nil: silent.
	Progress io.Writer
}

// Result is one run.
type Result struct {
	Machine            benchmarks.Machine
	Rows, DeliveryRows int64
	Clients            int
	Watch              time.Duration
	// Deliver is exec.Deliver's time with its audit entry; Visible from
	// the delivery's start until the engine runs new requests on it;
	// FirstAnswer until a client's answer named the new version. All
	// three with the clients asking.
	Deliver, Visible, FirstAnswer float64
	// LoadAlone is `statgate load` of the delivery's rows alone, with the
	// clients asking (the delivery's conditions).
	LoadAlone float64
	// Copy is the copy-and-append option: copy extracts.duckdb, append
	// the rows inside it, checkpoint (0 when skipped), with the clients
	// asking.
	Copy float64
	// The same three without clients, after them: the delivery's rows
	// delivered again (VisibleIdle until the engine runs on them),
	// loaded alone, copied and appended.
	DeliverIdle, VisibleIdle, LoadAloneIdle, CopyIdle float64
	// Answers and Errors of the clients through the switch; Old and New
	// how many answers named each version.
	Answers, Errors, Old, New int
	FirstError                string
	// MedianOld and MedianNew are the clients' median seconds per answer
	// on each version.
	MedianOld, MedianNew float64
	// Refused is the refused delivery's message; RefusedSame whether the
	// version, the fingerprint and the exact data stayed the same.
	Refused     string
	RefusedSame bool
}

// question is what the clients ask (repeats are off: each is a release).
const question = "SELECT contact_type, count(*) AS contacts, avg(length_of_stay_days) AS mean_los FROM npr GROUP BY 1"

// exact is the raw aggregate a refused delivery must leave unchanged.
const exact = "SELECT contact_type, count(*) AS n, sum(length_of_stay_days) AS los, count(DISTINCT pid) AS persons FROM npr GROUP BY 1 ORDER BY 1"

// Prepare generates and loads the base and the delivery registries into
// o.Cache (what Run does first), so that a later Run only measures.
func Prepare(ctx context.Context, o Options) error {
	for _, spec := range specs(o) {
		if _, err := benchmarks.Prepare(ctx, o.Cache, spec, false, o.Progress); err != nil {
			return err
		}
	}
	return nil
}

// specs are the base and the delivery registries of o.
func specs(o Options) [2]benchmarks.Spec {
	return [2]benchmarks.Spec{
		{Rows: o.Rows, Groups: o.Groups, Seed: o.Seed},
		// npr rows of another seed, over persons of the base.
		{Rows: o.DeliveryRows, Groups: o.Groups, Seed: o.Seed + 1000},
	}
}

// Run runs the benchmark once.
func Run(ctx context.Context, o Options) (*Result, error) {
	logf := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	r := &Result{Machine: benchmarks.DescribeMachine(ctx), Rows: o.Rows, DeliveryRows: o.DeliveryRows, Clients: o.Clients, Watch: o.Watch}
	sp := specs(o)
	base, err := benchmarks.Prepare(ctx, o.Cache, sp[0], false, o.Progress)
	if err != nil {
		return nil, err
	}
	del, err := benchmarks.Prepare(ctx, o.Cache, sp[1], false, o.Progress)
	if err != nil {
		return nil, err
	}
	file := del.Path(benchmarks.NPRParquet)
	if err := os.MkdirAll(o.Scratch, 0o755); err != nil {
		return nil, err
	}
	pol, err := benchmarks.Policy()
	if err != nil {
		return nil, err
	}
	dir, err := base.StateDir(o.Scratch)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 15 * time.Minute
	}
	e, err := engine.New(ctx, &engine.Options{Policy: pol, DataDir: dir, State: st, MemoryLimit: o.MemoryLimit, Threads: o.Threads, NoRepeats: true, QueryTimeout: o.QueryTimeout})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go e.WatchExtracts(wctx, o.Watch, nil)
	old := e.ExtractVersion()

	// The refused delivery first: the delivery file with one NULL key.
	bad := filepath.Join(o.Scratch, "npr-bad.parquet")
	defer os.Remove(bad)
	if err := rawExec(ctx, "", "COPY (SELECT CASE WHEN pid = (SELECT min(pid) FROM read_parquet("+quote(file)+")) THEN NULL ELSE pid END AS pid, * EXCLUDE (pid) FROM read_parquet("+quote(file)+")) TO "+quote(bad)+" (FORMAT parquet)"); err != nil {
		return nil, err
	}
	before, fpBefore, err := exactData(ctx, dir, o.QueryTimeout)
	if err != nil {
		return nil, err
	}
	_, rerr := delivery.Deliver(ctx, &delivery.Options{Policy: pol, DataDir: dir, Dataset: "npr", Files: []string{bad}, Principal: "bench", Audit: st.Audit()})
	if rerr == nil {
		return nil, errors.New("the delivery with a NULL person key was accepted")
	}
	r.Refused = rerr.Error()
	time.Sleep(2 * o.Watch)
	after, fpAfter, err := exactData(ctx, dir, o.QueryTimeout)
	if err != nil {
		return nil, err
	}
	r.RefusedSame = after == before && fpAfter == fpBefore && e.ExtractVersion().ID == old.ID
	logf("refused: %s (unchanged: %v)", r.Refused, r.RefusedSame)

	// Closed-loop clients through the real delivery.
	type answer struct {
		version int64
		seconds float64
		at      time.Time
		err     error
	}
	var (
		mu      sync.Mutex
		answers []answer
		wg      sync.WaitGroup
	)
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	newOnes := make(chan struct{}, 1024)
	for range o.Clients {
		wg.Go(func() {
			for lctx.Err() == nil {
				start := time.Now()
				res, err := e.Query(lctx, engine.Principal{Name: benchmarks.Principal}, engine.Request{Project: benchmarks.Project, SQL: question})
				if lctx.Err() != nil && err != nil {
					return // stopped
				}
				a := answer{seconds: time.Since(start).Seconds(), at: time.Now(), err: err}
				if err == nil {
					a.version = res.Meta.ExtractVersion
				}
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
				if err == nil && a.version != old.Counter {
					newOnes <- struct{}{}
				}
			}
		})
	}
	// Let the clients answer on the old version first (as many answers as
	// clients).
	for {
		mu.Lock()
		n := len(answers)
		mu.Unlock()
		if n >= o.Clients {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The three ways of adding the rows, each with the clients asking:
	// loading them alone, copying the extracts and appending inside, and
	// the delivery.
	lt, err := del.MeasureLoad(ctx, benchmarks.NPRParquet, o.Scratch)
	if err != nil {
		stopLoad()
		wg.Wait()
		return nil, err
	}
	r.LoadAlone = lt.Seconds
	logf("load of the %d delivered rows alone, clients asking: %.2fs", lt.Rows, lt.Seconds)
	if !o.SkipCopy {
		if r.Copy, err = copyAndAppend(ctx, base.ExtractsDir(), o.Scratch, file); err != nil {
			stopLoad()
			wg.Wait()
			return nil, err
		}
		logf("copy and append, clients asking: %.2fs", r.Copy)
	}
	logf("delivering %d rows with %d clients asking", o.DeliveryRows, o.Clients)
	t0 := time.Now()
	r.Deliver, r.Visible, _, err = deliverVisible(ctx, e, pol, dir, file, st, o.Progress)
	if err != nil {
		stopLoad()
		wg.Wait()
		return nil, err
	}
	logf("delivered in %.2fs, visible after %.2fs", r.Deliver, r.Visible)
	// As many answers on the new version as clients.
	for range o.Clients {
		select {
		case <-newOnes:
		case <-time.After(15 * time.Minute):
			return nil, errors.New("no answers on the new version in 15 minutes")
		}
	}
	stopLoad()
	wg.Wait()
	var oldS, newS []float64
	for _, a := range answers {
		r.Answers++
		switch {
		case a.err != nil:
			r.Errors++
			if r.FirstError == "" {
				r.FirstError = a.err.Error()
			}
		case a.version == old.Counter:
			r.Old++
			oldS = append(oldS, a.seconds)
		default:
			r.New++
			newS = append(newS, a.seconds)
			if d := a.at.Sub(t0).Seconds(); r.FirstAnswer == 0 || d < r.FirstAnswer {
				r.FirstAnswer = d
			}
		}
	}
	r.MedianOld, r.MedianNew = stats.Median(oldS), stats.Median(newS)

	// The same without clients: the rows delivered again (an append of
	// the same rows is a delivery like another), loaded alone, copied.
	if r.DeliverIdle, r.VisibleIdle, _, err = deliverVisible(ctx, e, pol, dir, file, st, o.Progress); err != nil {
		return nil, err
	}
	logf("idle: delivered in %.2fs, visible after %.2fs", r.DeliverIdle, r.VisibleIdle)
	stopWatch()
	if lt, err = del.MeasureLoad(ctx, benchmarks.NPRParquet, o.Scratch); err != nil {
		return nil, err
	}
	r.LoadAloneIdle = lt.Seconds
	logf("idle: load of the delivered rows alone: %.2fs", r.LoadAloneIdle)
	if !o.SkipCopy {
		if r.CopyIdle, err = copyAndAppend(ctx, base.ExtractsDir(), o.Scratch, file); err != nil {
			return nil, err
		}
		logf("idle: copy and append: %.2fs", r.CopyIdle)
	}
	return r, nil
}

// deliverVisible delivers file to npr in dir and waits until e runs new
// requests on it: the seconds of the delivery (with its audit entry) and
// until visible.
func deliverVisible(ctx context.Context, e *engine.Engine, pol *policies.Policy, dir, file string, st *sqlite.Store, progress io.Writer) (float64, float64, *exec.DeliverReport, error) {
	t0 := time.Now()
	rep, err := delivery.Deliver(ctx, &delivery.Options{Policy: pol, DataDir: dir, Dataset: "npr", Files: []string{file}, Principal: "bench", Audit: st.Audit(), Progress: progress})
	if err != nil {
		return 0, 0, nil, err
	}
	d := time.Since(t0).Seconds()
	for e.ExtractVersion().Counter != rep.Version {
		if time.Since(t0) > 10*time.Minute {
			return 0, 0, nil, errors.New("the delivery did not become visible in 10 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return d, time.Since(t0).Seconds(), rep, nil
}

// exactData reads the exact aggregate and the fingerprint of the
// extracts in dataDir through a read-only locked-down DB of its own.
func exactData(ctx context.Context, dataDir string, timeout time.Duration) (string, string, error) {
	db, err := exec.Open(ctx, &exec.Options{Path: exec.ExtractsPath(dataDir), ReadOnly: true, QueryTimeout: timeout})
	if err != nil {
		return "", "", err
	}
	defer db.Close()
	fp, err := db.Fingerprint(ctx)
	if err != nil {
		return "", "", err
	}
	rr, err := db.QueryArrow(ctx, exact)
	if err != nil {
		return "", "", err
	}
	defer rr.Release()
	var b strings.Builder
	for rr.Next() {
		j, err := json.Marshal(rr.RecordBatch())
		if err != nil {
			return "", "", err
		}
		b.Write(j)
	}
	return b.String(), fp, rr.Err()
}

// copyAndAppend times the alternative to a manifest of parts: copy the
// extracts file (the servers hold it open read-only, so DuckDB cannot
// write it in place), INSERT the delivery inside the copy, checkpoint.
func copyAndAppend(ctx context.Context, extractsDir, scratch, file string) (float64, error) {
	dst := filepath.Join(scratch, "copy-append.duckdb")
	defer os.Remove(dst)
	defer os.Remove(dst + ".wal")
	start := time.Now()
	in, err := os.Open(exec.ExtractsPath(extractsDir))
	if err != nil {
		return 0, err
	}
	out, err := os.Create(dst)
	if err != nil {
		in.Close()
		return 0, err
	}
	_, err = io.Copy(out, in)
	in.Close()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	cols := "pid, contact_date, icd10, contact_type, hospital, length_of_stay_days"
	if err := rawExec(ctx, dst, "INSERT INTO npr ("+cols+") SELECT "+cols+" FROM read_parquet("+quote(file)+")", "CHECKPOINT"); err != nil {
		return 0, err
	}
	return time.Since(start).Seconds(), nil
}

// rawExec runs statements on an unrestricted DuckDB of path ("" in memory).
func rawExec(ctx context.Context, path string, stmts ...string) error {
	db, err := sql.Open("duckdb", path)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
