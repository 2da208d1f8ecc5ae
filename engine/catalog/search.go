package catalog

import (
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/statgate/statgate/policies"
)

// stopWords are query words too common to search for.
var stopWords = map[string]bool{
	"a": true, "an": true, "and": true, "at": true, "by": true, "for": true, "from": true,
	"in": true, "of": true, "on": true, "or": true, "per": true, "the": true, "to": true, "with": true,
}

// searchIndex holds the words of a dataset's searchable fields.
type searchIndex struct {
	// dataset: the words of the name, the title and the description.
	dataset [][]string
	// columns, in column order: the words of each column's name,
	// description, code system, code list name and listed domain values.
	columns [][][]string
}

func indexDataset(ds *policies.Dataset) searchIndex {
	ix := searchIndex{dataset: [][]string{words(ds.Name), words(ds.Title), words(ds.Description)}}
	for _, c := range ds.Columns {
		fields := [][]string{words(c.Name), words(c.Description), words(c.CodeSystem)}
		if d := c.Domain; d != nil {
			if d.CodeList != "" {
				fields = append(fields, words(d.CodeList))
			} else if len(d.Values) <= MaxListedValues {
				fields = append(fields, words(strings.Join(d.Values, " ")))
			}
		}
		ix.columns = append(ix.columns, fields)
	}
	return ix
}

// Search finds the datasets that match q, a few words compared without
// regard to case with the words of each dataset's name, title and
// description and of each column's name, description, code system, code
// list and listed domain values. A query word matches a field when one of
// the field's words starts with it ("diab" matches "diabetes"; "icd10"
// matches "ICD-10"). Words of one letter and common words ("of", "per")
// are ignored.
//
// Every dataset with at least one match is returned, with the matching
// columns marked and Hits set to the number of (query word, field)
// matches; datasets are ranked by hits, then by name. A query with no
// searchable word matches nothing.
func (c *Catalog) Search(q string) []Dataset {
	ws := queryWords(q)
	if len(ws) == 0 {
		return nil
	}
	var out []Dataset
	for i, d := range c.datasets {
		ix := c.index[i]
		res := d.clone()
		hits := countHits(ix.dataset, ws)
		for j, fields := range ix.columns {
			if n := countHits(fields, ws); n > 0 {
				hits += n
				res.Columns[j].Matched = true
			}
		}
		if hits > 0 {
			res.Hits = hits
			out = append(out, res)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Hits > out[b].Hits })
	return out
}

// countHits counts the (query word, field) pairs that match.
func countHits(fields [][]string, ws []string) int {
	n := 0
	for _, f := range fields {
		for _, w := range ws {
			if matchesField(f, w) {
				n++
			}
		}
	}
	return n
}

func matchesField(field []string, w string) bool {
	for _, fw := range field {
		if strings.HasPrefix(fw, w) {
			return true
		}
	}
	return false
}

// words returns the lower-case words of a field: its runs of letters and
// digits ("length_of_stay_days" → length, of, stay, days) and each
// space-separated chunk with punctuation removed ("ICD-10" → icd10,
// "length_of_stay_days" → lengthofstaydays).
func words(s string) []string {
	s = strings.ToLower(s)
	out := strings.FieldsFunc(s, notAlnum)
	for _, chunk := range strings.Fields(s) {
		if j := joined(chunk); j != "" && !slices.Contains(out, j) {
			out = append(out, j)
		}
	}
	return out
}

// queryWords returns the searchable words of a query: each space-separated
// chunk, lower-cased with punctuation removed, at least two characters
// long and not a stop word, each once.
func queryWords(q string) []string {
	var out []string
	for _, chunk := range strings.Fields(strings.ToLower(q)) {
		w := joined(chunk)
		if len([]rune(w)) < 2 || stopWords[w] || slices.Contains(out, w) {
			continue
		}
		out = append(out, w)
	}
	return out
}

// joined removes everything but letters and digits.
func joined(s string) string {
	return strings.Map(func(r rune) rune {
		if notAlnum(r) {
			return -1
		}
		return r
	}, s)
}

func notAlnum(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }
