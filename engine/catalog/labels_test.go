package catalog

import (
	"slices"
	"testing"

	"github.com/statgate/statgate/policies"
)

func loadShipped(t *testing.T) *Catalog {
	t.Helper()
	p, err := policies.Load("../../policies/norway-synthetic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return New(p, nil)
}

// find returns the match of a search for dataset.column (column "" for
// the dataset's own fields) and field.
func find(res []Dataset, dataset, column, field string) (Match, bool) {
	for _, d := range res {
		if d.Name != dataset {
			continue
		}
		for _, m := range d.Matches {
			if m.Column == column && m.Field == field {
				return m, true
			}
		}
	}
	return Match{}, false
}

// TestSearchLabelsAndSynonyms searches the shipped data map as a new
// user would, and requires each hit to say which field matched.
func TestSearchLabelsAndSynonyms(t *testing.T) {
	c := loadShipped(t)
	tests := []struct {
		q, dataset, column, field string
		text, via                 string
	}{
		{"metformin", "lmr", "atc", "label", "A10BA02 metformin", ""},
		{"Oslo", "population", "municipality", "label", "0301 Oslo", ""},
		{"Oslo", "npr", "hospital", "domain", "Oslo universitetssykehus", ""},
		{"sukkersyke", "npr", "", "description", "", "diabetes"},
		{"sukkersyke", "npr", "icd10", "label", "E10 Type 1 diabetes mellitus", "diabetes"},
		{"diabetes", "lmr", "atc", "label", "A10 Drugs used in diabetes", ""},
		{"diabetes", "npr", "icd10", "label", "E10 Type 1 diabetes mellitus", ""},
		{"age", "population", "birth_year", "description", "Year of birth", "birth"},
		{"kommune", "population", "municipality", "code_list", "kommunenummer", ""},
		{"municipality", "population", "municipality", "name", "municipality", ""},
		{"kreft", "cancer", "", "title", "Cancer Registry (synthetic) — new cancer cases", "cancer"},
		{"Endocrine", "npr", "icd10", "label", "IV Endocrine, nutritional and metabolic diseases (E00–E90)", ""},
	}
	for _, tc := range tests {
		t.Run(tc.q+" "+tc.dataset+"."+tc.column, func(t *testing.T) {
			res := c.Search(tc.q)
			m, ok := find(res, tc.dataset, tc.column, tc.field)
			if !ok {
				t.Fatalf("%q: no %s match on %s.%s; got %+v", tc.q, tc.field, tc.dataset, tc.column, res)
			}
			if (tc.text != "" && m.Text != tc.text) || m.Via != tc.via {
				t.Errorf("%q: match %+v, want text %q via %q", tc.q, m, tc.text, tc.via)
			}
			for _, d := range res {
				for _, mm := range d.Matches {
					if mm.Column != "" {
						i := slices.IndexFunc(d.Columns, func(col Column) bool { return col.Name == mm.Column })
						if i < 0 || !d.Columns[i].Matched {
							t.Errorf("match %+v on a column not marked Matched", mm)
						}
					}
				}
			}
		})
	}
	// Labels count as one field per column: "diabetes" matches several
	// ICD-10 codes, reported up to MaxLabelMatches.
	for _, d := range c.Search("diabetes") {
		n := 0
		for _, m := range d.Matches {
			if m.Field == "label" && m.Column == "icd10" {
				n++
			}
		}
		if n > MaxLabelMatches {
			t.Errorf("%s: %d label matches reported, cap %d", d.Name, n, MaxLabelMatches)
		}
	}
	if res := c.Search("zebrafish"); len(res) != 0 {
		t.Errorf("zebrafish found %+v", res)
	}
}

func TestCodeLists(t *testing.T) {
	c := loadShipped(t)
	all := c.CodeLists()
	var names []string
	for _, cl := range all {
		names = append(names, cl.Name)
		if cl.Codes != nil {
			t.Errorf("%s: the list carries codes", cl.Name)
		}
	}
	for _, want := range []string{"ATC", "ICD-10", "kommunenummer", "icd10_letter", "atc_anatomical"} {
		if !slices.Contains(names, want) {
			t.Errorf("code lists %v lack %s", names, want)
		}
	}
	k, ok := c.CodeList("kommunenummer", "")
	if !ok || k.Kind != "code_list" || k.Count != len(k.Codes) || k.Count < 300 || k.Licence == "" ||
		!slices.Contains(k.UsedBy, "population.municipality") || k.Codes[0] != (Code{Code: "0301", Name: "Oslo"}) {
		t.Errorf("kommunenummer: %+v", k)
	}
	atc, ok := c.CodeList("atc", "metformin")
	if !ok || atc.Kind != "code_system" || len(atc.Codes) != 1 || atc.Codes[0].Code != "A10BA02" || !slices.Contains(atc.UsedBy, "lmr.atc") {
		t.Errorf("ATC filtered by metformin: %+v", atc)
	}
	icd, _ := c.CodeList("ICD-10", "sukkersyke")
	if len(icd.Codes) < 2 || !slices.ContainsFunc(icd.Codes, func(x Code) bool { return x.Code == "E11" }) {
		t.Errorf("ICD-10 filtered by sukkersyke: %+v", icd.Codes)
	}
	if _, ok := c.CodeList("nope", ""); ok {
		t.Error("unknown code list found")
	}
}
