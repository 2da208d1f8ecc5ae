package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/statgate/statgate/policies"
)

// The README's facts that a fresh clone once found wrong (issue 17).
func TestReadmeFacts(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	if !strings.Contains(string(readme), "Go ≥ "+string(m[1])+" ") {
		t.Errorf("README does not ask for the Go version go.mod needs (%s)", m[1])
	}
	for _, wrong := range []string{
		"metformin-class",                   // A10B is all non-insulin glucose-lowering drugs
		"](../shared/",                      // a link that is broken in a clone
		"ten-year age band",                 // the template's bands are 0–17/18–39/40–64/65–79/80+
		"defaults to `.statgate/demo/data`", // demo and the rest share one data directory
	} {
		if strings.Contains(string(readme), wrong) {
			t.Errorf("README still says %q", wrong)
		}
	}
	if !strings.Contains(string(readme), "Ctrl-C") {
		t.Error("README does not say how to stop the demo (Ctrl-C, or the built binary)")
	}
	pol, err := policies.Load(testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	tpl := pol.Templates["contacts_by_chapter_age_band"]
	if tpl == nil {
		t.Fatal("no template contacts_by_chapter_age_band")
	}
	for _, band := range []string{"0-17", "18-39", "40-64", "65-79", "80+"} {
		if !strings.Contains(tpl.SQL, "'"+band+"'") || !strings.Contains(strings.ReplaceAll(tpl.Description, "–", "-"), band) {
			t.Errorf("age band %s is not both in the template's SQL and its description %q", band, tpl.Description)
		}
	}
	if strings.Contains(tpl.Description, "ten-year") {
		t.Errorf("template description says ten-year bands: %q", tpl.Description)
	}
}
