package query

import (
	"encoding/json"
	"errors"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/statgate/statgate/engine/refusal"
)

// DuckDB compiles a constant pattern of regexp_matches when it binds the
// plan, which runs after the debit: a pattern DuckDB refuses would fail
// the query then, costing the budget for nothing. CheckPattern therefore
// accepts only patterns DuckDB's RE2 surely compiles, judged by Go's
// regexp/syntax (a port of RE2's parser: the same syntax, the same
// repetition limits) with what the two may disagree on refused: Unicode
// classes (\p, \P: the two carry different Unicode tables and RE2
// compiles them to large programs), named groups ((?<name>…) is Go's
// only), and patterns longer than MaxPatternLength or whose program may
// outgrow RE2's memory limit. Matching itself never fails: RE2 runs in
// time linear in the text, falling back from its DFA to the NFA when
// memory runs short, and the plan's try() holds anyway.
// TestRegexpPatternsCompileInDuckDB and FuzzRegexpPattern (engine) check
// that DuckDB compiles every pattern CheckPattern accepts.

// MaxPatternLength is the longest regular expression pattern, in bytes.
const MaxPatternLength = 1000

// maxPatternSize bounds patternSize, an over-estimate of the instructions
// RE2 compiles a pattern to: far below the roughly 87,000 instructions its
// default 8 MiB allow the smaller (reverse) of its two programs.
const maxPatternSize = 20_000

// regexpHint is the hint of a refused pattern.
const regexpHint = "write an RE2 pattern of literal text, ., [a-z] classes, \\d \\w \\s, anchors ^ $ \\b, groups (…) (?:…), | and repetition * + ? {n,m}, e.g. '^E1[0-4]'"

// regexpMatch checks regexp_matches(s, pattern), true when the pattern
// matches part of s, and regexp_full_match(s, pattern), true when it
// matches all of s: pattern must be a constant CheckPattern accepts, and
// DuckDB's options argument is refused (flags go into the pattern, e.g.
// '(?i)e11').
func regexpMatch(name string, args []Expr) (Expr, error) {
	if len(args) == 3 {
		return nil, refuse(refusal.BadArgument, "write flags into the pattern, e.g. "+name+"(icd10, '(?i)^e11')",
			"the options argument of %s is not supported", name)
	}
	if len(args) != 2 {
		return nil, refuse(refusal.BadArgument, funcHint, "%s takes 2 arguments: a string and a pattern", name)
	}
	if err := wantTypes(name, args[:1], TypeString); err != nil {
		return nil, err
	}
	pattern, ok := litString(asLiteral(args[1]))
	if !ok {
		return nil, refuse(refusal.BadArgument, "write the pattern as a constant, e.g. "+name+"(icd10, '^E1[0-4]')",
			"the pattern of %s must be a constant string", name)
	}
	if err := CheckPattern(pattern); err != nil {
		return nil, err
	}
	return &Func{Name: name, Args: args, Type: TypeBool}, nil
}

// CheckPattern refuses with refusal.BadRegexp a regular expression
// pattern DuckDB might not compile (see the comment at the top of this
// file). The refusal names what is wrong, never the pattern.
func CheckPattern(pattern string) error {
	bad := func(format string, args ...any) error {
		return refuse(refusal.BadRegexp, regexpHint, "the pattern is not a regular expression statgate can check: "+format, args...)
	}
	if len(pattern) > MaxPatternLength {
		return bad("it is longer than %d bytes", MaxPatternLength)
	}
	if !utf8.ValidString(pattern) {
		return bad("it is not valid UTF-8")
	}
	if unicodeClass(pattern) {
		return bad("Unicode classes (\\p, \\P) are not supported; list the characters, e.g. [A-Za-zÆØÅæøå]")
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			return bad("%s", se.Code)
		}
		return bad("it does not parse")
	}
	if named(re) {
		return bad("named groups are not supported; write (…) or (?:…)")
	}
	if patternSize(re) > maxPatternSize {
		return bad("its repetitions make it too large")
	}
	return nil
}

// unicodeClass reports whether pattern has a \p or \P escape outside
// \Q…\E (where escapes are literal text).
func unicodeClass(pattern string) bool {
	for i := 0; i+1 < len(pattern); i++ {
		if pattern[i] != '\\' {
			continue
		}
		switch pattern[i+1] {
		case 'p', 'P':
			return true
		case 'Q':
			end := strings.Index(pattern[i+2:], `\E`)
			if end < 0 {
				return false
			}
			i += 2 + end
		}
		i++ // the escaped character
	}
	return false
}

// named reports whether re has a named group.
func named(re *syntax.Regexp) bool {
	if re.Op == syntax.OpCapture && re.Name != "" {
		return true
	}
	for _, s := range re.Sub {
		if named(s) {
			return true
		}
	}
	return false
}

// patternSize over-estimates the instructions of RE2's program for re:
// RE2 matches UTF-8 bytes, so a character class costs one instruction per
// ASCII range and a few dozen per range beyond ASCII, a case-folded
// literal character the class of its case variants, and a repetition
// {n,m} m copies of what it repeats (n+1 when it has no maximum).
func patternSize(re *syntax.Regexp) int {
	const nonASCII = 64 // at most 4 lengths × up to 7 byte sequences of up to 4 bytes, rounded up
	rangeSize := func(lo, hi rune) int {
		if hi < utf8.RuneSelf {
			return 1
		}
		return nonASCII
	}
	sum := 1
	for _, s := range re.Sub {
		sum += patternSize(s)
	}
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase == 0 {
				n += rangeSize(r, r)
				continue
			}
			for f := unicode.SimpleFold(r); ; f = unicode.SimpleFold(f) {
				n += rangeSize(f, f)
				if f == r {
					break
				}
			}
		}
		return n
	case syntax.OpCharClass:
		n := 1
		for i := 0; i+1 < len(re.Rune); i += 2 {
			n += rangeSize(re.Rune[i], re.Rune[i+1])
		}
		return n
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 2 * nonASCII
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return 1 + sum
	case syntax.OpRepeat:
		n := re.Max
		if n < 0 {
			n = re.Min + 1
		}
		// Go's parser has refused more than 1000 copies (as RE2 does).
		return 1 + max(n, 1)*sum
	}
	return sum
}

// writtenAsCall reports whether a FUNCTION node was written as a call,
// f(x, …), rather than as an operator, x ~ 'p' or x SIMILAR TO 'p', which
// DuckDB parses into the same function: its parse tree places a call
// before its arguments and an operator after its first operand. A node
// or arguments without a known position count as an operator.
func writtenAsCall(n node, kids []node) bool {
	at, ok := location(n)
	if !ok {
		return false
	}
	known := false
	for _, k := range kids {
		if l, ok := location(k); ok {
			known = true
			if l <= at {
				return false
			}
		}
	}
	return known
}

// location is a node's query_location, its offset in the SQL text; ok is
// false when it has none (DuckDB writes the largest uint64 for none).
func location(n node) (uint64, bool) {
	num, ok := n["query_location"].(json.Number)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(num.String(), 10, 64)
	return v, err == nil && v != ^uint64(0)
}
