package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CompactOptions configure Compact. DataDir is required.
type CompactOptions struct {
	DataDir string
	// Datasets limits the compaction to these datasets; empty: every
	// dataset read from more than MinParts parts.
	Datasets []string
	// MinParts is the fewest parts a dataset must be read from to be
	// compacted (at least 2; 0 means 2).
	MinParts int
	// Principal is who compacts (recorded in the version's history).
	Principal string
	// Commit, if set, is called with the report once the new version is
	// written and checked, before it replaces the current one; an error
	// abandons the compaction (the audit entry goes here).
	Commit func(ctx context.Context, r *CompactReport) error
	// Progress receives one line per step; nil: silent.
	Progress io.Writer
}

// CompactReport says what Compact did.
type CompactReport struct {
	// Datasets are the compacted datasets, each with the number of parts
	// it was read from; empty when there was nothing to compact (then no
	// version was made).
	Datasets map[string]int
	// Rows are the rows rewritten.
	Rows int64
	// Version is the version the compaction made, Fingerprint its
	// fingerprint: the current one's, since the rows are the same.
	Version     int64
	Fingerprint string
	Elapsed     time.Duration
}

// Compact merges, for each dataset read from several part files (a base
// and its deliveries), its parts into one new part file, and makes a new
// version reading each compacted dataset from it. The rows, and so the
// fingerprint and the public version ID, stay the same (checked before
// the version goes live); the counter moves on, so servers switch to the
// new version as after a delivery, requests under way finish on the old
// one, whose files stay until Prune removes them.
//
// It is all or nothing: on any error the current version stays as it
// was and the files written are removed. Compactions, deliveries and
// loads of one data directory run one at a time (the lock file).
func Compact(ctx context.Context, opts *CompactOptions) (*CompactReport, error) {
	start := time.Now()
	if opts == nil || opts.DataDir == "" {
		return nil, errors.New("exec.Compact: a data directory is required")
	}
	minParts := max(opts.MinParts, 2)
	unlock, err := lockData(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("exec.Compact: %w", err)
	}
	defer unlock()
	cur := ExtractsPath(opts.DataDir)
	parts, err := readParts(ctx, cur)
	if err != nil {
		return nil, fmt.Errorf("exec.Compact: %s: %w", cur, err)
	}
	rep := &CompactReport{Datasets: map[string]int{}}
	if len(parts) == 0 {
		rep.Elapsed = time.Since(start)
		return rep, nil // a base file: one part per dataset already
	}
	d := &delivery{opts: &DeliverOptions{DataDir: opts.DataDir, Principal: opts.Principal}, p: &progress{w: opts.Progress}, now: time.Now().UTC()}
	defer d.cleanup()
	if rep, err = d.compact(ctx, cur, opts, minParts); err != nil {
		return nil, fmt.Errorf("exec.Compact: %w", err)
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

func (d *delivery) compact(ctx context.Context, cur string, opts *CompactOptions, minParts int) (*CompactReport, error) {
	if err := d.open(ctx); err != nil {
		return nil, err
	}
	if err := d.readCurrent(ctx, cur); err != nil {
		return nil, fmt.Errorf("read the current extracts: %w", err)
	}
	rep := &CompactReport{Datasets: map[string]int{}}
	var names []string
	for name, st := range d.datasets {
		if len(st.sources) >= minParts && (len(opts.Datasets) == 0 || slices.Contains(opts.Datasets, name)) {
			names = append(names, name)
		}
	}
	for _, name := range opts.Datasets {
		if d.datasets[name] == nil {
			return nil, fmt.Errorf("no dataset %q in the extracts", name)
		}
	}
	if len(names) == 0 {
		return rep, nil
	}
	slices.Sort(names)
	d.key = d.curKey // the same rows: the same public version ID
	for _, name := range names {
		st := d.datasets[name]
		alias := d.nextAlias()
		rel := filepath.Join("parts", fmt.Sprintf("v%06d-%s-compact-%s.duckdb", d.counter, name, randomHex(4)))
		abs := filepath.Join(d.opts.DataDir, rel)
		d.created = append(d.created, abs)
		if err := d.exec(ctx, "ATTACH "+quoteString(abs)+" AS "+quoteIdent(alias)); err != nil {
			return nil, err
		}
		target := quoteIdent(alias) + "." + quoteIdent(name)
		if err := d.p.during(name, func() error {
			return d.exec(ctx, "CREATE TABLE "+target+" AS SELECT "+columnList(st.columns)+" FROM "+unionOf(name, st))
		}); err != nil {
			return nil, fmt.Errorf("write %s: %w", rel, err)
		}
		if err := d.exec(ctx, "CHECKPOINT "+quoteIdent(alias)); err != nil {
			return nil, err
		}
		// The merged table must hold exactly the rows the parts held.
		n, sum, err := tableSum(ctx, d.conn, target, st.columns)
		if err != nil {
			return nil, err
		}
		if n != st.rows || sum != st.hashSum {
			return nil, fmt.Errorf("%s: the merged part holds %d rows (hash sum %s), the version says %d (%s)", name, n, sum, st.rows, st.hashSum)
		}
		d.parts[alias] = rel
		rep.Datasets[name] = len(st.sources)
		rep.Rows += n
		st.sources = []string{alias}
		d.history = append(d.history, historyRow{counter: d.counter, dataset: name, mode: "compact",
			files: fmt.Sprintf("%d parts", rep.Datasets[name]), rows: n, delivered: d.now, principal: d.opts.Principal})
		d.p.printf("compact %s: %d parts into %s, %d rows (%s)", name, rep.Datasets[name], rel, n, d.since())
	}
	d.dropUnused()
	before, err := versionFingerprint(ctx, cur)
	if err != nil {
		return nil, err
	}
	rep.Version = d.counter
	commit := func(ctx context.Context, fp string) error {
		if fp != before {
			return fmt.Errorf("the compacted version's fingerprint %s differs from the current %s", fp, before)
		}
		rep.Fingerprint = fp
		if opts.Commit == nil {
			return nil
		}
		return opts.Commit(ctx, rep)
	}
	if err := d.publish(ctx, cur, "compact", commit); err != nil {
		return nil, err
	}
	return rep, nil
}

// versionFingerprint is the fingerprint of the extracts file at path.
func versionFingerprint(ctx context.Context, path string) (string, error) {
	db, err := Open(ctx, &Options{Path: path, ReadOnly: true, Threads: 1})
	if err != nil {
		return "", err
	}
	defer db.Close()
	return db.Fingerprint(ctx)
}

// removeFiles removes files, ignoring those already gone.
func removeFiles(files []string) error {
	var errs []error
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// OpeningLink is the name of the hard link a server makes beside the
// extracts file at path while it opens it (engine/extract: DuckDB then
// has a name of its own for that file): .<file>.open-<host>-<pid>-<n>.
// The link lives from before the file's parts are attached until DuckDB
// has them all open, so Prune keeps the parts of every version named by
// such a link.
func OpeningLink(path string, n int64) string {
	dir, file := filepath.Split(path)
	host, _ := os.Hostname()
	return filepath.Join(dir, fmt.Sprintf(".%s.open-%s-%d-%d", file, strings.ReplaceAll(host, "/", "_"), os.Getpid(), n))
}

// openingLinks are the OpeningLink names beside path now, each with
// whether it is stale: made on this host by a process that no longer
// runs (it crashed while opening).
func openingLinks(path string) (map[string]bool, error) {
	dir, file := filepath.Split(path)
	matches, err := filepath.Glob(filepath.Join(dir, "."+file+".open-*"))
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	host = strings.ReplaceAll(host, "/", "_")
	out := map[string]bool{}
	for _, m := range matches {
		rest := strings.TrimPrefix(filepath.Base(m), "."+file+".open-")
		fields := strings.Split(rest, "-")
		stale := false
		if len(fields) >= 3 && strings.Join(fields[:len(fields)-2], "-") == host {
			if pid, err := strconv.Atoi(fields[len(fields)-2]); err == nil && !processRuns(pid) {
				stale = true
			}
		}
		out[m] = stale
	}
	return out, nil
}

// processRuns reports whether a process with this pid runs on this host.
func processRuns(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// PruneOptions configure Prune. DataDir is required.
type PruneOptions struct {
	DataDir string
	// Grace is how long the current version must have been live before
	// the part files it no longer uses are removed (see Prune); 0: at once.
	Grace time.Duration
	// DryRun lists what would be removed and removes nothing.
	DryRun bool
}

// PruneReport says what Prune removed or kept.
type PruneReport struct {
	// Removed are the part files removed (or, on a dry run, that would
	// be), relative to the data directory; Bytes their size.
	Removed []string
	Bytes   int64
	// Opening are the versions servers were opening (OpeningLink), whose
	// parts were kept; Stale the links of crashed opens, ignored.
	Opening, Stale []string
	// Wait, when not zero, is how much longer the current version must be
	// live before its unused parts may go: nothing was removed.
	Wait time.Duration
}

// Prune removes the part files under PartsDir that neither the current
// version nor a version a server is opening right now uses.
//
// How servers learn, and why this is safe: a server (or replica) opens
// the extracts file, attaches the part files that version lists, and
// keeps them open until its last request on that version ends; it hears
// of a new version by watching the extracts file's identity
// (`--watch-extracts`) or on SIGHUP, and then opens the file now there.
// So a part file is needed again only by a server that is opening an
// older version at this moment — and each open is announced by its
// OpeningLink beside the extracts file, from before the parts are
// attached until they are — or by a server that already has it open,
// which on a local POSIX file system keeps reading it after the name is
// removed (the space is freed when its last snapshot closes). Prune
// holds the data directory's lock, so no delivery, compaction or load
// makes a new version meanwhile. On a file system several hosts share
// (NFS), a file removed by one host can fail the reads of another host
// that has it open: set Grace above the longest time a replica may stay
// on an old version (its watch interval, the query timeout and an
// open), so that every replica has switched before the files go.
func Prune(ctx context.Context, opts *PruneOptions) (*PruneReport, error) {
	if opts == nil || opts.DataDir == "" {
		return nil, errors.New("exec.Prune: a data directory is required")
	}
	unlock, err := lockData(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("exec.Prune: %w", err)
	}
	defer unlock()
	cur := ExtractsPath(opts.DataDir)
	fi, err := os.Stat(cur)
	if err != nil {
		return nil, fmt.Errorf("exec.Prune: %w", err)
	}
	rep := &PruneReport{}
	if age := time.Since(fi.ModTime()); age < opts.Grace {
		rep.Wait = opts.Grace - age
		return rep, nil
	}
	keep := map[string]bool{}
	add := func(path string) error {
		parts, err := readParts(ctx, path)
		if err != nil {
			return err
		}
		for _, p := range parts {
			keep[filepath.Clean(p.path)] = true
		}
		return nil
	}
	if err := add(cur); err != nil {
		return nil, fmt.Errorf("exec.Prune: %s: %w", cur, err)
	}
	links, err := openingLinks(cur)
	if err != nil {
		return nil, fmt.Errorf("exec.Prune: %w", err)
	}
	for link, stale := range links {
		if stale {
			rep.Stale = append(rep.Stale, filepath.Base(link))
			continue
		}
		if err := add(link); err != nil {
			if _, serr := os.Stat(link); errors.Is(serr, os.ErrNotExist) {
				continue // opened meanwhile: it holds its files now
			}
			return nil, fmt.Errorf("exec.Prune: %s: %w", link, err)
		}
		rep.Opening = append(rep.Opening, filepath.Base(link))
	}
	ents, err := os.ReadDir(PartsDir(opts.DataDir))
	if errors.Is(err, os.ErrNotExist) {
		return rep, nil
	}
	if err != nil {
		return nil, fmt.Errorf("exec.Prune: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		base := strings.TrimSuffix(name, ".wal")
		if e.IsDir() || !strings.HasSuffix(base, ".duckdb") || keep[filepath.Join("parts", base)] {
			continue
		}
		rel := filepath.Join("parts", name)
		if info, err := e.Info(); err == nil {
			rep.Bytes += info.Size()
		}
		rep.Removed = append(rep.Removed, rel)
	}
	slices.Sort(rep.Removed)
	slices.Sort(rep.Opening)
	slices.Sort(rep.Stale)
	if opts.DryRun {
		return rep, nil
	}
	abs := make([]string, len(rep.Removed))
	for i, r := range rep.Removed {
		abs[i] = filepath.Join(opts.DataDir, r)
	}
	if err := removeFiles(abs); err != nil {
		return nil, fmt.Errorf("exec.Prune: %w", err)
	}
	if err := syncDir(PartsDir(opts.DataDir)); err != nil {
		return nil, fmt.Errorf("exec.Prune: %w", err)
	}
	return rep, nil
}
