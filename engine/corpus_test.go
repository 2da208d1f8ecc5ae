package engine

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
)

// The query corpora (format: see engine/query/corpus_test.go).
const (
	acceptedCorpus = "../testdata/queries/accepted.txt"
	rejectedCorpus = "../testdata/queries/rejected.txt"
)

// corpusQuery is one block of a query corpus file:
//
//	accept NAME [in PROJECT]
//	accept-where DATASET [in PROJECT]
//	reject CODE [in PROJECT]
//	reject-where CODE DATASET [in PROJECT]
//
// followed by the SQL (or, for -where, a cohort criterion) up to a blank line.
type corpusQuery struct {
	line    int
	verb    string
	name    string // accept: the query's name; reject: the expected refusal code
	dataset string // -where: the dataset the criterion filters
	text    string // the SQL, or the criterion's condition
}

// String names the block for subtests.
func (c corpusQuery) String() string {
	if c.dataset != "" {
		return fmt.Sprintf("line%d_where_%s", c.line, c.dataset)
	}
	if strings.HasPrefix(c.verb, "reject") {
		return fmt.Sprintf("line%d_%s", c.line, c.name)
	}
	return c.name
}

// sql is the query the block stands for: a cohort criterion becomes the
// person-level count a cohort estimate runs.
func (c corpusQuery) sql() string {
	if c.dataset != "" {
		return "SELECT count(*) FROM " + c.dataset + " WHERE " + c.text
	}
	return c.text
}

// readCorpus reads a corpus file. The project a block names is ignored:
// the tests here check every block against every dataset.
func readCorpus(t testing.TB, path string) []corpusQuery {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out  []corpusQuery
		cur  *corpusQuery
		body []string
	)
	flush := func() {
		if cur != nil {
			cur.text = strings.Join(body, "\n")
			out = append(out, *cur)
		}
		cur, body = nil, nil
	}
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case cur == nil && strings.HasPrefix(line, "#"):
		case cur == nil:
			fields := strings.Fields(line)
			if n := len(fields); n >= 3 && fields[n-2] == "in" {
				fields = fields[:n-2]
			}
			c := corpusQuery{line: ln, verb: fields[0]}
			switch {
			case (c.verb == "accept" || c.verb == "reject") && len(fields) == 2:
				c.name = fields[1]
			case c.verb == "accept-where" && len(fields) == 2:
				c.dataset = fields[1]
			case c.verb == "reject-where" && len(fields) == 3:
				c.name, c.dataset = fields[1], fields[2]
			default:
				t.Fatalf("%s:%d: bad directive %q", path, ln, line)
			}
			cur = &c
		default:
			body = append(body, line)
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}
