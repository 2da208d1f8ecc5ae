package policies

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxParamLength is the longest string or date parameter value Validate
// accepts, in bytes.
const MaxParamLength = 1000

// maxExactInt is the largest integer a float64 holds exactly (2^53).
const maxExactInt = 1 << 53

// Validate type-checks a parameter value, as decoded from JSON, against
// the declaration and returns it normalised: int64 for integer, float64
// for number, string for string, and a "YYYY-MM-DD" string for date. It
// then checks the pattern (matched against the whole value), min and max,
// and enum.
//
// Besides JSON's float64 and string it accepts Go integers and
// json.Number; numeric parameters also accept a string holding a decimal
// number, as command lines and query strings send them. A nil value
// stands for an omitted parameter: the default when there is one, else an
// error. Errors are *ParamError and never echo the value.
func (p *Param) Validate(v any) (any, error) {
	if v == nil {
		if p.Default == nil {
			return nil, p.fail("is required")
		}
		v = p.Default
	}
	nv, err := p.normalise(v)
	if err != nil {
		return nil, err
	}
	if err := p.check(nv); err != nil {
		return nil, err
	}
	if len(p.Enum) > 0 && !p.inEnum(nv) {
		if len(p.Enum) <= 12 {
			return nil, p.fail("must be one of %s", strings.Join(p.Enum, ", "))
		}
		return nil, p.fail("must be one of the template's %d allowed values", len(p.Enum))
	}
	return nv, nil
}

func (p *Param) fail(format string, args ...any) *ParamError {
	return &ParamError{Param: p.Name, Problem: fmt.Sprintf(format, args...)}
}

// normalise converts v to the Go type of the parameter's type.
func (p *Param) normalise(v any) (any, error) {
	switch p.Type {
	case ParamString:
		s, ok := v.(string)
		if !ok {
			return nil, p.fail("must be text, not %s", describe(v))
		}
		if len(s) > MaxParamLength {
			return nil, p.fail("is longer than %d bytes", MaxParamLength)
		}
		if !utf8.ValidString(s) {
			return nil, p.fail("is not valid UTF-8 text")
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, p.fail("must not contain a NUL character")
		}
		return s, nil
	case ParamInteger:
		return p.integer(v)
	case ParamNumber:
		return p.number(v)
	case ParamDate:
		switch x := v.(type) {
		case time.Time:
			return x.Format(time.DateOnly), nil
		case string:
			if _, err := time.Parse(time.DateOnly, x); err != nil || len(x) != len(time.DateOnly) {
				return nil, p.fail("must be a valid date written YYYY-MM-DD")
			}
			return x, nil
		}
		return nil, p.fail("must be a date written YYYY-MM-DD, not %s", describe(v))
	}
	return nil, p.fail("has unknown type %q", p.Type)
}

// integer normalises an integer parameter to int64.
func (p *Param) integer(v any) (any, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || x != math.Trunc(x) {
			return nil, p.fail("must be a whole number")
		}
		if math.Abs(x) > maxExactInt {
			return nil, p.fail("is out of range")
		}
		return int64(x), nil
	case json.Number:
		return p.integer(string(x))
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return nil, p.fail("must be an integer, not text")
		}
		return i, nil
	}
	return nil, p.fail("must be an integer, not %s", describe(v))
}

// number normalises a number parameter to a finite float64.
func (p *Param) number(v any) (any, error) {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int32:
		f = float64(x)
	case int64:
		f = float64(x)
	case float64:
		f = x
	case json.Number:
		return p.number(string(x))
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return nil, p.fail("must be a number, not text")
		}
	default:
		return nil, p.fail("must be a number, not %s", describe(v))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, p.fail("must be a finite number")
	}
	return f, nil
}

// check applies the pattern and the min/max bounds to a normalised value.
func (p *Param) check(nv any) error {
	if s, ok := nv.(string); ok && p.Pattern != "" {
		re, err := compilePattern(p.Pattern)
		if err != nil {
			return p.fail("has an invalid pattern in the policy")
		}
		if !re.MatchString(s) {
			return p.fail("does not match the pattern %s", p.Pattern)
		}
	}
	var f float64
	switch x := nv.(type) {
	case int64:
		f = float64(x)
	case float64:
		f = x
	default:
		return nil
	}
	switch {
	case p.Min != nil && p.Max != nil && (f < *p.Min || f > *p.Max):
		return p.fail("must be between %s and %s", fmtNum(*p.Min), fmtNum(*p.Max))
	case p.Min != nil && f < *p.Min:
		return p.fail("must be at least %s", fmtNum(*p.Min))
	case p.Max != nil && f > *p.Max:
		return p.fail("must be at most %s", fmtNum(*p.Max))
	}
	return nil
}

// inEnum reports whether a normalised value is one of the enum values
// (compared after normalising them too, so 1.50 equals 1.5).
func (p *Param) inEnum(nv any) bool {
	want := canonical(nv)
	for _, e := range p.Enum {
		if e == want {
			return true
		}
		if ev, err := p.normalise(e); err == nil && canonical(ev) == want {
			return true
		}
	}
	return false
}

// canonical is a normalised value's text form.
func canonical(nv any) string {
	switch x := nv.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return fmtNum(x)
	case string:
		return x
	}
	return fmt.Sprint(nv)
}

// describe names the JSON kind of v for error messages, never its value.
func describe(v any) string {
	switch v.(type) {
	case string:
		return "text"
	case float64, int, int32, int64, json.Number:
		return "a number"
	case bool:
		return "true/false"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return "a value of another kind"
}
