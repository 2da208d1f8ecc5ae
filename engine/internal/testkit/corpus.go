package testkit

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// Block is one block of a corpus file. A corpus file is a sequence of
// blocks separated by blank lines; between blocks, lines that start with
// "#" are comments. A block is a directive line, optionally ending in
// "in PROJECT", and the lines after it up to the next blank line.
type Block struct {
	// Line is the directive's line number, from 1.
	Line int
	// Head is the directive line as written.
	Head string
	// Directive are the directive's fields without "in PROJECT".
	Directive []string
	// Project is the PROJECT of "in PROJECT"; "" without one.
	Project string
	// Body are the lines after the directive.
	Body []string
}

// ParseBlocks reads the blocks of a corpus file from r; name names the
// file in errors.
func ParseBlocks(name string, r io.Reader) ([]Block, error) {
	var (
		out []Block
		cur *Block
	)
	sc := bufio.NewScanner(r)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			if cur != nil {
				out = append(out, *cur)
			}
			cur = nil
		case cur == nil && strings.HasPrefix(line, "#"):
		case cur == nil:
			fields := strings.Fields(line)
			cur = &Block{Line: ln, Head: line}
			if n := len(fields); n >= 3 && fields[n-2] == "in" {
				cur.Project, fields = fields[n-1], fields[:n-2]
			}
			cur.Directive = fields
		default:
			cur.Body = append(cur.Body, line)
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// ReadBlocks reads the blocks of the corpus file at path and fails t on
// any error.
func ReadBlocks(t testing.TB, path string) []Block {
	t.Helper()
	return read(t, path, ParseBlocks)
}

// Query is one block of a query corpus (accepted.txt, rejected.txt):
//
//	accept NAME [in PROJECT]
//	reject CODE [in PROJECT]
//	accept-where DATASET [in PROJECT]
//	reject-where CODE DATASET [in PROJECT]
//
// followed by the SQL (or, for -where, a cohort criterion's condition).
type Query struct {
	Line int
	// Verb is accept, reject, accept-where or reject-where.
	Verb string
	// Name is an accepted query's name (accept).
	Name string
	// Code is the expected refusal code (reject, reject-where).
	Code string
	// Dataset is the dataset a criterion filters (-where).
	Dataset string
	// Project is the project the block is checked in; "" means against
	// every dataset.
	Project string
	// Text is the SQL, or the criterion's condition.
	Text string
}

// SQL is the query the block stands for: a criterion becomes the
// person-level count a cohort estimate runs.
func (q Query) SQL() string {
	if q.Dataset != "" {
		return "SELECT count(*) FROM " + q.Dataset + " WHERE " + q.Text
	}
	return q.Text
}

// String names the block for subtests: an accepted query by its name,
// any other block by its line and its dataset or refusal code.
func (q Query) String() string {
	switch q.Verb {
	case "accept":
		return q.Name
	case "accept-where":
		return fmt.Sprintf("line%d_where_%s", q.Line, q.Dataset)
	}
	return fmt.Sprintf("line%d_%s", q.Line, q.Code)
}

// ParseQueries reads the blocks of a query corpus from r; name names the
// file in errors. Every block but a plain reject must have a text.
func ParseQueries(name string, r io.Reader) ([]Query, error) {
	blocks, err := ParseBlocks(name, r)
	if err != nil {
		return nil, err
	}
	out := make([]Query, 0, len(blocks))
	for _, b := range blocks {
		verb, args := b.Directive[0], b.Directive[1:]
		q := Query{Line: b.Line, Verb: verb, Project: b.Project, Text: strings.Join(b.Body, "\n")}
		switch {
		case verb == "accept" && len(args) == 1:
			q.Name = args[0]
		case verb == "reject" && len(args) == 1:
			q.Code = args[0]
		case verb == "accept-where" && len(args) == 1:
			q.Dataset = args[0]
		case verb == "reject-where" && len(args) == 2:
			q.Code, q.Dataset = args[0], args[1]
		default:
			return nil, fmt.Errorf("%s:%d: bad directive %q", name, b.Line, b.Head)
		}
		if strings.TrimSpace(q.Text) == "" && verb != "reject" {
			return nil, fmt.Errorf("%s:%d: block without SQL", name, b.Line)
		}
		out = append(out, q)
	}
	return out, nil
}

// ReadQueries reads the query corpus at path and fails t on any error.
func ReadQueries(t testing.TB, path string) []Query {
	t.Helper()
	return read(t, path, ParseQueries)
}

func read[T any](t testing.TB, path string, parse func(string, io.Reader) ([]T, error)) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, err := parse(path, f)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
