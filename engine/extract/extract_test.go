package extract

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/policies"
)

// Two extracts files, loaded once: full (every dataset of the synthetic
// test policy) and partial (without death_causes).
var (
	fixtureOnce         sync.Once
	fullPath, partPath  string
	fixtureErr          error
	fixtureDir          string
	requiredForAcceptOK = "death_causes"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

func fixtures(t *testing.T) (full, partial string) {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "statgate-extract-test-")
		if fixtureErr != nil {
			return
		}
		load := func(name string, drop ...string) string {
			pol, err := policies.Load("../../policies/norway-synthetic.yaml")
			if err != nil {
				fixtureErr = err
				return ""
			}
			for _, d := range drop {
				delete(pol.Datasets, d)
			}
			dir := filepath.Join(fixtureDir, name)
			if _, err := exec.Load(context.Background(), &exec.LoadOptions{Policy: pol, DataDir: dir}); err != nil {
				fixtureErr = err
			}
			return exec.ExtractsPath(dir)
		}
		fullPath = load("full")
		partPath = load("partial", "death_causes")
	})
	if fixtureErr != nil {
		t.Fatalf("loading fixtures: %v", fixtureErr)
	}
	return fullPath, partPath
}

// install copies src to dst the way `statgate load` publishes a file: a
// temporary file in the same directory renamed over dst.
func install(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// served returns a data file holding a copy of src and a Set open on it,
// closed when t ends.
func served(t *testing.T, src string, accept func(context.Context, *Snapshot) (any, error)) (string, *Set) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "extracts.duckdb")
	install(t, src, path)
	s, err := Open(context.Background(), &Options{Path: path, DB: exec.Options{Threads: 1}, Accept: accept})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return path, s
}

