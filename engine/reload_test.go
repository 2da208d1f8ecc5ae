package engine

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/synth"
)

// TestReloadNamesTheNewExtracts: every answer's meta names the extracts
// version it was computed from, and after `statgate load` replaced the
// file with other data and the engine reloaded, answers name the new one.
func TestReloadNamesTheNewExtracts(t *testing.T) {
	e := openEngine(t, nil)
	ctx := context.Background()
	req := Request{Project: "diabetes-2026", SQL: "SELECT sex, count(*) AS persons FROM population GROUP BY 1"}
	before := e.ExtractVersion()
	res, err := e.Query(ctx, ingrid, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Meta.Extract != before.ID || len(before.ID) != 32 {
		t.Fatalf("meta.extract = %q, want the extracts' version ID %q", res.Meta.Extract, before.ID)
	}
	if strings.Contains(before.Fingerprint, res.Meta.Extract) {
		t.Fatalf("meta.extract %q is part of the fingerprint %q, an exact function of every row", res.Meta.Extract, before.Fingerprint)
	}
	if _, changed, err := e.Reload(ctx); err != nil || changed {
		t.Fatalf("Reload of an unchanged file = %v, %v; want unchanged", changed, err)
	}
	// Other registries (another seed), loaded into the engine's data
	// directory as `statgate load` does: a new file renamed over the old.
	src := t.TempDir()
	if _, err := synth.Generate(ctx, &synth.Options{Persons: 2000, Seed: 99, OutDir: src}); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.Load(ctx, &exec.LoadOptions{Policy: e.Policy(), DataDir: e.opts.DataDir, ExtractsDir: src}); err != nil {
		t.Fatal(err)
	}
	after, changed, err := e.Reload(ctx)
	if err != nil || !changed || after.Fingerprint == before.Fingerprint {
		t.Fatalf("Reload after a new load = %+v, %v, %v; want a new version", after, changed, err)
	}
	res, err = e.Query(ctx, ingrid, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Meta.Extract != after.ID {
		t.Errorf("after the reload meta.extract = %q, want the new %q", res.Meta.Extract, after.ID)
	}
	if got := e.current().sizes["population"]; got != 2000 {
		t.Errorf("population has %d rows after the reload, want the new load's 2000", got)
	}
	// A broken file in its place is refused; the new extracts keep serving.
	if err := os.WriteFile(exec.ExtractsPath(e.opts.DataDir), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Reload(ctx); err == nil {
		t.Error("Reload of a garbage file succeeded")
	}
	if res, err := e.Query(ctx, ingrid, req); err != nil || res.Meta.Extract != after.ID {
		t.Errorf("after a refused reload: %v, extract %v; want answers from %s", err, res, after.ID)
	}
}
