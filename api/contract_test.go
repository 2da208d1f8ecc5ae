package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/state"
)

// The real engine and token store are what New is given in production.
var (
	_ Engine        = (*engine.Engine)(nil)
	_ Authenticator = state.Tokens(nil)
)

// noTokens authenticates nobody.
type noTokens struct{}

func (*noTokens) Lookup(context.Context, string) (string, bool, error) { return "", false, nil }

// TestNewRefusesMissingDependencies: New must not build a handler that
// would serve without an engine or an authenticator.
func TestNewRefusesMissingDependencies(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Error("New(nil) built a handler")
	}
	if _, err := New(&Options{Auth: (*noTokens)(nil)}); err == nil {
		t.Error("New without an engine built a handler")
	}
	h, err := New(&Options{Engine: (*engine.Engine)(nil), Auth: (*noTokens)(nil)})
	if err != nil {
		t.Skipf("New refuses typed-nil dependencies: %v", err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("/healthz = %d", rec.Code)
	}
}