func fingerprintOf(t *testing.T, path string) string {
	t.Helper()
	db, err := exec.Open(context.Background(), &exec.Options{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fp, err := db.Fingerprint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// hasTable reports whether a snapshot's database answers a count of table.
func hasTable(db *exec.DB, table string) error {
	return db.Prepare(context.Background(), "SELECT count(*) FROM "+table)
}

func TestOpenNamesTheVersion(t *testing.T) {
	full, part := fixtures(t)
	_, s := served(t, full, nil)
	sn, err := s.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Release()
	if want := fingerprintOf(t, full); sn.Version.Fingerprint != want || len(want) != 64 {
		t.Errorf("Version.Fingerprint = %q, want the file's fingerprint %q", sn.Version.Fingerprint, want)
	}
	if fingerprintOf(t, part) == sn.Version.Fingerprint {
		t.Error("the partial extracts have the full ones' fingerprint")
	}
	if sn.Sizes["npr"] == 0 || sn.Sizes["death_causes"] == 0 {
		t.Errorf("Sizes = %v, want the tables' row counts", sn.Sizes)
	}
	if v, _ := s.Current(); v != sn.Version {
		t.Errorf("Current = %+v, want %+v", v, sn.Version)
	}
	if s.Changed() {
		t.Error("Changed right after Open")
	}
}

// TestReloadSwapsAndDrains: after a load replaced the file, new requests
// get the new extracts while a request under way keeps the old database
// open until it releases it.
func TestReloadSwapsAndDrains(t *testing.T) {
	full, part := fixtures(t)
	path, s := served(t, full, nil)
	old, err := s.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	install(t, part, path)
	if !s.Changed() {
		t.Fatal("Changed = false after a new file was renamed over the old")
	}
	v, changed, err := s.Reload(context.Background())
	if err != nil || !changed || v.Fingerprint != fingerprintOf(t, part) {
		t.Fatalf("Reload = %+v, %v, %v; want the partial extracts, changed", v, changed, err)
	}
	if s.Changed() {
		t.Error("Changed after the reload")
	}
	cur, err := s.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	if cur.Version.Fingerprint != v.Fingerprint || hasTable(cur.DB, "death_causes") == nil {
		t.Errorf("a new request got %s, which has death_causes; want the partial extracts", cur.Version.Fingerprint)
	}
	cur.Release()
	if ents, err := os.ReadDir(filepath.Dir(path)); err != nil || len(ents) != 1 {
		t.Errorf("the data directory holds %v (%v); want only the extracts file, no link left behind", ents, err)
	}
	// The request under way still reads the old extracts …
	if err := hasTable(old.DB, "death_causes"); err != nil {
		t.Errorf("the old snapshot lost its data during the reload: %v", err)
	}
	// … until it releases them, which closes the old database.
	old.Release()
	if err := old.DB.Ping(context.Background()); err == nil {
		t.Error("the old database is still open after its last release")
	}
}

func TestReloadOfTheSameDataKeepsTheSnapshot(t *testing.T) {
	full, _ := fixtures(t)
	path, s := served(t, full, nil)
	before, _ := s.Current()
	install(t, full, path) // a load of unchanged sources: a new file, the same rows
	if !s.Changed() {
		t.Fatal("Changed = false after a new file")
	}
	v, changed, err := s.Reload(context.Background())
	if err != nil || changed || v != before {
		t.Errorf("Reload = %+v, %v, %v; want the same version, unchanged", v, changed, err)
	}
	if s.Changed() {
		t.Error("Changed stays true after reloading the same data")
	}
}

func TestReloadKeepsServingWhenTheNewFileIsBad(t *testing.T) {
	full, part := fixtures(t)
	tests := []struct {
		desc    string
		replace func(t *testing.T, path string)
		accept  func(context.Context, *Snapshot) (any, error)
	}{
		{"not a database", func(t *testing.T, path string) {
			if err := os.WriteFile(path+".tmp", []byte("not a duckdb file"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(path+".tmp", path); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"refused by Accept", func(t *testing.T, path string) { install(t, part, path) },
			func(_ context.Context, sn *Snapshot) (any, error) {
				if _, ok := sn.Sizes[requiredForAcceptOK]; !ok {
					return nil, errors.New("death_causes is not loaded")
				}
				return "ok", nil
			}},
		{"removed", func(t *testing.T, path string) { os.Remove(path) }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			path, s := served(t, full, tc.accept)
			before, _ := s.Current()
			tc.replace(t, path)
			if _, changed, err := s.Reload(context.Background()); err == nil || changed {
				t.Fatalf("Reload = %v, %v; want an error", changed, err)
			}
			sn, err := s.Acquire()
			if err != nil {
				t.Fatal(err)
			}
			defer sn.Release()
			if sn.Version != before {
				t.Errorf("after a failed reload the version is %+v, want %+v", sn.Version, before)
			}
			if err := hasTable(sn.DB, "death_causes"); err != nil {
				t.Errorf("the old extracts stopped answering: %v", err)
			}
		})
	}
}

func TestOpenRefusedByAccept(t *testing.T) {
	_, part := fixtures(t)
	path := filepath.Join(t.TempDir(), "extracts.duckdb")
	install(t, part, path)
	want := errors.New("death_causes is not loaded")
	_, err := Open(context.Background(), &Options{Path: path, Accept: func(context.Context, *Snapshot) (any, error) { return nil, want }})
	if !errors.Is(err, want) {
		t.Errorf("Open = %v, want Accept's error", err)
	}
	if _, err := Open(context.Background(), &Options{Path: filepath.Join(t.TempDir(), "none.duckdb")}); err == nil {
		t.Error("Open of a missing file succeeded")
	}
	if _, err := Open(context.Background(), nil); err == nil {
		t.Error("Open(nil) succeeded")
	}
}

func TestWatchPicksUpANewFile(t *testing.T) {
	full, part := fixtures(t)
	path, s := served(t, full, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reports := make(chan Version, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(ctx, 10*time.Millisecond, func(v Version, changed bool, err error) {
			if err == nil && changed {
				reports <- v
			}
		})
	}()
	install(t, part, path)
	select {
	case v := <-reports:
		if v.Fingerprint != fingerprintOf(t, part) {
			t.Errorf("Watch reloaded %s, want the partial extracts", v.Fingerprint)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Watch did not reload the new file")
	}
	cancel()
	<-done
}

func TestCloseWaitsForHolders(t *testing.T) {
	full, _ := fixtures(t)
	_, s := served(t, full, nil)
	sn, err := s.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Acquire(); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close = %v, want ErrClosed", err)
	}
	if err := sn.DB.Ping(context.Background()); err != nil {
		t.Errorf("a held snapshot closed under its holder: %v", err)
	}
	sn.Release()
	if err := sn.DB.Ping(context.Background()); err == nil {
		t.Error("the database is still open after Close and the last release")
	}
	if _, _, err := s.Reload(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Reload after Close = %v, want ErrClosed", err)
	}
}
