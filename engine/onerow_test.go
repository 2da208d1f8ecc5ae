package engine

import (
	"context"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/synth"
)

// TestOneRowPerPersonIsCheckedOnTheFile: plans trust the policy's
// one_row_per_person (one group per person, one row per person in the
// partials), so the engine checks it on the extracts themselves. Rows
// appended to death_causes by a `deliver` run with another policy file
// (one where death_causes may repeat a person) would let one person add
// several rows to noise calibrated for one: the reload is refused and the
// old version keeps serving; a fresh engine on that file does not start.
func TestOneRowPerPersonIsCheckedOnTheFile(t *testing.T) {
	e := openEngine(t, nil)
	ctx := context.Background()
	before := e.ExtractVersion()

	other := *e.Policy()
	other.Datasets = maps.Clone(other.Datasets)
	dc := *other.Datasets["death_causes"]
	dc.OneRowPerPerson = false
	other.Datasets["death_causes"] = &dc

	src := t.TempDir()
	if _, err := synth.Generate(ctx, &synth.Options{Persons: 300, Seed: 5, OutDir: src}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(src, "death_causes.parquet")
	for range 2 { // the second delivery repeats every person of the first
		if _, err := exec.Deliver(ctx, &exec.DeliverOptions{Policy: &other, DataDir: e.opts.DataDir, Dataset: "death_causes", Files: []string{file}}); err != nil {
			t.Fatal(err)
		}
	}
	_, changed, err := e.Reload(ctx)
	if err == nil || changed || !strings.Contains(err.Error(), "one_row_per_person") {
		t.Fatalf("Reload of extracts repeating death_causes persons = %v, %v; want refused naming one_row_per_person", changed, err)
	}
	if v := e.ExtractVersion(); v.ID != before.ID {
		t.Errorf("after the refused reload the version is %s, want the old %s", v.ID, before.ID)
	}
	res, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: "SELECT count(*) AS deaths FROM death_causes"})
	if err != nil || res.Meta.Extract != before.ID {
		t.Errorf("after the refused reload: %v; want answers from the old version", err)
	}
	opts := e.opts
	if _, err := New(ctx, &opts); err == nil || !strings.Contains(err.Error(), "one_row_per_person") {
		t.Errorf("New on the repeating extracts = %v, want refused", err)
	}
}
