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
	"og": true, "av": true, "med": true, "etter": true, "eller": true,
}

// Match says which field of a dataset a search word matched.
type Match struct {
	// Column is the matching column; empty for the dataset's own fields.
	Column string `json:"column,omitempty"`
	// Field is "name", "title", "description", "code_system", "code_list",
	// "domain" (a listed domain value) or "label" (a code's name in the
	// column's code list or code system).
	Field string `json:"field"`
	// Text is the field's text (for a label: "A10BA02 metformin").
	Text string `json:"text"`
	// Word is the query word; Via the synonym that matched, if not the word itself.
	Word string `json:"word"`
	Via  string `json:"via,omitempty"`
}

// MaxLabelMatches caps the label matches reported per column and word
// ("diabetes" names several ICD-10 and ATC codes); each column's labels
// count as one field in Hits.
const MaxLabelMatches = 5

// field is one searchable text with its words.
type field struct {
	kind  string // Match.Field
	text  string
	words []string
}

func newField(kind, text string) field { return field{kind: kind, text: text, words: words(text)} }

// searchIndex holds the searchable fields of a dataset.
type searchIndex struct {
	// dataset: the name, the title and the description.
	dataset []field
	// columns, in column order: each column's name, description, code
	// system, code list name and listed domain values.
	columns [][]field
	// labels, in column order: the labels of the column's code list or
	// code system, each as "code name".
	labels [][]field
}

func indexDataset(p *policies.Policy, ds *policies.Dataset) searchIndex {
	ix := searchIndex{dataset: []field{newField("name", ds.Name), newField("title", ds.Title), newField("description", ds.Description)}}
	for _, c := range ds.Columns {
		fields := []field{newField("name", c.Name), newField("description", c.Description), newField("code_system", c.CodeSystem)}
		if d := c.Domain; d != nil {
			if d.CodeList != "" {
				fields = append(fields, newField("code_list", d.CodeList))
			} else if len(d.Values) <= MaxListedValues {
				for _, v := range d.Values {
					fields = append(fields, newField("domain", v))
				}
			}
		}
		ix.columns = append(ix.columns, fields)
		var labels []field
		for _, ls := range columnLabels(p, c) {
			for _, l := range ls.Labels {
				labels = append(labels, newField("label", l.Code+" "+l.Name))
			}
		}
		ix.labels = append(ix.labels, labels)
	}
	return ix
}

// columnLabels returns the label sets of a column: its domain's code
// list, its prefix domains' code lists and its code system, each once.
func columnLabels(p *policies.Policy, c *policies.Column) []*policies.LabelSet {
	var names []string
	if c.Domain != nil && c.Domain.CodeList != "" {
		names = append(names, c.Domain.CodeList)
	}
	for _, n := range sortedKeys(c.PrefixDomains) {
		if cl := c.PrefixDomains[n].CodeList; cl != "" {
			names = append(names, cl)
		}
	}
	if c.CodeSystem != "" {
		names = append(names, c.CodeSystem)
	}
	var out []*policies.LabelSet
	for _, n := range names {
		if ls := p.Labels[n]; ls != nil && !slices.Contains(out, ls) {
			out = append(out, ls)
		}
	}
	return out
}

func sortedKeys[V any](m map[int]V) []int {
	ks := make([]int, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	return ks
}

// Search finds the datasets that match q, a few words compared without
// regard to case with the words of each dataset's name, title and
// description, of each column's name, description, code system, code
// list and listed domain values, and of the labels of the column's code
// lists and code system ("metformin" finds lmr.atc through A10BA02,
// "Oslo" population.municipality through 0301). A query word matches a
// field when one of the field's words starts with it ("diab" matches
// "diabetes"; "icd10" matches "ICD-10"), or when one of its synonyms
// does (Synonyms: "sukkersyke" finds what "diabetes" finds). Words of one
// letter and common words ("of", "per") are ignored.
//
// Every dataset with at least one match is returned, with the matching
// columns marked, Matches saying which field each word matched, and Hits
// set to the number of (query word, field) matches, a column's labels
// counting as one field; datasets are ranked by hits, then by name. A
// query with no searchable word matches nothing.
func (c *Catalog) Search(q string) []Dataset {
	ws := queryWords(q)
	if len(ws) == 0 {
		return nil
	}
	var out []Dataset
	for i, d := range c.datasets {
		ix := c.index[i]
		res := d.clone()
		hits := 0
		add := func(col string, fs []field, limit int) int {
			n := 0
			for _, w := range ws {
				found := 0
				for _, f := range fs {
					if via, ok := matchField(f.words, w); ok {
						res.Matches = append(res.Matches, Match{Column: col, Field: f.kind, Text: f.text, Word: w.word, Via: via})
						found++
						if limit > 0 && found >= limit {
							break
						}
					}
				}
				if limit > 0 && found > 0 {
					n++ // the labels are one field
				} else {
					n += found
				}
			}
			return n
		}
		hits += add("", ix.dataset, 0)
		for j := range ix.columns {
			name := res.Columns[j].Name
			n := add(name, ix.columns[j], 0) + add(name, ix.labels[j], MaxLabelMatches)
			if n > 0 {
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

// queryWord is a searchable word of a query with its synonyms.
type queryWord struct {
	word string
	syns []string
}

// matchField reports whether a field's words match w or a synonym, and
// which synonym ("" for the word itself).
func matchField(field []string, w queryWord) (via string, ok bool) {
	if matchesField(field, w.word) {
		return "", true
	}
	for _, s := range w.syns {
		if matchesField(field, s) {
			return s, true
		}
	}
	return "", false
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
// long and not a stop word, each once, with its synonyms.
func queryWords(q string) []queryWord {
	var out []queryWord
	for _, chunk := range strings.Fields(strings.ToLower(q)) {
		w := joined(chunk)
		if len([]rune(w)) < 2 || stopWords[w] || slices.ContainsFunc(out, func(x queryWord) bool { return x.word == w }) {
			continue
		}
		out = append(out, queryWord{word: w, syns: synonymsOf(w)})
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
