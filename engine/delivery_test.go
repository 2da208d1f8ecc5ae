package engine

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/delivery"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/synth"
	"github.com/statgate/statgate/policies"
)

// TestDeliveryIsANewVersion: after `statgate deliver` appended npr rows
// and the engine reloaded, answers name the new version (its counter and
// the declared "data up to" month), the data map shows the delivery time,
// and a question already answered on the old version is a new release on
// the new one, paid again; the delivery is an audit entry in the verified
// chain. A refused delivery changes nothing: the same version, and the
// repeat of a question is the stored answer, byte for byte.
func TestDeliveryIsANewVersion(t *testing.T) {
	// The registry declares npr's contact dates public through 2025 (a
	// delivery may not reach past a date column's public years).
	e := openEngine(t, func(o *Options) {
		for _, c := range o.Policy.Datasets["npr"].Columns {
			if c.Type == policies.TypeDate && c.Years != nil {
				c.Years[1] = 2025
			}
		}
	})
	ctx := context.Background()
	req := Request{Project: "diabetes-2026", SQL: "SELECT contact_type, count(*) AS contacts FROM npr GROUP BY 1"}
	before := e.ExtractVersion()
	nprBefore := e.current().sizes["npr"]
	first, err := e.Query(ctx, ingrid, req)
	if err != nil {
		t.Fatal(err)
	}
	if first.Meta.ExtractVersion != before.Counter || first.Meta.DataUpTo["npr"] != "2025-12" {
		t.Errorf("meta before: version %d data up to %v; want %d and npr's public years' end 2025-12 (no delivery declared an end yet)", first.Meta.ExtractVersion, first.Meta.DataUpTo, before.Counter)
	}
	src := t.TempDir()
	if _, err := synth.Generate(ctx, &synth.Options{Persons: 500, Seed: 99, OutDir: src}); err != nil {
		t.Fatal(err)
	}
	deliver := func(files ...string) (*exec.DeliverReport, error) {
		return delivery.Deliver(ctx, &delivery.Options{Policy: e.Policy(), DataDir: e.opts.DataDir, Dataset: "npr", Files: files,
			Through: time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC), Principal: "registry-ops", Audit: e.audit})
	}

	// Refused: a file that is not npr's (population's columns).
	if _, err := deliver(filepath.Join(src, "population.parquet")); err == nil {
		t.Fatal("a population file delivered as npr was accepted")
	}
	if v, changed, err := e.Reload(ctx); err != nil || changed || v.ID != before.ID {
		t.Fatalf("after a refused delivery Reload = %+v, %v, %v; want the same version", v, changed, err)
	}
	again, err := e.Query(ctx, ingrid, req)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(first.Rows)
	b, _ := json.Marshal(again.Rows)
	if !again.Meta.Cached || string(a) != string(b) || again.Meta.Extract != first.Meta.Extract {
		t.Errorf("after a refused delivery the repeat is cached %v, rows equal %v; want the stored answer", again.Meta.Cached, string(a) == string(b))
	}

	rep, err := deliver(filepath.Join(src, "npr.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	after, changed, err := e.Reload(ctx)
	if err != nil || !changed || after.Counter != before.Counter+1 || after.Counter != rep.Version {
		t.Fatalf("Reload after the delivery = %+v, %v, %v; want version %d", after, changed, err, before.Counter+1)
	}
	if got := e.current().sizes["npr"]; rep.Rows == 0 || got != nprBefore+rep.Rows {
		t.Fatalf("npr has %d rows after delivering %d onto %d", got, rep.Rows, nprBefore)
	}
	res, err := e.Query(ctx, ingrid, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Meta.Cached || res.Meta.Epsilon == 0 || res.Meta.Extract != after.ID || res.Meta.ExtractVersion != after.Counter || res.Meta.DataUpTo["npr"] != "2025-01" {
		t.Errorf("on the new version: cached %v ε %v extract %s version %d up to %v; want a paid release naming %s, %d, 2025-01",
			res.Meta.Cached, res.Meta.Epsilon, res.Meta.Extract, res.Meta.ExtractVersion, res.Meta.DataUpTo, after.ID, after.Counter)
	}
	ds, ok := e.current().catalog.Dataset("npr")
	if !ok || ds.LastDelivery == nil || ds.LastDelivery.Before(rep.Delivered.Add(-time.Second)) || ds.DataUpTo != "2025-01" {
		t.Errorf("data map npr: last delivery %v, up to %q; want %s and 2025-01", ds.LastDelivery, ds.DataUpTo, rep.Delivered)
	}
	if pop, _ := e.current().catalog.Dataset("population"); pop.LastDelivery == nil || !pop.LastDelivery.Before(rep.Delivered) {
		t.Errorf("data map population: last delivery %v, want its load's, before %s", pop.LastDelivery, rep.Delivered)
	}

	// Both deliveries are in the audit log, which verifies.
	entries, err := e.audit.List(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []audit.Entry
	for _, en := range entries {
		if en.Kind == delivery.Kind {
			got = append(got, en)
		}
	}
	if len(got) != 2 || got[0].Outcome != audit.OutcomeRefused || got[1].Outcome != audit.OutcomeReleased ||
		got[1].Principal != "registry-ops" || got[1].ResultDigest != rep.Fingerprint || got[1].Datasets[0] != "npr" {
		t.Fatalf("delivery audit entries %+v; want a refused one, then the delivery by registry-ops with its fingerprint", got)
	}
	var p delivery.Params
	if err := json.Unmarshal(got[1].Params, &p); err != nil || p.Rows != rep.Rows || p.Version != rep.Version || p.Mode != exec.ModeAppend {
		t.Errorf("params %s: want rows %d, version %d, append", got[1].Params, rep.Rows, rep.Version)
	}
	if vr, err := e.audit.Verify(ctx); err != nil || !vr.OK {
		t.Errorf("audit verify: %+v, %v", vr, err)
	}
}

// TestDeliveryAbandonedWithoutAudit: a delivery whose audit entry cannot
// be written does not go live.
func TestDeliveryAbandonedWithoutAudit(t *testing.T) {
	e := openEngine(t, nil)
	ctx := context.Background()
	src := t.TempDir()
	if _, err := synth.Generate(ctx, &synth.Options{Persons: 200, Seed: 5, OutDir: src}); err != nil {
		t.Fatal(err)
	}
	before := e.ExtractVersion()
	st := openState(t, t.TempDir())
	st.Close() // a closed store: every append fails
	_, err := delivery.Deliver(ctx, &delivery.Options{Policy: e.Policy(), DataDir: e.opts.DataDir, Dataset: "npr",
		Files: []string{filepath.Join(src, "npr.parquet")}, Principal: "ops", Audit: st.Audit()})
	if err == nil {
		t.Fatal("delivered without an audit entry")
	}
	if v, changed, err := e.Reload(ctx); err != nil || changed || v.ID != before.ID {
		t.Errorf("Reload = %+v, %v, %v; want the old version", v, changed, err)
	}
	parts, _ := os.ReadDir(exec.PartsDir(e.opts.DataDir))
	if len(parts) != 0 {
		t.Errorf("parts/ holds %d files after an abandoned first delivery, want none", len(parts))
	}
}
