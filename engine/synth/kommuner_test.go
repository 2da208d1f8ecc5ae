package synth

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestMunicipalitiesMatchCodeList checks that the Go list and
// policies/codelists/kommunenummer.csv hold the same codes and names in
// the same order.
func TestMunicipalitiesMatchCodeList(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "policies", "codelists", "kommunenummer.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) == 0 || len(records[0]) != 2 || records[0][0] != "code" || records[0][1] != "name" {
		t.Fatalf("header = %v, want [code name]", records[:min(1, len(records))])
	}
	records = records[1:]
	if len(records) != len(Municipalities) {
		t.Fatalf("code list has %d municipalities, Go list %d", len(records), len(Municipalities))
	}
	for i, r := range records {
		m := Municipalities[i]
		if r[0] != m.Code || r[1] != m.Name {
			t.Errorf("line %d: code list has %s %q, Go list %s %q", i+2, r[0], r[1], m.Code, m.Name)
		}
	}
}

func TestMunicipalities(t *testing.T) {
	code := regexp.MustCompile(`^[0-9]{4}$`)
	seen := map[string]bool{}
	total := 0
	for i, m := range Municipalities {
		if !code.MatchString(m.Code) || m.Name == "" || m.Population <= 0 {
			t.Errorf("bad municipality %+v", m)
		}
		if seen[m.Code] {
			t.Errorf("duplicate code %s", m.Code)
		}
		seen[m.Code] = true
		if i > 0 && Municipalities[i-1].Code >= m.Code {
			t.Errorf("codes out of order at %s", m.Code)
		}
		total += m.Population
	}
	// The 2024 structure has 357 municipalities and about 5.5 million residents.
	if len(Municipalities) != 357 {
		t.Errorf("%d municipalities, want 357", len(Municipalities))
	}
	if total < 5_300_000 || total > 5_700_000 {
		t.Errorf("total population %d, want about 5.5 million", total)
	}
	for _, c := range []string{"0301", "4601", "5001", "1103", "3201"} {
		if !seen[c] {
			t.Errorf("missing municipality %s", c)
		}
	}
}
