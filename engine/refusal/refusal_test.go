package refusal

import (
	"errors"
	"fmt"
	"testing"
)

func TestRefusal(t *testing.T) {
	base := New(SelectStar, "SELECT * is not allowed", "name the columns")
	wrapped := fmt.Errorf("engine.Query: %w", base)
	tests := []struct {
		desc     string
		err      error
		wantCode Code
		isStar   bool
	}{
		{"direct", base, SelectStar, true},
		{"wrapped", wrapped, SelectStar, true},
		{"other code", Newf(MinMaxNotAllowed, "min is not allowed"), MinMaxNotAllowed, false},
		{"not a refusal", errors.New("boom"), Code{}, false},
		{"nil", nil, Code{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got := CodeOf(tc.err); got != tc.wantCode {
				t.Errorf("CodeOf = %q, want %q", got, tc.wantCode)
			}
			if got := errors.Is(tc.err, &Error{Code: SelectStar}); got != tc.isStar {
				t.Errorf("errors.Is(select_star) = %v, want %v", got, tc.isStar)
			}
		})
	}
	if got := base.Error(); got != "select_star: SELECT * is not allowed (hint: name the columns)" {
		t.Errorf("Error() = %q", got)
	}
	if r, ok := As(wrapped); !ok || r.Kind() != KindQuery {
		t.Errorf("As(wrapped) = %+v, %v", r, ok)
	}
}
