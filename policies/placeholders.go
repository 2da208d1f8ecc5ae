package policies

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// A template's SQL names its parameters with :name placeholders. This file
// holds the one lexer that finds them, used both to check a template when
// the policy loads and, by the engine, to hand DuckDB's parser the SQL with
// every placeholder written $name (a named prepared-statement parameter),
// so that the engine parses and checks each template once and binds
// values into the checked query; parameter text is never spliced into SQL.
//
// The lexer follows DuckDB's (PostgreSQL's) scanner as far as placeholders
// depend on it. Nothing in the following is a placeholder:
//
//   - '…' string literals ('' is a quote inside), E'…' escape strings (a
//     backslash escapes the next character) and $tag$…$tag$ dollar-quoted
//     strings (the tag may be empty: $$…$$);
//   - "…" quoted identifiers ("" is a quote inside);
//   - -- comments to the end of the line and /* … */ comments, which nest;
//   - the :: of a cast; a colon not followed by a letter or _ (12:30).
//
// A placeholder is a colon followed by an identifier as DuckDB scans one: a
// letter, _ or non-ASCII byte, then letters, digits, _, $ or non-ASCII
// bytes. (A declared parameter is a plain identifier, so a placeholder with
// $ or a non-ASCII letter in its name never matches one and is refused.)
// DuckDB's own parameters ($name, $1) are refused in template SQL: the
// policy's syntax is :name.

// placeholder is one :name in a template's SQL: the name and the byte
// offsets of its colon and of the end of its name.
type placeholder struct {
	name       string
	start, end int
}

// Placeholders returns the names of the template's :name placeholders in
// order of first appearance, each once (see the lexical rules above; an
// unterminated quote or comment ends the list where it starts).
func (t *Template) Placeholders() []string {
	ps, _ := lexPlaceholders(t.SQL)
	var names []string
	for _, p := range ps {
		if !slices.Contains(names, p.name) {
			names = append(names, p.name)
		}
	}
	return names
}

// ParamSQL returns the template's SQL with every :name placeholder written
// $name, DuckDB's named parameter, for the engine to parse and check once.
// Nothing else changes: strings, identifiers, comments and casts are kept
// as they are. A placeholder right after an identifier character gets a
// space before it, so that it cannot become part of that identifier.
func (t *Template) ParamSQL() (string, error) {
	ps, err := lexPlaceholders(t.SQL)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	last := 0
	for _, p := range ps {
		b.WriteString(t.SQL[last:p.start])
		if p.start > 0 && identCont(t.SQL[p.start-1]) {
			b.WriteByte(' ')
		}
		b.WriteString("$" + p.name)
		last = p.end
	}
	b.WriteString(t.SQL[last:])
	return b.String(), nil
}

// ParamNames returns the names of the template's declared parameters,
// sorted.
func (t *Template) ParamNames() []string {
	names := make([]string, 0, len(t.Params))
	for n := range t.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// lexPlaceholders lists the placeholders of sql in order. It fails on an
// unterminated quote, string or comment and on DuckDB parameters ($name,
// $1); the placeholders before the failure are returned with the error.
func lexPlaceholders(sql string) ([]placeholder, error) {
	var out []placeholder
	n := len(sql)
	at := func(i int) byte {
		if i < n {
			return sql[i]
		}
		return 0
	}
	for i := 0; i < n; {
		c := sql[i]
		switch {
		case c == '\'' || c == '"':
			j, err := skipQuoted(sql, i, false)
			if err != nil {
				return out, err
			}
			i = j
		case c == '-' && at(i+1) == '-':
			for i < n && sql[i] != '\n' && sql[i] != '\r' {
				i++
			}
		case c == '/' && at(i+1) == '*':
			j, err := skipBlockComment(sql, i)
			if err != nil {
				return out, err
			}
			i = j
		case c == '$':
			j, err := skipDollar(sql, i)
			if err != nil {
				return out, err
			}
			i = j
		case c == ':' && at(i+1) == ':':
			i += 2
		case c == ':' && identStart(at(i+1)):
			j := i + 2
			for j < n && identCont(sql[j]) {
				j++
			}
			out = append(out, placeholder{name: sql[i+1 : j], start: i, end: j})
			i = j
		case identStart(c) || isDigit(c):
			// A word (keyword, identifier or number). E'…' is an escape
			// string; any other word is skipped whole, so that a $ inside
			// it (abc$d) is not taken for a dollar quote.
			j := i + 1
			for j < n && identCont(sql[j]) {
				j++
			}
			if j == i+1 && (c == 'E' || c == 'e') && at(j) == '\'' {
				k, err := skipQuoted(sql, j, true)
				if err != nil {
					return out, err
				}
				j = k
			}
			i = j
		default:
			i++
		}
	}
	return out, nil
}

// skipQuoted returns the offset just past the '…' string or "…" identifier
// opening at sql[i]; a doubled quote stands for one, and in an escape
// string (backslash) a backslash escapes the next character.
func skipQuoted(sql string, i int, backslash bool) (int, error) {
	q := sql[i]
	for j := i + 1; j < len(sql); j++ {
		switch {
		case backslash && sql[j] == '\\':
			j++
		case sql[j] == q && j+1 < len(sql) && sql[j+1] == q:
			j++
		case sql[j] == q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated %c quote", q)
}

// skipBlockComment returns the offset just past the /* … */ comment
// opening at sql[i]; comments nest, as in DuckDB.
func skipBlockComment(sql string, i int) (int, error) {
	depth := 0
	for j := i; j+1 < len(sql); j++ {
		switch {
		case sql[j] == '/' && sql[j+1] == '*':
			depth++
			j++
		case sql[j] == '*' && sql[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("unterminated /* comment")
}

// skipDollar handles a $ outside words: a $tag$…$tag$ string is skipped;
// $name and $1, DuckDB's own parameters, are refused; a lone $ is left to
// DuckDB's parser.
func skipDollar(sql string, i int) (int, error) {
	j := i + 1
	if j < len(sql) && isDigit(sql[j]) {
		return 0, fmt.Errorf("write template parameters as :name; positional parameters ($1) are not supported")
	}
	for j < len(sql) && identCont(sql[j]) && sql[j] != '$' {
		j++
	}
	tag := sql[i:j]
	if j >= len(sql) || sql[j] != '$' {
		if len(tag) > 1 {
			return 0, fmt.Errorf("write template parameters as :%s, not %s", tag[1:], tag)
		}
		return j, nil
	}
	delim := tag + "$"
	end := strings.Index(sql[j+1:], delim)
	if end < 0 {
		return 0, fmt.Errorf("unterminated %s string", delim)
	}
	return j + 1 + end + len(delim), nil
}

// identStart and identCont are DuckDB's identifier characters: ASCII
// letters, _ and every non-ASCII byte; then digits and $ too.
func identStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func identCont(c byte) bool { return identStart(c) || isDigit(c) || c == '$' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
