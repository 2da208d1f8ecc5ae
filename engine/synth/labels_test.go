package synth

import (
	"testing"

	"github.com/statgate/statgate/policies"
)

// TestCodesHaveLabels checks that the shipped policy's label files name
// every ICD-10 category and ATC code the generator writes, and every ATC
// level above each drug, so the data map finds them by name.
func TestCodesHaveLabels(t *testing.T) {
	p, err := policies.Load("../../policies/norway-synthetic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	labels := func(set string) map[string]string {
		ls := p.Labels[set]
		if ls == nil {
			t.Fatalf("the policy has no labels for %s", set)
		}
		m := map[string]string{}
		for _, l := range ls.Labels {
			m[l.Code] = l.Name
		}
		return m
	}
	icd, atc := labels("ICD-10"), labels("ATC")
	var icdCodes, atcCodes []string
	for _, d := range diagnoses {
		icdCodes = append(icdCodes, d.code)
	}
	for _, c := range conditions {
		icdCodes = append(icdCodes, c.code)
	}
	for _, c := range cancerSites {
		icdCodes = append(icdCodes, c.code)
	}
	for _, w := range deathCauses {
		icdCodes = append(icdCodes, w.value)
	}
	for _, d := range backgroundDrugs {
		atcCodes = append(atcCodes, d.value)
	}
	for _, c := range courses {
		for _, a := range c.atc {
			atcCodes = append(atcCodes, a.value)
		}
	}
	if len(icdCodes) < 30 || len(atcCodes) < 30 {
		t.Fatalf("only %d ICD-10 and %d ATC codes found in the model", len(icdCodes), len(atcCodes))
	}
	for _, c := range icdCodes {
		if icd[c] == "" {
			t.Errorf("ICD-10 %s has no label in policies/codelists/icd10.csv", c)
		}
	}
	for _, c := range atcCodes {
		for _, n := range []int{1, 3, 4, 5, 7} {
			if atc[c[:n]] == "" {
				t.Errorf("ATC %s (of %s) has no label in policies/codelists/atc.csv", c[:n], c)
			}
		}
	}
}
