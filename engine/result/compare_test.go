package result

import "testing"

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b any
		want int
	}{
		{nil, nil, 0},
		{nil, int64(1), 1},
		{"a", nil, -1},
		{int64(2), 10.5, -1},
		{3.0, int64(3), 0},
		{int64(10), int64(9), 1},
		{1, int64(2), -1},
		{false, true, -1},
		{true, true, 0},
		{true, false, 1},
		{"E10", "E11", -1},
		{"b", "a", 1},
	}
	for _, tc := range tests {
		if got := Compare(tc.a, tc.b); got != tc.want {
			t.Errorf("Compare(%#v, %#v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := Compare(tc.b, tc.a); got != -tc.want {
			t.Errorf("Compare(%#v, %#v) = %d, want %d (antisymmetry)", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestNumber(t *testing.T) {
	for _, v := range []any{"1", true, nil, []byte("2")} {
		if _, ok := Number(v); ok {
			t.Errorf("Number(%#v) ok, want not a number", v)
		}
	}
	if f, ok := Number(int64(-4)); !ok || f != -4 {
		t.Errorf("Number(int64(-4)) = %v, %v", f, ok)
	}
	nan := 0.0
	nan /= nan
	if _, ok := Number(nan); ok {
		t.Error("Number(NaN) ok, want not a number")
	}
}
