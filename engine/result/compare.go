package result

import (
	"cmp"
	"fmt"
	"math"
	"strings"
)

// Compare orders two released values (keys or statistics) as a result's
// ORDER BY and HAVING see them: NULL (a suppressed cell or the NULL group)
// after everything else, numbers by value whatever their Go type, false
// before true, anything else by its printed form (strings lexically).
func Compare(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	if fa, ok := Number(a); ok {
		if fb, ok := Number(b); ok {
			return cmp.Compare(fa, fb)
		}
	}
	if ba, ok := a.(bool); ok {
		if bb, ok := b.(bool); ok {
			switch {
			case ba == bb:
				return 0
			case bb:
				return -1
			}
			return 1
		}
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// Number returns a released numeric value as a float64; ok is false for
// anything else, NaN included.
func Number(v any) (f float64, ok bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, !math.IsNaN(x)
	}
	return 0, false
}
