package catalog

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/statgate/statgate/policies"
)

func loadSmall(t *testing.T) *policies.Policy {
	t.Helper()
	p, err := policies.Load("../../testdata/policies/small.yaml")
	if err != nil {
		t.Fatalf("policies.Load: %v", err)
	}
	return p
}

func TestApprox(t *testing.T) {
	cases := []struct {
		rows int64
		want int64
		size string
	}{
		{0, 0, "fewer than 1,000"},
		{1, 0, "fewer than 1,000"},
		{537, 0, "fewer than 1,000"},
		{999, 0, "fewer than 1,000"},
		{1000, 1000, "about 1,000"},
		{1049, 1000, "about 1,000"},
		{1050, 1100, "about 1,100"},
		{12345, 12000, "about 12,000"},
		{99499, 99000, "about 99,000"},
		{99500, 100000, "about 100,000"},
		{9876543, 9900000, "about 9,900,000"},
	}
	for _, tc := range cases {
		t.Run(strconv.FormatInt(tc.rows, 10), func(t *testing.T) {
			got, size := Approx(tc.rows)
			if got != tc.want || size != tc.size {
				t.Errorf("Approx(%d) = %d, %q; want %d, %q", tc.rows, got, size, tc.want, tc.size)
			}
		})
	}
}

// TestNoSmallExactSize checks that no exact size below 1,000 appears
// anywhere in the data map's wire form.
func TestNoSmallExactSize(t *testing.T) {
	p := loadSmall(t)
	for _, rows := range []int64{123, 537, 999} {
		t.Run(strconv.FormatInt(rows, 10), func(t *testing.T) {
			c := New(p, map[string]int64{"people": rows, "visits": 123456})
			b, err := json.Marshal(c.Datasets())
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), strconv.FormatInt(rows, 10)) {
				t.Errorf("the data map's JSON contains the exact size %d: %s", rows, b)
			}
			people, _ := c.Dataset("people")
			if people.ApproxRows != 0 || people.Size != "fewer than 1,000" {
				t.Errorf("people: approx %d, size %q", people.ApproxRows, people.Size)
			}
			visits, _ := c.Dataset("visits")
			if visits.ApproxRows != 120000 || visits.Size != "about 120,000" {
				t.Errorf("visits: approx %d, size %q", visits.ApproxRows, visits.Size)
			}
		})
	}
}

func TestUnknownSize(t *testing.T) {
	c := New(loadSmall(t), nil)
	for _, d := range c.Datasets() {
		if d.Size != "unknown" || d.ApproxRows != 0 {
			t.Errorf("%s: size %q approx %d with no sizes, want unknown, 0", d.Name, d.Size, d.ApproxRows)
		}
	}
}

func TestDatasetWire(t *testing.T) {
	c := New(loadSmall(t), map[string]int64{"people": 5000, "visits": 20000})
	if got := names(c.Datasets()); !slices.Equal(got, []string{"people", "visits"}) {
		t.Fatalf("Datasets() = %v, want sorted names", got)
	}
	if _, ok := c.Dataset("nope"); ok {
		t.Error("Dataset(nope) found")
	}
	v, ok := c.Dataset("VISITS")
	if !ok {
		t.Fatal("Dataset(VISITS) not found (names match ignoring case)")
	}
	wantB := Bounding{MaxGroupsPerPerson: 3, MaxRowsPerPersonPerGroup: 5, MinCellCount: 5, RoundTo: 0,
		Epsilon: Epsilon{Default: 0.5, Max: 1}, DeltaPerQuery: 1e-7, Noise: "gaussian"}
	if v.Bounding != wantB {
		t.Errorf("visits bounding = %+v, want %+v", v.Bounding, wantB)
	}
	people, _ := c.Dataset("people")
	col := func(d Dataset, name string) Column {
		for _, c := range d.Columns {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("%s has no column %s", d.Name, name)
		return Column{}
	}
	cases := []struct {
		desc string
		col  Column
		want string // the column's public domain (and prefix domains) as JSON
	}{
		{"person key", col(people, "pid"), `null`},
		{"range", col(people, "birth_year"), `{"kind":"range","count":125,"range":[1900,2024],"summary":"1900–2024"}`},
		{"short code list", col(people, "region"), `{"kind":"code_list","values":["01","02","03","04","05"],"code_list":"region","count":5,"summary":"region (5 codes)"}`},
		{"years", col(v, "visit_date"), `{"kind":"years","count":10,"range":[2015,2024],"summary":"years 2015–2024"}`},
		{"none", col(v, "clinic"), `null`},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			b, _ := json.Marshal(tc.col.PublicDomain)
			if string(b) != tc.want {
				t.Errorf("public domain = %s, want %s", b, tc.want)
			}
		})
	}
	if pid := col(people, "pid"); !pid.PersonKey || pid.Type != "id" {
		t.Errorf("pid = %+v, want the person key of type id", pid)
	}
	if cost := col(v, "cost"); cost.Bounds == nil || *cost.Bounds != [2]float64{0, 10000} {
		t.Errorf("cost bounds = %v", cost.Bounds)
	}
	diag := col(v, "diagnosis")
	if len(diag.PrefixDomains) != 1 || diag.PrefixDomains[0].Length != 1 || diag.PrefixDomains[0].Summary != "A, B, C, E, I" {
		t.Errorf("diagnosis prefix domains = %+v", diag.PrefixDomains)
	}
}

