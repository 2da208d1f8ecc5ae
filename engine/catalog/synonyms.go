package catalog

import (
	"slices"
	"strings"
)

// Synonyms are groups of words the data map's search treats as one, in
// English and Norwegian (bokmål, with and without æ, ø, å): a query word
// that one member starts with, or that starts with one member, also
// searches for the others ("sukkersyke" finds what "diabetes" finds,
// "kommune" what "municipality" finds).
var Synonyms = [][]string{
	{"diabetes", "diabetic", "sukkersyke", "diabetiker", "diabetisk"},
	{"municipality", "municipalities", "kommune", "kommunenummer", "residence", "bosted"},
	{"age", "alder", "birth", "born", "fødselsår", "fodselsar", "født", "fodt"},
	{"sex", "gender", "kjønn", "kjonn"},
	{"death", "died", "dead", "mortality", "død", "dod", "dødsfall", "dodsfall", "dødsårsak", "dodsarsak"},
	{"hospital", "sykehus", "helseforetak", "trust"},
	{"drug", "medicine", "medication", "legemiddel", "legemidler", "resept", "prescription", "dispensed", "utlevert"},
	{"diagnosis", "diagnose", "diagnoser", "icd10"},
	{"cancer", "kreft", "neoplasm", "tumour", "tumor", "svulst"},
	{"hypertension", "hypertensjon", "blodtrykk", "blood pressure"},
	{"heart", "hjerte", "cardiac", "cardiovascular", "circulatory"},
	{"asthma", "astma"},
	{"depression", "depresjon", "depressive"},
	{"stroke", "hjerneslag"},
	{"year", "årstall", "arstall"},
	{"stay", "liggetid", "liggedøgn", "liggedogn"},
	{"contact", "kontakt", "visit", "besøk", "besok"},
	{"dose", "doses", "ddd", "døgndose", "dogndose"},
}

// minSynonymPrefix is the shortest query word matched to a synonym by
// prefix ("dia" alone does not pull in "sukkersyke").
const minSynonymPrefix = 4

// synonymsOf returns the other members of w's synonym groups.
func synonymsOf(w string) []string {
	var out []string
	for _, g := range Synonyms {
		hit := false
		for _, m := range g {
			m = joined(m)
			if m == w || (len([]rune(w)) >= minSynonymPrefix && strings.HasPrefix(m, w)) || strings.HasPrefix(w, m) && len([]rune(m)) >= minSynonymPrefix {
				hit = true
				break
			}
		}
		if !hit {
			continue
		}
		for _, m := range g {
			if m = joined(m); m != w && !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}
