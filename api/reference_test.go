package api

import (
	"encoding/json"
	"testing"

	"github.com/statgate/statgate/engine/query"
)

// TestSQLReferenceServed checks that the reference is served without a
// token and carries the checker's allow-list as query.AllowedSQL lists it.
func TestSQLReferenceServed(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	w := ts.do(req{method: "GET", path: "/v1/sql/reference"})
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var got SQLReference
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := query.AllowedSQL()
	if len(got.Functions) != len(want.Functions) || len(got.Aggregates) != len(want.Aggregates) ||
		len(got.Refused) != len(want.Refused) || len(got.Codes) != len(want.Codes) {
		t.Fatalf("served reference has %d functions, %d aggregates, %d refused groups, %d codes; the checker's %d, %d, %d, %d",
			len(got.Functions), len(got.Aggregates), len(got.Refused), len(got.Codes),
			len(want.Functions), len(want.Aggregates), len(want.Refused), len(want.Codes))
	}
	names := map[string]bool{}
	for _, f := range got.Functions {
		names[f.Name] = true
	}
	for _, n := range query.FuncNames {
		if !names[n] {
			t.Errorf("function %s of the checker is not in the served reference", n)
		}
	}
	var minmax bool
	for _, r := range got.Refused {
		for _, n := range r.Names {
			minmax = minmax || (n == "min" && r.Code == "min_max_not_allowed" && r.Hint != "")
		}
	}
	if !minmax {
		t.Error("the served reference does not say min is refused with min_max_not_allowed and a hint")
	}
}