func TestLongDomainSummarised(t *testing.T) {
	var values []string
	for i := range MaxListedValues + 1 {
		values = append(values, fmt.Sprintf("v%02d", i))
	}
	p := &policies.Policy{Datasets: map[string]*policies.Dataset{"d": {
		Name: "d", PersonKey: "pid",
		Columns: []*policies.Column{
			{Name: "pid", Type: policies.TypeID},
			{Name: "long", Type: policies.TypeCategory, Domain: &policies.Domain{Values: values}},
			{Name: "coded", Type: policies.TypeCode, Domain: &policies.Domain{Values: values, CodeList: "things"}},
		},
	}}}
	d, _ := New(p, nil).Dataset("d")
	cases := []struct {
		col, summary string
	}{
		{"long", "21 values"},
		{"coded", "things (21 codes)"},
	}
	for i, tc := range cases {
		t.Run(tc.col, func(t *testing.T) {
			dom := d.Columns[i+1].PublicDomain
			if dom == nil || dom.Values != nil || dom.Count != 21 || dom.Summary != tc.summary {
				t.Errorf("domain = %+v, want 21 values summarised as %q without listing them", dom, tc.summary)
			}
		})
	}
}

func TestSearch(t *testing.T) {
	c := New(loadSmall(t), nil)
	cases := []struct {
		desc    string
		q       string
		want    []string            // dataset names in rank order
		matched map[string][]string // dataset → matched columns
	}{
		{"column name", "diagnosis", []string{"visits"}, map[string][]string{"visits": {"diagnosis"}}},
		{"case and prefix", "DIAG", []string{"visits"}, map[string][]string{"visits": {"diagnosis"}}},
		{"code system with punctuation", "icd-10", []string{"visits"}, map[string][]string{"visits": {"diagnosis"}}},
		{"code list name", "region", []string{"people"}, map[string][]string{"people": {"region"}}},
		{"listed domain value", "emergency", []string{"visits"}, map[string][]string{"visits": {"urgency"}}},
		{"one-letter words ignored", "E", nil, nil},
		{"any word matches", "cost birth", []string{"people", "visits"},
			map[string][]string{"people": {"birth_year"}, "visits": {"cost"}}},
		{"ranked by hits", "person", []string{"people", "visits"},
			map[string][]string{"people": {"pid"}, "visits": {"pid"}}},
		{"ranked by hits, not by name", "clinic person", []string{"visits", "people"},
			map[string][]string{"people": {"pid"}, "visits": {"pid", "clinic"}}},
		{"title only", "test", []string{"people", "visits"}, map[string][]string{"people": nil, "visits": nil}},
		{"stop words only", "of the per", nil, nil},
		{"no match", "zebra", nil, nil},
		{"empty", "  ", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			got := c.Search(tc.q)
			if !slices.Equal(names(got), tc.want) {
				t.Fatalf("Search(%q) = %v, want %v", tc.q, names(got), tc.want)
			}
			for _, d := range got {
				var m []string
				for _, col := range d.Columns {
					if col.Matched {
						m = append(m, col.Name)
					}
				}
				if !slices.Equal(m, tc.matched[d.Name]) {
					t.Errorf("%s matched columns %v, want %v", d.Name, m, tc.matched[d.Name])
				}
				if d.Hits < 1 {
					t.Errorf("%s: hits %d", d.Name, d.Hits)
				}
			}
		})
	}
	t.Run("hits count word-field matches", func(t *testing.T) {
		// "cost": the visits description ("… and its cost."), the column
		// name and its description ("Cost in NOK").
		got := c.Search("cost")
		if len(got) != 1 || got[0].Hits != 3 {
			t.Fatalf("Search(cost) = %+v, want visits with 3 hits", got)
		}
	})
	t.Run("search does not mark the catalog", func(t *testing.T) {
		c.Search("diagnosis")
		v, _ := c.Dataset("visits")
		for _, col := range v.Columns {
			if col.Matched {
				t.Errorf("column %s stays marked after a search", col.Name)
			}
		}
	})
}

func names(ds []Dataset) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return out
}
