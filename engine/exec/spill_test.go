package exec

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSpillDirUnderLockdown: a query larger than memory_limit spills into
// the DB's own directory under Options.SpillDir, set before the lock-down,
// and completes; no query can read that directory or move it; Close
// removes it.
func TestSpillDirUnderLockdown(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "extracts.duckdb")
	// 3 M distinct keys: their hash aggregate and sort need well over the
	// 64 MB limit below.
	admin(t, "ATTACH "+quoteString(path)+" AS x",
		"CREATE TABLE x.t AS SELECT i AS a, hash(i) AS h FROM range(3000000) r(i)",
		"DETACH x")
	spillParent := filepath.Join(dir, "spill")
	if err := os.Mkdir(spillParent, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := Open(ctx, &Options{Path: path, ReadOnly: true, MemoryLimit: "64MB", Threads: 1, SpillDir: spillParent})
	if err != nil {
		t.Fatal(err)
	}
	var tempDir, external string
	if err := db.sql.QueryRowContext(ctx, "SELECT current_setting('temp_directory'), current_setting('enable_external_access')::VARCHAR").Scan(&tempDir, &external); err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(tempDir) != spillParent || !strings.HasPrefix(filepath.Base(tempDir), spillPrefix) || external != "false" {
		t.Fatalf("temp_directory %q, external access %s; want a %s* directory in %s and false", tempDir, external, spillPrefix, spillParent)
	}
	own := []string{tempDir}
	// Both shapes of the L0 step's cut-off: a hash aggregate of fixed-size
	// states and a window's sort. The directory is watched while they run.
	var spilled atomic.Int64
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			if files, _ := os.ReadDir(own[0]); int64(len(files)) > spilled.Load() {
				spilled.Store(int64(len(files)))
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	for _, q := range []string{
		"SELECT count(*) AS n, sum(c) AS s FROM (SELECT a, h, count(*) AS c FROM t GROUP BY a, h)",
		"SELECT count(*) AS n, sum(rn) AS s FROM (SELECT a % 1000 AS p, row_number() OVER (PARTITION BY a % 1000 ORDER BY h) AS rn FROM t)",
	} {
		rr, err := db.QueryArrow(ctx, q)
		if err != nil {
			t.Fatalf("%s under a 64 MB limit: %v", q, err)
		}
		_, rows := readAll(t, rr)
		if len(rows) != 1 || rows[0][0] != int64(3000000) {
			t.Errorf("%s = %v", q, rows)
		}
	}
	close(done)
	<-watched
	if spilled.Load() == 0 {
		t.Errorf("nothing was spilled into %s: the test does not exercise spilling", own[0])
	}
	// DuckDB adds its temp directory to the directories a query may use
	// (allowed_directories), so generated SQL could name files in it:
	// only DuckDB's own pages of this instance, which holds nothing a
	// query of its tables could not read (plans never call a file
	// function). Nothing outside it is reachable, through ".." neither,
	// and the directory cannot be moved.
	for _, q := range []string{
		"SELECT * FROM read_text(" + quoteString(path) + ")",
		"SELECT * FROM read_text(" + quoteString(own[0]+"/../../extracts.duckdb") + ")",
		"SELECT * FROM read_blob(" + quoteString(own[0]+"/../*") + ")",
		"SELECT * FROM glob(" + quoteString(spillParent+"/*") + ")",
		"COPY (SELECT 1) TO " + quoteString(own[0]+"/../out.csv"),
		"SET temp_directory = " + quoteString(dir),
		"SET GLOBAL temp_directory = " + quoteString(dir),
		"SET allowed_directories = [" + quoteString(dir) + "]",
		"SET max_temp_directory_size = '1TB'",
	} {
		rr, err := db.QueryArrow(ctx, q)
		if err == nil {
			for rr.Next() {
			}
			err = rr.Err()
			rr.Release()
		}
		if err == nil {
			t.Errorf("%s succeeded, want it refused", q)
		}
	}
	if err := db.sql.QueryRowContext(ctx, "SELECT current_setting('temp_directory')").Scan(&tempDir); err != nil || tempDir != own[0] {
		t.Errorf("temp_directory now %q (%v)", tempDir, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(own[0]); !os.IsNotExist(err) {
		t.Errorf("Close left %s (%v)", own[0], err)
	}
}

// TestSpillDirDefaultsBesideTheFile: without SpillDir a file's DB spills
// into a directory beside the file named for its path: opening the path
// again shares DuckDB's instance and that directory, while another path
// to the same file (the hard link each extracts version is opened
// through) has its own, so two versions never share DuckDB's <file>.tmp.
func TestSpillDirDefaultsBesideTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "extracts.duckdb")
	admin(t, "ATTACH "+quoteString(path)+" AS x", "CREATE TABLE x.t AS SELECT 1 AS a", "DETACH x")
	link := path + ".link-1"
	if err := os.Link(path, link); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var dirs []string
	for _, p := range []string{path, path, link} {
		db, err := Open(ctx, &Options{Path: p, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var d string
		if err := db.sql.QueryRowContext(ctx, "SELECT current_setting('temp_directory')").Scan(&d); err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(d) != dir || !strings.HasPrefix(filepath.Base(d), spillPrefix) {
			t.Errorf("temp_directory %q, want a %s* directory in %s", d, spillPrefix, dir)
		}
		dirs = append(dirs, d)
	}
	if dirs[0] != dirs[1] || dirs[0] == dirs[2] {
		t.Errorf("spill directories %v: want the first two equal (one instance), the link's its own", dirs)
	}
}
