package exec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCompactAndPrune: after two npr deliveries npr is read from three
// parts; Compact merges them into one part as a new version with the same
// rows, fingerprint and public ID; a DB still open on the old version
// keeps reading after Prune removed the parts it alone used; Prune keeps
// the parts of a version a server is opening (its OpeningLink), ignores
// a link left by a process that no longer runs, and waits for --grace.
func TestCompactAndPrune(t *testing.T) {
	dir, data, pol := deliverFixture(t)
	ctx := context.Background()
	for k := range 2 {
		f := filepath.Join(dir, fmt.Sprintf("npr-%d.parquet", k))
		copyTo(t, fmt.Sprintf(`SELECT range + 1 AS pid, DATE '2026-0%d-01' AS contact_date, 'E11' AS icd10, 1.0 AS length_of_stay_days FROM range(20)`, k+1), f)
		if _, err := Deliver(ctx, &DeliverOptions{Policy: pol, DataDir: data, Dataset: "npr", Files: []string{f}}); err != nil {
			t.Fatal(err)
		}
	}
	cur := ExtractsPath(data)
	old := openExtracts(t, data)
	defer old.Close()
	fp0, err := old.Fingerprint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id0, _ := old.VersionID(ctx, fp0)
	v0, _ := old.Version(ctx)
	// A server opening the old version right now.
	opening := OpeningLink(cur, 1)
	if err := os.Link(cur, opening); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	stale := filepath.Join(data, ".extracts.duckdb.open-"+host+"-999999999-1")
	if err := os.Link(cur, stale); err != nil {
		t.Fatal(err)
	}

	rep, err := Compact(ctx, &CompactOptions{DataDir: data, Principal: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Datasets["npr"] != 3 || len(rep.Datasets) != 1 || rep.Rows != 340 || rep.Version != v0.Counter+1 || rep.Fingerprint != fp0 {
		t.Fatalf("compaction %+v; want npr's 3 parts merged, 340 rows, version %d, fingerprint unchanged", rep, v0.Counter+1)
	}
	db := openFresh(t, data)
	fp1, _ := db.Fingerprint(ctx)
	id1, _ := db.VersionID(ctx, fp1)
	v1, _ := db.Version(ctx)
	if fp1 != fp0 || id1 != id0 || v1.Counter != rep.Version || fp1 != recomputed(t, db) {
		t.Errorf("compacted version: fingerprint %s ID %s counter %d; want %s, %s (the same data) and %d", fp1, id1, v1.Counter, fp0, id0, rep.Version)
	}
	if got := queryRow(t, db, "SELECT count(*), count(*) FILTER (WHERE contact_date >= DATE '2026-01-01') FROM npr"); got[0] != int64(340) || got[1] != int64(40) {
		t.Errorf("npr after compaction: %v, want 340 rows, 40 delivered", got)
	}
	db.Close()
	parts, err := readParts(ctx, cur)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 { // the base (population) and npr's merged part
		t.Errorf("the compacted version lists %d parts (%v), want 2", len(parts), parts)
	}
	// Nothing left to compact: no new version.
	if again, err := Compact(ctx, &CompactOptions{DataDir: data, Principal: "ops"}); err != nil || len(again.Datasets) != 0 || again.Version != 0 {
		t.Errorf("a second compaction = %+v, %v; want nothing done", again, err)
	}

	if pr, err := Prune(ctx, &PruneOptions{DataDir: data, Grace: time.Hour}); err != nil || pr.Wait <= 0 || len(pr.Removed) != 0 {
		t.Errorf("prune within the grace period = %+v, %v; want a wait, nothing removed", pr, err)
	}
	pr, err := Prune(ctx, &PruneOptions{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Removed) != 0 || len(pr.Opening) != 1 || len(pr.Stale) != 1 {
		t.Errorf("prune while a server opens the old version = %+v; want nothing removed, one opening, one stale link", pr)
	}
	os.Remove(opening)
	os.Remove(stale)
	dry, err := Prune(ctx, &PruneOptions{DataDir: data, DryRun: true})
	if err != nil || len(dry.Removed) != 2 {
		t.Fatalf("dry run = %+v, %v; want npr's two delivery parts", dry, err)
	}
	for _, f := range dry.Removed {
		if !strings.Contains(f, "-npr-") || strings.Contains(f, "compact") {
			t.Errorf("prune would remove %s; want only npr's delivery parts", f)
		}
		if _, err := os.Stat(filepath.Join(data, f)); err != nil {
			t.Errorf("the dry run removed %s", f)
		}
	}
	pr, err = Prune(ctx, &PruneOptions{DataDir: data})
	if err != nil || len(pr.Removed) != 2 {
		t.Fatalf("prune = %+v, %v; want the two parts removed", pr, err)
	}
	for _, f := range pr.Removed {
		if _, err := os.Stat(filepath.Join(data, f)); err == nil {
			t.Errorf("%s is still there", f)
		}
	}
	// The server still on the old version reads its (removed) parts.
	if got := queryRow(t, old, "SELECT count(*) FROM npr"); got[0] != int64(340) {
		t.Errorf("the old version after prune: %v rows, want 340", got[0])
	}
	// And the current version opens afresh.
	db = openFresh(t, data)
	defer db.Close()
	if got := queryRow(t, db, "SELECT count(*) FROM npr"); got[0] != int64(340) {
		t.Errorf("the current version after prune: %v rows, want 340", got[0])
	}
}

// openFresh opens the extracts of dataDir under a name of their own (a
// hard link beside them, as engine/extract makes): the driver shares one DuckDB
// instance per path, so opening the path while an older version is open
// would return that.
func openFresh(t *testing.T, dataDir string) *DB {
	t.Helper()
	link := filepath.Join(dataDir, fmt.Sprintf(".fresh-%d.duckdb", time.Now().UnixNano()))
	if err := os.Link(ExtractsPath(dataDir), link); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(link)
	db, err := Open(context.Background(), &Options{Path: link, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	return db
}
