package policies

import (
	"errors"
	"strings"
	"testing"
)

// withPersons is base with people declared the persons register (with its
// birth year and a dated column) and visits' date column named.
func withPersons(t *testing.T) string {
	t.Helper()
	src := edit(t, "    one_row_per_person: true\n",
		"    one_row_per_person: true\n    role: persons\n    birth_year_column: birth_year\n    date_column: moved\n")
	src = strings.Replace(src, "      sex: {type: category, domain: {code_list: sex}}\n",
		"      sex: {type: category, domain: {code_list: sex}}\n      moved: {type: date, years: [2000, 2023]}\n", 1)
	return strings.Replace(src, "    person_key: pid\n    max_groups_per_person: 3\n",
		"    person_key: pid\n    date_column: visit_date\n    max_groups_per_person: 3\n", 1)
}

func TestCohortFields(t *testing.T) {
	p, err := Parse([]byte(withPersons(t)), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pop, ok := p.Persons()
	if !ok || pop.Name != "people" || pop.Role != RolePersons || pop.BirthYearColumn != "birth_year" || pop.DateColumn != "moved" {
		t.Fatalf("persons register = %+v, %v", pop, ok)
	}
	if y, ok := pop.AgeReferenceYear(); !ok || y != 2023 {
		t.Errorf("age reference year = %d, %v; want the end of moved's years, 2023", y, ok)
	}
	v := p.Datasets["visits"]
	if v.Role != "" || v.DateColumn != "visit_date" {
		t.Errorf("visits role %q, date column %q", v.Role, v.DateColumn)
	}
	if _, ok := v.AgeReferenceYear(); ok {
		t.Error("visits has an age reference year without a birth year column")
	}
	// base declares none of the fields: no persons register.
	p, err = Parse([]byte(base), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Persons(); ok {
		t.Error("base has a persons register")
	}
}

func TestCohortFieldErrors(t *testing.T) {
	cases := []struct {
		desc, old, new, field, problem string
	}{
		{"unknown role", "    role: persons\n", "    role: people\n", "datasets.people.role", `unknown role "people" (known: persons)`},
		{"persons not one row per person", "    one_row_per_person: true\n", "    one_row_per_person: false\n", "datasets.people.role", "must declare one_row_per_person: true"},
		{"second persons register", "    date_column: visit_date\n", "    date_column: visit_date\n    one_row_per_person: true\n    role: persons\n", "datasets.visits.role", `dataset "people" already has role persons; a policy declares at most one persons register`},
		{"birth year column unknown", "    birth_year_column: birth_year\n", "    birth_year_column: born\n", "datasets.people.birth_year_column", `names no declared column: "born"`},
		{"birth year column not integer", "    birth_year_column: birth_year\n", "    birth_year_column: sex\n", "datasets.people.birth_year_column", `column "sex" has type category; birth_year_column must name a column of type integer`},
		{"birth year column outside the persons register", "    date_column: visit_date\n", "    date_column: visit_date\n    birth_year_column: visits_count\n", "datasets.visits.birth_year_column", "applies to the persons register only"},
		{"birth year column without a date column", "    date_column: moved\n", "", "datasets.people.birth_year_column", "name a date column with years: [from, to] in date_column"},
		{"birth year column with an undated date column", "moved: {type: date, years: [2000, 2023]}", "moved: {type: date}", "datasets.people.birth_year_column", "age_band is the age at the end of the register's date range"},
		{"date column unknown", "    date_column: visit_date\n", "    date_column: seen\n", "datasets.visits.date_column", `names no declared column: "seen"`},
		{"date column not a date", "    date_column: visit_date\n", "    date_column: clinic\n", "datasets.visits.date_column", `column "clinic" has type string; date_column must name a column of type date`},
		{"date column empty", "    date_column: visit_date\n", "    date_column: ''\n", "datasets.visits.date_column", "must not be empty"},
	}
	good := withPersons(t)
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			if n := strings.Count(good, tc.old); n != 1 {
				t.Fatalf("%q occurs %d times, want once", tc.old, n)
			}
			_, err := Parse([]byte(strings.Replace(good, tc.old, tc.new, 1)), "policies/x.yaml")
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *policies.Error", err)
			}
			if pe.File != "policies/x.yaml" || pe.Field != tc.field || !strings.Contains(pe.Problem, tc.problem) || pe.Line == 0 {
				t.Errorf("error %v (field %q, line %d), want field %q and a problem containing %q", err, pe.Field, pe.Line, tc.field, tc.problem)
			}
		})
	}
}

// TestShippedPolicyNamesCohortFields: the shipped policy declares the
// persons register and the date column of every dated dataset, which is
// what cohort estimates read (DESIGN §5 registries).
func TestShippedPolicyNamesCohortFields(t *testing.T) {
	p, err := Load("norway-synthetic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pop, ok := p.Persons()
	if !ok || pop.Name != "population" || pop.BirthYearColumn != "birth_year" {
		t.Fatalf("persons register %+v, %v", pop, ok)
	}
	if y, ok := pop.AgeReferenceYear(); !ok || y != 2024 {
		t.Errorf("age reference year %d, %v; want 2024", y, ok)
	}
	want := map[string]string{"population": "death_date", "npr": "contact_date", "lmr": "dispensed_date",
		"cancer": "diagnosis_date", "death_causes": "death_date"}
	for name, ds := range p.Datasets {
		if ds.DateColumn != want[name] {
			t.Errorf("%s: date_column %q, want %q", name, ds.DateColumn, want[name])
		}
	}
}
