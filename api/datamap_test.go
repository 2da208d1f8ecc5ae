package api

import (
	"testing"

	"github.com/statgate/statgate/engine/catalog"
)

// mapEngine is a fakeEngine whose policy says data_map: mode.
type mapEngine struct {
	*fakeEngine
	mode string
}

func (m mapEngine) DataMap() string { return m.mode }
func (m mapEngine) CodeLists() []catalog.CodeList {
	return []catalog.CodeList{{Name: "sex", Kind: "code_list", Count: 2, UsedBy: []string{"people.sex"}}}
}
func (m mapEngine) CodeList(name, q string) (catalog.CodeList, bool) {
	if name != "sex" {
		return catalog.CodeList{}, false
	}
	return catalog.CodeList{Name: "sex", Kind: "code_list", Count: 2, UsedBy: []string{"people.sex"},
		Codes: []catalog.Code{{Code: "F", Name: "female"}, {Code: "M", Name: "male"}}}, true
}

// TestDataMapVisibility: data_map public serves the data map's four
// routes without a token; token (and an engine that does not say) asks
// for one; other routes need a token either way.
func TestDataMapVisibility(t *testing.T) {
	paths := []string{"/v1/datasets", "/v1/datasets/npr", "/v1/codelists", "/v1/codelists/sex"}
	for _, tc := range []struct {
		desc   string
		mod    func(*Options)
		status int
	}{
		{"public", func(o *Options) { o.Engine = mapEngine{&fakeEngine{}, "public"} }, 200},
		{"token", func(o *Options) { o.Engine = mapEngine{&fakeEngine{}, "token"} }, 401},
		{"engine without DataMap", nil, 401},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			ts := newTestServer(t, nil, tc.mod)
			for _, p := range paths {
				if w := ts.do(req{method: "GET", path: p}); w.Code != tc.status {
					t.Errorf("GET %s without a token: %d, want %d: %s", p, w.Code, tc.status, w.Body)
				}
				if w := ts.do(req{method: "GET", path: p, token: "tok-ingrid"}); w.Code != 200 && p != "/v1/codelists/sex" {
					t.Errorf("GET %s with a token: %d", p, w.Code)
				}
			}
			if w := ts.do(req{method: "GET", path: "/v1/templates"}); w.Code != 401 {
				t.Errorf("templates without a token: %d", w.Code)
			}
		})
	}
	ts := newTestServer(t, nil, func(o *Options) { o.Engine = mapEngine{&fakeEngine{}, "public"} })
	w := ts.do(req{method: "GET", path: "/v1/codelists/sex"})
	if w.Code != 200 || w.Body.String() != `{"name":"sex","kind":"code_list","count":2,"used_by":["people.sex"],"codes":[{"code":"F","name":"female"},{"code":"M","name":"male"}]}` {
		t.Errorf("code list: %d %s", w.Code, w.Body)
	}
	if w := ts.do(req{method: "GET", path: "/v1/codelists/nope"}); w.Code != 404 {
		t.Errorf("unknown code list: %d %s", w.Code, w.Body)
	}
}
