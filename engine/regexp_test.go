package engine

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
)

// regexpPatterns are patterns statgate must accept, must refuse, or that
// probe where Go's regexp/syntax and DuckDB's RE2 may disagree: the
// seeds of FuzzRegexpPattern and the cases of
// TestRegexpPatternsCompileInDuckDB.
var (
	regexpAccepted = []string{
		`^E1[0-4]`, `^E1[0-4]\.?\d?$`, `^(I2[0-5]|I6\d)`, `A10B[A-Z]\d{2}`, `(?i)^helse `, `^C(18|19|20)`,
		``, `.*`, `(?s).`, `[æøåÆØÅ]`, `(?i)[a-zæøå]+`, `\bE11\b`, `[[:alpha:]]{2,3}`, `\Q(E11)\E`, `a{1000}`,
		`(a{10}){100}`, `x{0,1000}`, `[^,]+`, `\W\S\D`, `(?m)^a$`, `(?U)a+`, `\x{10FFFF}`, `\x{D800}`, `(?:)`, `(|)`,
		`[^\x00-\x{10FFFF}]`, `\A\z`, `\Q\p{L}`, `\101`, `\a\f\t\n\r\v`, `a{,2}`, `a{`, `}`, `[]a]`,
		strings.Repeat(`(`, 200) + strings.Repeat(`)`, 200),
		// Near the size limit: many ranges beyond ASCII, repeated.
		`[\x{81}-\x{10FFFD}]{300}`, `[^a]{290}`, `(?i)k{200}`, `.{150}`, `(?i)[a-z]{100}`,
		`[\x{80}-\x{7FF}\x{801}-\x{FFFF}\x{10001}-\x{10FFFE}]{100}`, strings.Repeat(`[^b]{20}`, 14),
	}
	regexpRefused = []string{
		`(`, `)`, `[a`, `a**`, `x*?*`, `a|*`, `\`, `\1`, `(?=a)`, `(?!a)`, `(?<=a)`, `(?#c)`, `\G`, `\K`, `\R`, `\e`, `\cA`,
		`\N{U+0041}`, `\o{101}`, `a{1001}`, `a{2,1}`, `(a{100}){100}`, `(a{3}){334}`, `((a{2}){2}){251}`, `(a{2,}){501}`,
		`\pL`, `\p{Greek}`, `\PL`, `[\p{L}]`, `\p{Cn}`, `\p{LC}`, `\p{Garay}`, `\pL{1000}`, `(?<n>a)`, `(?P<n>a)`,
		`[[:foo:]]`, `\x{110000}`, `\C`, `\Z`, `[^,]{1000}[^,]{1000}[^,]{1000}`, `.{1000}`, `(?i)k{1000}`, `(?i)[a-z]{500}`,
		strings.Repeat("a", query.MaxPatternLength+1), "\xff",
	}
)

// TestRegexpPatternsCompileInDuckDB: every pattern query.CheckPattern
// accepts compiles in DuckDB, as a constant of regexp_matches and of
// regexp_full_match, so that a checked query cannot fail on its pattern
// after the debit; the realistic patterns are accepted and the others
// refused with bad_regexp.
func TestRegexpPatternsCompileInDuckDB(t *testing.T) {
	db := openPlainDB(t)
	for _, p := range regexpAccepted {
		if err := query.CheckPattern(p); err != nil {
			t.Errorf("%.60q refused: %v", p, err)
		}
		if err := duckDBCompiles(db, p); err != nil {
			t.Errorf("%.60q: DuckDB: %v", p, err)
		}
	}
	for _, p := range regexpRefused {
		if code := refusal.CodeOf(query.CheckPattern(p)); code != refusal.BadRegexp {
			t.Errorf("%.60q: %v, want bad_regexp", p, code)
		}
	}
}

// TestRegexpFunctionsAreDuckDBs: DuckDB's regexp_matches matches part of
// the string and regexp_full_match all of it, as the reference says.
func TestRegexpFunctionsAreDuckDBs(t *testing.T) {
	db := openPlainDB(t)
	got := mustQuery(t, db, "SELECT regexp_matches('E11.9', '^E1[0-4]'), regexp_matches('xE11', 'E1[0-4]'), "+
		"regexp_full_match('E11.9', 'E1[0-4]'), regexp_full_match('E11', 'E1[0-4]'), regexp_matches(NULL, 'a') IS NULL").rows
	want := []any{true, true, false, true, true}
	for i, v := range want {
		if got[0][i] != v {
			t.Errorf("column %d: %v, want %v", i, got[0][i], v)
		}
	}
}

// FuzzRegexpPattern: whatever query.CheckPattern accepts compiles in DuckDB.
func FuzzRegexpPattern(f *testing.F) {
	for _, p := range append(regexpAccepted, regexpRefused...) {
		f.Add(p)
	}
	db := openPlainDB(f)
	f.Fuzz(func(t *testing.T, p string) {
		// A pattern reaches the checker from DuckDB's parser, whose string
		// constants hold no NUL.
		if strings.ContainsRune(p, 0) || query.CheckPattern(p) != nil {
			return
		}
		if err := duckDBCompiles(db, p); err != nil {
			t.Errorf("%q accepted, but DuckDB: %v", p, err)
		}
	})
}

// duckDBCompiles binds both regexp functions with p as a constant.
func duckDBCompiles(db *sql.DB, p string) error {
	lit := "'" + strings.ReplaceAll(p, "'", "''") + "'"
	_, err := queryTable(db, "SELECT regexp_matches('E11', "+lit+"), regexp_full_match('E11', "+lit+")")
	return err
}

// TestBadPatternDebitsNothing: a query with a pattern DuckDB could not
// compile is refused before the debit with bad_regexp (a 422 naming the
// problem and a hint), audited as refused and charged nothing; with a
// good pattern the same query is answered and charged.
func TestBadPatternDebitsNothing(t *testing.T) {
	e := openEngine(t, nil)
	for _, p := range []string{`(`, `E1[0-4`, `\p{Greek}`, `(?<code>E11)`} {
		_, err := e.Query(t.Context(), ingrid, Request{Project: "diabetes-2026",
			SQL: "SELECT year(contact_date) AS year, count(*) AS n FROM npr WHERE regexp_matches(icd10, '" + p + "') GROUP BY 1"})
		r, ok := refusal.As(err)
		if !ok || r.Code != refusal.BadRegexp || r.Kind() != refusal.KindQuery || r.Hint == "" || strings.Contains(r.Message, p) {
			t.Fatalf("%q: %v, want a bad_regexp refusal with a hint, not quoting the pattern", p, err)
		}
		if a := lastAudit(t, e); a.Outcome != "refused" || a.Reason != "bad_regexp" || a.Epsilon != 0 {
			t.Errorf("%q: audit %+v", p, a)
		}
	}
	if got := spent(t, e, "diabetes-2026", "npr"); got != 0 {
		t.Fatalf("refused patterns spent %g", got)
	}
	res, err := e.Query(t.Context(), ingrid, Request{Project: "diabetes-2026",
		SQL: "SELECT year(contact_date) AS year, count(*) AS n FROM npr WHERE regexp_matches(icd10, '^E1[0-4]') GROUP BY 1"})
	if err != nil || len(res.Rows) != 15 {
		t.Fatalf("a good pattern: %v, %d rows", err, len(res.Rows))
	}
	if got := spent(t, e, "diabetes-2026", "npr"); got <= 0 {
		t.Errorf("an answered pattern spent %g", got)
	}
}
