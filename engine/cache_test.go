package engine

import (
	"context"
	"encoding/json"
	"testing"
)

// TestFreeRepeatSurvivesRestart: an answer released before a restart is
// returned again, the same numbers at no cost, by an engine opened anew
// on the same state store; the key ignores the L0 step's per-query seed
// but not the ε, the project or the extracts' version.
func TestFreeRepeatSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t, nil)
	req := Request{Project: "diabetes-2026", SQL: "SELECT icd10_chapter(icd10) AS chapter, count(DISTINCT pid) AS persons FROM npr GROUP BY 1", Epsilon: 0.5}
	first, err := e.Query(ctx, ingrid, req)
	if err != nil {
		t.Fatal(err)
	}
	spentBefore := spent(t, e, "diabetes-2026", "npr")

	// The same question twice plans with two seeds, and keys alike.
	x, release, err := e.acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	key := func(r Request) string {
		pr, err := e.prepare(ctx, x, ingrid, r)
		if err != nil {
			t.Fatal(err)
		}
		return cacheKey(pr)
	}
	k1, k2 := key(req), key(req)
	if k1 != k2 {
		t.Errorf("two plans of one question key differently: %s, %s", k1, k2)
	}
	other := req
	other.Epsilon = 0.6
	if key(other) == k1 {
		t.Error("another ε keys alike")
	}
	other = req
	other.Project = "cancer-survival"
	other.SQL = "SELECT count(DISTINCT pid) AS persons FROM population"
	same := req
	same.SQL = other.SQL
	if key(other) == key(same) {
		t.Error("another project keys alike")
	}
	pr, err := e.prepare(ctx, x, ingrid, req)
	if err != nil {
		t.Fatal(err)
	}
	pr.x = &loaded{version: x.version}
	pr.x.version.Fingerprint += "-next-delivery"
	if cacheKey(pr) == k1 {
		t.Error("another extracts version keys alike")
	}

	// A new engine on the same data directory and state store.
	e2 := newEngine(t, &Options{Policy: e.pol, DataDir: e.opts.DataDir, Threads: 2})
	again, err := e2.Query(ctx, ingrid, req)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Meta.Cached || again.Meta.CachedFrom != first.Meta.QueryID || again.Meta.Epsilon != 0 {
		t.Errorf("after a restart: cached %v from %q ε %g", again.Meta.Cached, again.Meta.CachedFrom, again.Meta.Epsilon)
	}
	a, _ := json.Marshal(first.Rows)
	b, _ := json.Marshal(again.Rows)
	if string(a) != string(b) {
		t.Errorf("rows differ after a restart:\n%s\n%s", a, b)
	}
	if got := spent(t, e2, "diabetes-2026", "npr"); got != spentBefore {
		t.Errorf("spent %g after a repeat, %g before", got, spentBefore)
	}
}
