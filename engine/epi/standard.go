package epi

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
)

// esp2013CSV is the 2013 European Standard Population as shipped, with its
// source in the file's comment lines.
//
//go:embed esp2013.csv
var esp2013CSV string

// StandardESP2013 names the 2013 European Standard Population.
const StandardESP2013 = "esp2013"

// AgeGroup is one age group of a standard population: ages From…To
// (To = -1: open-ended) and its weight.
type AgeGroup struct {
	Label    string
	From, To int
	Weight   float64
}

// ESP2013 returns the 2013 European Standard Population's 20 five-year
// age groups (0-4 … 90-94, 95+) and weights (per 100,000), read from the
// shipped code list esp2013.csv.
func ESP2013() []AgeGroup { return esp2013 }

var esp2013 = mustParseStandard(esp2013CSV)

// mustParseStandard reads a standard population's code list; the shipped
// file is checked by the tests, so a bad one stops every binary at start.
func mustParseStandard(text string) []AgeGroup {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	recs, err := csv.NewReader(strings.NewReader(strings.Join(lines, "\n"))).ReadAll()
	if err != nil || len(recs) < 2 {
		panic(fmt.Sprintf("epi: esp2013.csv: %v", err))
	}
	var out []AgeGroup
	for i, r := range recs[1:] {
		from, err1 := strconv.Atoi(r[1])
		to := -1
		var err2 error
		if r[2] != "" {
			to, err2 = strconv.Atoi(r[2])
		}
		w, err3 := strconv.ParseFloat(r[3], 64)
		if err1 != nil || err2 != nil || err3 != nil || from != 5*i {
			panic(fmt.Sprintf("epi: esp2013.csv line %d: bad row %v", i+2, r))
		}
		out = append(out, AgeGroup{Label: r[0], From: from, To: to, Weight: w})
	}
	return out
}

// groupLabels are the labels of the standard's age groups.
func groupLabels() []string {
	out := make([]string, len(esp2013))
	for i, g := range esp2013 {
		out[i] = g.Label
	}
	return out
}
