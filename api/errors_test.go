package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
)

// TestKindStatus pins the status of each refusal kind (the statuses
// engine/refusal documents) and checks every registered code gets its
// kind's status from toProblem.
func TestKindStatus(t *testing.T) {
	want := map[refusal.Kind]int{
		refusal.KindQuery:      http.StatusUnprocessableEntity,
		refusal.KindBadRequest: http.StatusBadRequest,
		refusal.KindBudget:     http.StatusConflict,
		refusal.KindForbidden:  http.StatusForbidden,
		refusal.KindNotFound:   http.StatusNotFound,
	}
	for k, status := range want {
		if got, title := kindStatus(k); got != status || title == "" {
			t.Errorf("kindStatus(%v) = %d %q, want %d", k, got, title, status)
		}
	}
	for _, c := range refusal.Codes() {
		p := toProblem(context.Background(), refusal.New(c, "m", "h"))
		if p.Status != want[c.Kind()] || p.Code != c.String() || p.Type != ProblemTypeBase+c.String() {
			t.Errorf("%s (%v): problem %d %s %s, want %d", c, c.Kind(), p.Status, p.Code, p.Type, want[c.Kind()])
		}
	}
}

// TestProblemCodesApartFromRefusals checks the API's own codes: each is
// snake_case, declared once, an error status, answered with that status,
// and not also a refusal code, so a client reading a code knows which
// layer found the problem and what status it has.
func TestProblemCodesApartFromRefusals(t *testing.T) {
	if len(problemCodes) < 15 {
		t.Fatalf("%d API problem codes; the list lost some", len(problemCodes))
	}
	seen := map[string]bool{}
	for _, c := range problemCodes {
		if seen[c.name] {
			t.Errorf("%s declared twice", c.name)
		}
		seen[c.name] = true
		if _, ok := refusal.Lookup(c.name); ok {
			t.Errorf("%s is both an API problem code and a refusal code", c.name)
		}
		if c.status < 400 || c.status > 599 {
			t.Errorf("%s: status %d", c.name, c.status)
		}
		if p := toProblem(context.Background(), errorf(c, "", "detail")); p.Status != c.status || p.Code != c.name {
			t.Errorf("%s: problem %d %s, want %d", c.name, p.Status, p.Code, c.status)
		}
	}
	for _, tc := range []struct {
		err  error
		want problemCode
	}{
		{context.DeadlineExceeded, codeTimeout},
		{context.Canceled, codeClientClosedRequest},
		{http.ErrHandlerTimeout, codeInternal},
	} {
		if p := toProblem(context.Background(), tc.err); p.Status != tc.want.status || p.Code != tc.want.name {
			t.Errorf("toProblem(%v) = %d %s, want %d %s", tc.err, p.Status, p.Code, tc.want.status, tc.want.name)
		}
	}
}

// TestOpenAPINamesProblemCodes checks the OpenAPI document's Problem.code
// names every API problem code.
func TestOpenAPINamesProblemCodes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				Problem struct {
					Properties struct {
						Code struct {
							Description string `json:"description"`
						} `json:"code"`
					} `json:"properties"`
				} `json:"Problem"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	desc := doc.Components.Schemas.Problem.Properties.Code.Description
	for _, c := range problemCodes {
		if !strings.Contains(desc, c.name) {
			t.Errorf("openapi.json: Problem.code does not name %s", c.name)
		}
	}
}
