package policies

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// base is a small valid policy in block style, so that each error case
// below is one textual edit of it.
const base = `code_lists:
  sex: [M, F]
datasets:
  people:
    title: People
    source: people.parquet
    person_key: pid
    one_row_per_person: true
    max_groups_per_person: 1
    max_rows_per_person_per_group: 1
    min_cell_count: 5
    round_to: 5
    epsilon_per_query: {default: 0.5, max: 2}
    columns:
      pid: {type: id}
      birth_year: {type: integer, bounds: [1900, 2024], domain: {range: [1900, 2024]}}
      sex: {type: category, domain: {code_list: sex}}
  visits:
    source: visits.parquet
    person_key: pid
    max_groups_per_person: 3
    max_rows_per_person_per_group: 5
    epsilon_per_query: {default: 0.5, max: 1}
    delta_per_query: 1.0e-7
    columns:
      pid: {type: id}
      visit_date: {type: date, years: [2015, 2024]}
      diagnosis: {type: code, prefix_domains: {1: [A, B]}}
      cost: {type: number, bounds: [0, 100]}
      clinic: {type: string}
      visits_count: {type: integer}
roles:
  analyst: {actions: [templates]}
  researcher: {actions: [templates, sql, cohorts]}
projects:
  study:
    datasets: [people, visits]
    budget: {epsilon: 5, delta: 1.0e-5}
    members:
      - {principal: alice, role: researcher}
      - {principal: bob, role: analyst}
templates:
  by_year:
    datasets: [visits]
    sql: SELECT year(visit_date) AS y, count(*) AS n FROM visits WHERE diagnosis LIKE :prefix AND cost > :min_cost GROUP BY 1
    params:
      prefix: {type: string, pattern: '[A-Z]%'}
      min_cost: {type: number, min: 0, max: 100, default: 0}
    epsilon: 0.5
`

// edit replaces the one occurrence of old in base with new.
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if n := strings.Count(base, old); n != 1 {
		t.Fatalf("edit: %q occurs %d times in base, want exactly once", old, n)
	}
	return strings.Replace(base, old, new, 1)
}

func TestParseBase(t *testing.T) {
	p, err := Parse([]byte(base), "x.yaml")
	if err != nil {
		t.Fatalf("Parse(base): %v", err)
	}
	v := p.Datasets["visits"]
	// Omitted fields take the documented defaults.
	if v.MinCellCount != DefaultMinCellCount || v.RoundTo != DefaultRoundTo || v.Noise != DefaultNoise || v.Title != "visits" {
		t.Errorf("visits defaults: min_cell_count %d, round_to %d, noise %q, title %q", v.MinCellCount, v.RoundTo, v.Noise, v.Title)
	}
	// A numeric column without bounds is allowed.
	if c, ok := v.Column("visits_count"); !ok || c.Bounds != nil {
		t.Errorf("visits_count: %+v, %v; want a column without bounds", c, ok)
	}
	if got := p.Templates["by_year"].Params["min_cost"].Default; got != float64(0) {
		t.Errorf("min_cost default = %#v, want float64(0)", got)
	}
	if p.Limits != (Limits{MaxQueryCost: DefaultMaxQueryCost}) {
		t.Errorf("limits %+v, want the default query cost and no row cap", p.Limits)
	}
	p, err = Parse([]byte(base+"limits: {max_query_cost: 5000, max_rows_scanned: 1000000}\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Limits != (Limits{MaxQueryCost: 5000, MaxRowsScanned: 1_000_000}) {
		t.Errorf("limits %+v", p.Limits)
	}
	if p.Accounting != AccountingZCDP {
		t.Errorf("accounting %q, want the default %q", p.Accounting, AccountingZCDP)
	}
	if p, err = Parse([]byte(base+"accounting: basic\n"), "x.yaml"); err != nil || p.Accounting != AccountingBasic {
		t.Errorf("accounting: basic parsed as %v, %v", p, err)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		desc    string
		yaml    string // the whole file; empty: base with old replaced by new
		old     string
		new     string
		field   string
		problem string
		line    int // 0: not checked
	}{
		// Structure.
		{desc: "empty file", yaml: "# nothing\n", problem: "the policy file is empty"},
		{desc: "not a mapping", yaml: "- a\n- b\n", problem: "must be a mapping with sections"},
		{desc: "unknown top-level field", old: "roles:\n", new: "rules:\n  x: 1\nroles:\n", field: "rules", problem: `unknown field "rules"`, line: 32},
		{desc: "unknown dataset field", old: "    title: People\n", new: "    titel: People\n", field: "datasets.people.titel", problem: `unknown field "titel"`, line: 5},
		{desc: "unknown column field", old: "sex: {type: category, domain: {code_list: sex}}", new: "sex: {type: category, domian: [M, F]}", field: "datasets.people.columns.sex.domian", problem: `unknown field "domian"`, line: 17},
		{desc: "field given twice", old: "    title: People\n", new: "    title: People\n    title: Again\n", field: "datasets.people.title", problem: "field given twice", line: 6},
		{desc: "no datasets section", yaml: "roles:\n  a: {actions: [sql]}\n", field: "datasets", problem: "missing"},
		{desc: "no dataset", yaml: "datasets: {}\n", field: "datasets", problem: "declares no dataset"},
		{desc: "number where text", old: "    title: People\n", new: "    title: [People]\n", field: "datasets.people.title", problem: "must be text, not a list"},
		{desc: "text where number", old: "max_groups_per_person: 3", new: "max_groups_per_person: three", field: "datasets.visits.max_groups_per_person", problem: "must be an integer, not text"},

		// Dataset names and columns.
		{desc: "duplicate dataset", old: "  visits:\n    source:", new: "  people:\n    source:", field: "datasets.people", problem: `duplicate dataset name "people"`, line: 18},
		{desc: "duplicate dataset ignoring case", old: "  visits:\n    source:", new: "  People:\n    source:", field: "datasets.People", problem: `duplicate dataset name "People"`},
		{desc: "dataset name not an identifier", old: "  visits:\n    source:", new: "  my-visits:\n    source:", field: "datasets.my-visits", problem: "not a valid dataset name"},
		{desc: "duplicate column ignoring case", old: "      clinic: {type: string}", new: "      Cost: {type: string}", field: "datasets.visits.columns.Cost", problem: `duplicate column name "Cost"`},
		{desc: "missing source", old: "    source: visits.parquet\n", new: "", field: "datasets.visits.source", problem: "missing"},
		{desc: "missing columns", old: "    columns:\n      pid: {type: id}\n      birth_year", new: "    x_columns:\n      pid: {type: id}\n      birth_year", field: "datasets.people.x_columns", problem: "unknown field"},
		{desc: "missing person_key", old: "    source: people.parquet\n    person_key: pid\n", new: "    source: people.parquet\n", field: "datasets.people.person_key", problem: "missing"},
		{desc: "unknown person_key", old: "    source: people.parquet\n    person_key: pid\n", new: "    source: people.parquet\n    person_key: person\n", field: "datasets.people.person_key", problem: `names no declared column: "person"`},
		{desc: "person key not id", old: "      pid: {type: id}\n      birth_year", new: "      pid: {type: integer}\n      birth_year", field: "datasets.people.person_key", problem: `column "pid" has type integer; the person key must have type id`},
		{desc: "missing column type", old: "      clinic: {type: string}", new: "      clinic: {description: Clinic}", field: "datasets.visits.columns.clinic.type", problem: "missing"},
		{desc: "unknown column type", old: "cost: {type: number, bounds: [0, 100]}", new: "cost: {type: money, bounds: [0, 100]}", field: "datasets.visits.columns.cost.type", problem: `unknown type "money"`},

		// Bounds, domains, years.
		{desc: "bounds lo > hi", old: "cost: {type: number, bounds: [0, 100]}", new: "cost: {type: number, bounds: [90, 0]}", field: "datasets.visits.columns.cost.bounds", problem: "lo 90 > hi 0", line: 29},
		{desc: "bounds not a pair", old: "bounds: [0, 100]", new: "bounds: [0, 50, 100]", field: "datasets.visits.columns.cost.bounds", problem: "must be a list of two numbers"},
		{desc: "bounds not numbers", old: "bounds: [0, 100]", new: "bounds: [0, lots]", field: "datasets.visits.columns.cost.bounds[1]", problem: "must be a number, not text"},
		{desc: "bounds on non-numeric", old: "clinic: {type: string}", new: "clinic: {type: string, bounds: [0, 1]}", field: "datasets.visits.columns.clinic.bounds", problem: "bounds apply to integer and number columns only"},
		{desc: "unknown code list", old: "domain: {code_list: sex}", new: "domain: {code_list: gender}", field: "datasets.people.columns.sex.domain.code_list", problem: `unknown code list "gender"`},
		{desc: "code list value twice", old: "  sex: [M, F]", new: "  sex: [M, F, M]", field: "code_lists.sex[2]", problem: `"M" is listed twice`},
		{desc: "data_map neither public nor token", old: "code_lists:\n", new: "data_map: open\ncode_lists:\n", field: "data_map", problem: `must be public or token, not "open"`},
		{desc: "code system without file", old: "code_lists:\n", new: "code_systems:\n  ICD-10: {source: WHO, licence: x}\ncode_lists:\n", field: "code_systems.ICD-10.file", problem: "missing"},
		{desc: "code system without licence", old: "code_lists:\n", new: "code_systems:\n  ICD-10: {file: nowhere.csv, source: WHO}\ncode_lists:\n", field: "code_systems.ICD-10.licence", problem: "missing: a label file states its licence"},
		{desc: "code list neither list nor file", old: "  sex: [M, F]", new: "  sex: M", field: "code_lists.sex", problem: "must be a list of codes or {file: codes.csv}"},
		{desc: "domain range lo > hi", old: "domain: {range: [1900, 2024]}", new: "domain: {range: [2024, 1900]}", field: "datasets.people.columns.birth_year.domain.range", problem: "lo 2024 > hi 1900"},
		{desc: "domain range on category", old: "domain: {code_list: sex}", new: "domain: {range: [1, 2]}", field: "datasets.people.columns.sex.domain.range", problem: "integer columns only"},
		{desc: "domain code_list and range", old: "domain: {range: [1900, 2024]}", new: "domain: {range: [1900, 2024], code_list: sex}", field: "datasets.people.columns.birth_year.domain", problem: "not both"},
		{desc: "domain on date column", old: "visit_date: {type: date, years: [2015, 2024]}", new: "visit_date: {type: date, domain: [a]}", field: "datasets.visits.columns.visit_date.domain", problem: "declare years"},
		{desc: "domain on id column", old: "      pid: {type: id}\n      birth_year", new: "      pid: {type: id, domain: [1, 2]}\n      birth_year", field: "datasets.people.columns.pid.domain", problem: "type id cannot declare a public domain"},
		{desc: "domain of integer column not integers", old: "domain: {range: [1900, 2024]}", new: "domain: [1900, x]", field: "datasets.people.columns.birth_year.domain[1]", problem: `"x" is not an integer`},
		{desc: "empty domain list", old: "domain: {code_list: sex}", new: "domain: []", field: "datasets.people.columns.sex.domain", problem: "at least one"},
		{desc: "years on non-date", old: "clinic: {type: string}", new: "clinic: {type: string, years: [2015, 2024]}", field: "datasets.visits.columns.clinic.years", problem: "years apply to date columns only"},
		{desc: "years from > to", old: "years: [2015, 2024]", new: "years: [2024, 2015]", field: "datasets.visits.columns.visit_date.years", problem: "lo 2024 > hi 2015"},
		{desc: "prefix value of wrong length", old: "prefix_domains: {1: [A, B]}", new: "prefix_domains: {1: [A, BC]}", field: "datasets.visits.columns.diagnosis.prefix_domains.1", problem: `value "BC" has 2 characters, not 1`},
		{desc: "prefix length zero", old: "prefix_domains: {1: [A, B]}", new: "prefix_domains: {0: [A, B]}", field: "datasets.visits.columns.diagnosis.prefix_domains.0", problem: "at least 1"},
		{desc: "prefix domains on number", old: "cost: {type: number, bounds: [0, 100]}", new: "cost: {type: number, prefix_domains: {1: [A]}}", field: "datasets.visits.columns.cost.prefix_domains", problem: "code, category and string columns only"},

		// Limits.
		{desc: "negative query cost", yaml: base + "limits: {max_query_cost: -1}\n", field: "limits.max_query_cost", problem: "must be at least 0"},
		{desc: "unknown limit", yaml: base + "limits: {max_queries: 3}\n", field: "limits.max_queries", problem: "unknown"},
		{desc: "unknown accounting", yaml: base + "accounting: rdp\n", field: "accounting", problem: `unknown accounting "rdp"`},

		// Bounding, ε, δ, noise.
		{desc: "max_groups_per_person 0", old: "max_groups_per_person: 3", new: "max_groups_per_person: 0", field: "datasets.visits.max_groups_per_person", problem: "must be at least 1, not 0"},
		{desc: "bound default above max", old: "max_groups_per_person: 3", new: "max_groups_per_person: {default: 5, max: 4}", field: "datasets.visits.max_groups_per_person", problem: "default 5 > max 4"},
		{desc: "bound with only a default", old: "max_groups_per_person: 3", new: "max_groups_per_person: {default: 5}", field: "datasets.visits.max_groups_per_person", problem: "both default and max"},
		{desc: "bound max 0", old: "max_groups_per_person: 3", new: "max_groups_per_person: {default: 1, max: 0}", field: "datasets.visits.max_groups_per_person.max", problem: "at least 1"},
		{desc: "max_rows_per_person_per_group 0", old: "max_rows_per_person_per_group: 5", new: "max_rows_per_person_per_group: 0", field: "datasets.visits.max_rows_per_person_per_group", problem: "must be at least 1, not 0"},
		{desc: "min_cell_count negative", old: "min_cell_count: 5", new: "min_cell_count: -1", field: "datasets.people.min_cell_count", problem: "must be at least 0, not -1"},
		{desc: "round_to negative", old: "round_to: 5", new: "round_to: -5", field: "datasets.people.round_to", problem: "must be at least 0, not -5"},
		{desc: "epsilon default 0", old: "epsilon_per_query: {default: 0.5, max: 2}", new: "epsilon_per_query: {default: 0, max: 2}", field: "datasets.people.epsilon_per_query.default", problem: "must be > 0, not 0"},
		{desc: "epsilon default above max", old: "epsilon_per_query: {default: 0.5, max: 2}", new: "epsilon_per_query: {default: 3, max: 2}", field: "datasets.people.epsilon_per_query", problem: "default 3 > max 2"},
		{desc: "epsilon min above default", old: "epsilon_per_query: {default: 0.5, max: 2}", new: "epsilon_per_query: {min: 0.6, default: 0.5, max: 2}", field: "datasets.people.epsilon_per_query", problem: "min 0.6 > default 0.5"},
		{desc: "epsilon min 0", old: "epsilon_per_query: {default: 0.5, max: 2}", new: "epsilon_per_query: {min: 0, default: 0.5, max: 2}", field: "datasets.people.epsilon_per_query.min", problem: "must be > 0, not 0"},
		{desc: "epsilon infinite", old: "epsilon_per_query: {default: 0.5, max: 2}", new: "epsilon_per_query: {default: 0.5, max: .inf}", field: "datasets.people.epsilon_per_query.max", problem: "must be a finite number"},
		{desc: "delta_per_query 1", old: "delta_per_query: 1.0e-7", new: "delta_per_query: 1", field: "datasets.visits.delta_per_query", problem: "below 1"},
		{desc: "unknown noise", old: "delta_per_query: 1.0e-7\n", new: "delta_per_query: 1.0e-7\n    noise: cauchy\n", field: "datasets.visits.noise", problem: `unknown noise "cauchy"`},
		{desc: "gaussian without delta", old: "    one_row_per_person: true\n", new: "    one_row_per_person: true\n    noise: gaussian\n", field: "datasets.people.noise", problem: "gaussian noise needs delta_per_query > 0"},
		{desc: "one_row_per_person not boolean", old: "one_row_per_person: true", new: "one_row_per_person: yes please", field: "datasets.people.one_row_per_person", problem: "must be true or false"},

		// Roles.
		{desc: "role with unknown action", old: "analyst: {actions: [templates]}", new: "analyst: {actions: [templates, delete]}", field: "roles.analyst.actions[1]", problem: `unknown action "delete"`},
		{desc: "role without actions", old: "analyst: {actions: [templates]}", new: "analyst: {description: Nothing}", field: "roles.analyst.actions", problem: "missing"},
		{desc: "duplicate role", old: "  researcher: {actions:", new: "  analyst: {actions:", field: "roles.analyst", problem: `duplicate role name "analyst"`},

		// Projects.
		{desc: "project without budget", old: "    budget: {epsilon: 5, delta: 1.0e-5}\n", new: "", field: "projects.study.budget", problem: "missing"},
		{desc: "budget without epsilon", old: "budget: {epsilon: 5, delta: 1.0e-5}", new: "budget: {delta: 1.0e-5}", field: "projects.study.budget.epsilon", problem: "missing"},
		{desc: "budget epsilon 0", old: "budget: {epsilon: 5, delta: 1.0e-5}", new: "budget: {epsilon: 0, delta: 1.0e-5}", field: "projects.study.budget.epsilon", problem: "must be > 0, not 0"},
		{desc: "budget delta negative", old: "budget: {epsilon: 5, delta: 1.0e-5}", new: "budget: {epsilon: 5, delta: -1.0e-5}", field: "projects.study.budget.delta", problem: "at least 0 and below 1"},
		{desc: "budget delta 1", old: "budget: {epsilon: 5, delta: 1.0e-5}", new: "budget: {epsilon: 5, delta: 1}", field: "projects.study.budget.delta", problem: "at least 0 and below 1"},
		{desc: "project with unknown dataset", old: "datasets: [people, visits]", new: "datasets: [people, vists]", field: "projects.study.datasets[1]", problem: `unknown dataset "vists"`},
		{desc: "project without datasets", old: "    datasets: [people, visits]\n", new: "", field: "projects.study.datasets", problem: "missing"},
		{desc: "member with unknown role", old: "{principal: bob, role: analyst}", new: "{principal: bob, role: owner}", field: "projects.study.members[1].role", problem: `unknown role "owner"`},
		{desc: "member twice", old: "{principal: bob, role: analyst}", new: "{principal: alice, role: analyst}", field: "projects.study.members[1].principal", problem: `principal "alice" is already a member`},
		{desc: "member without principal", old: "{principal: bob, role: analyst}", new: "{role: analyst}", field: "projects.study.members[1].principal", problem: "missing"},

		// Templates.
		{desc: "template with unknown dataset", old: "    datasets: [visits]\n", new: "    datasets: [visitz]\n", field: "templates.by_year.datasets[0]", problem: `unknown dataset "visitz"`},
		{desc: "template without sql", old: "    sql: SELECT", new: "    x_sql: SELECT", field: "templates.by_year.x_sql", problem: "unknown field"},
		{desc: "template with empty sql", old: "    sql: SELECT year(visit_date) AS y, count(*) AS n FROM visits WHERE diagnosis LIKE :prefix AND cost > :min_cost GROUP BY 1\n", new: "    sql: ''\n", field: "templates.by_year.sql", problem: "must not be empty"},
		{desc: "template sql missing", old: "    sql: SELECT year(visit_date) AS y, count(*) AS n FROM visits WHERE diagnosis LIKE :prefix AND cost > :min_cost GROUP BY 1\n", new: "", field: "templates.by_year.sql", problem: "missing"},
		{desc: "template epsilon 0", old: "    epsilon: 0.5\n", new: "    epsilon: 0\n", field: "templates.by_year.epsilon", problem: "must be > 0, not 0"},
		{desc: "template epsilon above dataset max", old: "    epsilon: 0.5\n", new: "    epsilon: 1.5\n", field: "templates.by_year.epsilon", problem: `1.5 is above the maximum ε per query 1 of dataset "visits"`},
		{desc: "template epsilon below dataset min", old: "    epsilon: 0.5\n", new: "    epsilon: 0.001\n", field: "templates.by_year.epsilon", problem: `0.001 is below the minimum ε per query 0.01 of dataset "visits"`},
		{desc: "template without epsilon", old: "    epsilon: 0.5\n", new: "", field: "templates.by_year.epsilon", problem: "missing"},
		{desc: "param with bad type", old: "prefix: {type: string, pattern: '[A-Z]%'}", new: "prefix: {type: text}", field: "templates.by_year.params.prefix.type", problem: `unknown type "text"`},
		{desc: "param with invalid regexp", old: "pattern: '[A-Z]%'", new: "pattern: '[A-Z%'", field: "templates.by_year.params.prefix.pattern", problem: "invalid regular expression"},
		{desc: "pattern on a number", old: "min_cost: {type: number, min: 0", new: "min_cost: {type: number, pattern: '1', min: 0", field: "templates.by_year.params.min_cost.pattern", problem: "string parameters only"},
		{desc: "param min > max", old: "min: 0, max: 100, default: 0", new: "min: 100, max: 0", field: "templates.by_year.params.min_cost", problem: "min 100 > max 0"},
		{desc: "min on a string", old: "prefix: {type: string, pattern: '[A-Z]%'}", new: "prefix: {type: string, min: 1}", field: "templates.by_year.params.prefix.min", problem: "integer and number parameters only"},
		{desc: "default above max", old: "max: 100, default: 0", new: "max: 100, default: 200", field: "templates.by_year.params.min_cost.default", problem: "must be between 0 and 100"},
		{desc: "default of wrong type", old: "max: 100, default: 0", new: "max: 100, default: lots", field: "templates.by_year.params.min_cost.default", problem: "must be a number, not text"},
		{desc: "default not matching pattern", old: "pattern: '[A-Z]%'}", new: "pattern: '[A-Z]%', default: 'e11%'}", field: "templates.by_year.params.prefix.default", problem: "does not match the pattern [A-Z]%"},
		{desc: "default not in enum", old: "pattern: '[A-Z]%'}", new: "enum: ['A%', 'B%'], default: 'C%'}", field: "templates.by_year.params.prefix.default", problem: "must be one of A%, B%"},
		{desc: "enum value of wrong type", old: "min: 0, max: 100, default: 0", new: "enum: [1, two]", field: "templates.by_year.params.min_cost.enum[1]", problem: "must be a number, not text"},
		{desc: "placeholder without param", old: "AND cost > :min_cost GROUP BY 1", new: "AND cost > :min_cost AND cost < :max_cost GROUP BY 1", field: "templates.by_year.sql", problem: "placeholder :max_cost has no declared parameter"},
		{desc: "param not used", old: "AND cost > :min_cost GROUP BY 1", new: "AND cost > 0 GROUP BY 1", field: "templates.by_year.params.min_cost", problem: "declared but not used in sql"},
		{desc: "placeholder only inside a string literal", old: "AND cost > :min_cost GROUP BY 1", new: "AND clinic <> ':min_cost' GROUP BY 1", field: "templates.by_year.params.min_cost", problem: "declared but not used"},
		{desc: "unterminated quote in sql", old: "AND cost > :min_cost GROUP BY 1", new: "AND cost > :min_cost AND clinic = 'x GROUP BY 1", field: "templates.by_year.sql", problem: "unterminated ' quote"},
		{desc: "placeholder only inside a comment", old: "AND cost > :min_cost GROUP BY 1", new: "AND cost > 0 /* was :min_cost */ GROUP BY 1", field: "templates.by_year.params.min_cost", problem: "declared but not used"},
		{desc: "unterminated comment in sql", old: "AND cost > :min_cost GROUP BY 1", new: "AND cost > :min_cost GROUP BY 1 /* note", field: "templates.by_year.sql", problem: "unterminated /* comment"},
		{desc: "DuckDB parameter in sql", old: "AND cost > :min_cost GROUP BY 1", new: "AND cost > $min_cost GROUP BY 1", field: "templates.by_year.sql", problem: "write template parameters as :min_cost, not $min_cost"},
		{desc: "positional parameter in sql", old: "AND cost > :min_cost GROUP BY 1", new: "AND cost > :min_cost AND cost < $1 GROUP BY 1", field: "templates.by_year.sql", problem: "positional parameters ($1) are not supported"},
		{desc: "param name not an identifier", old: "      min_cost: {type: number", new: "      min-cost: {type: number", field: "templates.by_year.params.min-cost", problem: "not a valid parameter name"},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			src := tc.yaml
			if src == "" {
				src = edit(t, tc.old, tc.new)
			}
			p, err := Parse([]byte(src), "policies/x.yaml")
			if err == nil {
				t.Fatalf("Parse succeeded (%d datasets), want error %s: %s", len(p.Datasets), tc.field, tc.problem)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *policies.Error", err, err)
			}
			if pe.File != "policies/x.yaml" || !strings.HasPrefix(err.Error(), "policies/x.yaml") {
				t.Errorf("error %q does not name the file policies/x.yaml", err)
			}
			if pe.Field != tc.field {
				t.Errorf("field = %q, want %q (error: %v)", pe.Field, tc.field, err)
			}
			if !strings.Contains(pe.Problem, tc.problem) {
				t.Errorf("problem = %q, want it to contain %q", pe.Problem, tc.problem)
			}
			if tc.line != 0 && pe.Line != tc.line {
				t.Errorf("line = %d, want %d (error: %v)", pe.Line, tc.line, err)
			}
			if tc.field != "" && !strings.Contains(err.Error(), ": "+tc.field+": "+pe.Problem) {
				t.Errorf("error text %q lacks %q", err, tc.field+": "+pe.Problem)
			}
		})
	}
}

// TestLoadInvalidFiles loads each file in testdata/policies/invalid; its
// first line says "# want: TEXT" and the error must contain TEXT.
func TestLoadInvalidFiles(t *testing.T) {
	files, err := filepath.Glob("../testdata/policies/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid policy files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("first line %q is not `# want: TEXT`", first)
			}
			_, err = Load(f)
			if err == nil {
				t.Fatalf("Load succeeded, want an error containing %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q\ndoes not contain %q", err, want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("../testdata/policies/no-such-policy.yaml")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no-such-policy.yaml") {
		t.Errorf("Load(missing) = %v, want a not-exist error naming the file", err)
	}
}

func TestLoadSmall(t *testing.T) {
	p, err := Load("../testdata/policies/small.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	dir, _ := filepath.Abs("../testdata/policies")
	if p.Path != filepath.Join(dir, "small.yaml") {
		t.Errorf("Path = %q, want the absolute path", p.Path)
	}
	people := p.Datasets["people"]
	if want := filepath.Join(filepath.Dir(dir), "registries", "people.parquet"); people.Source != want {
		t.Errorf("people source = %q, want %q (relative to the policy file)", people.Source, want)
	}
	var names []string
	for _, c := range people.Columns {
		names = append(names, c.Name)
	}
	if want := []string{"pid", "birth_year", "sex", "region"}; !slices.Equal(names, want) {
		t.Errorf("people columns = %v, want declared order %v", names, want)
	}
	region, _ := people.Column("region")
	if region.Domain == nil || region.Domain.CodeList != "region" || !slices.Equal(region.Domain.Values, []string{"01", "02", "03", "04", "05"}) {
		t.Errorf("region domain = %+v, want the codes of codelists/region.csv", region.Domain)
	}
	by, _ := people.Column("birth_year")
	if by.Bounds == nil || *by.Bounds != [2]float64{1900, 2024} || by.Domain.Range == nil || by.Domain.Size() != 125 {
		t.Errorf("birth_year = %+v, want bounds and a range domain of 125 years", by)
	}
	visits := p.Datasets["visits"]
	if visits.Noise != "gaussian" || visits.DeltaPerQuery != 1e-7 || visits.Epsilon != (EpsilonRange{Min: 0.01, Default: 0.5, Max: 1}) || visits.RoundTo != 0 {
		t.Errorf("visits bounding = noise %q δ %g ε %+v round_to %d", visits.Noise, visits.DeltaPerQuery, visits.Epsilon, visits.RoundTo)
	}
	diag, _ := visits.Column("diagnosis")
	if d := diag.PrefixDomains[1]; d == nil || d.Size() != 5 {
		t.Errorf("diagnosis prefix domain 1 = %+v, want 5 letters", d)
	}
	tpl := p.Templates["people_by_region"]
	if got := tpl.Params["from_year"].Default; got != int64(1900) {
		t.Errorf("from_year default = %#v, want int64(1900)", got)
	}
	if got := tpl.Placeholders(); !slices.Equal(got, []string{"sex", "from_year", "to_year"}) {
		t.Errorf("placeholders = %v", got)
	}
}

func TestLoadNorwaySynthetic(t *testing.T) {
	if _, err := os.Stat("codelists/kommunenummer.csv"); errors.Is(err, fs.ErrNotExist) {
		t.Skip("policies/codelists/kommunenummer.csv is not written yet (the synthetic data generator writes it); the loader refuses the policy without it")
	}
	p, err := Load("norway-synthetic.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(p.Datasets) != 5 || len(p.Projects) != 2 || len(p.Roles) != 3 || len(p.Templates) < 3 {
		t.Errorf("got %d datasets, %d projects, %d roles, %d templates; want 5, 2, 3, ≥3",
			len(p.Datasets), len(p.Projects), len(p.Roles), len(p.Templates))
	}
	for _, name := range []string{"population", "npr", "lmr", "cancer", "death_causes"} {
		ds, ok := p.Datasets[name]
		if !ok {
			t.Errorf("dataset %s missing", name)
			continue
		}
		if ds.PersonKey != "pid" || !filepath.IsAbs(ds.Source) || filepath.Base(ds.Source) != name+".parquet" {
			t.Errorf("%s: person key %q, source %q", name, ds.PersonKey, ds.Source)
		}
	}
	mun, _ := p.Datasets["population"].Column("municipality")
	if mun.Domain == nil || mun.Domain.CodeList != "kommunenummer" || mun.Domain.Size() < 300 || !slices.Contains(mun.Domain.Values, "0301") {
		t.Errorf("municipality domain: want the kommunenummer code list with Oslo (0301), got %d values", mun.Domain.Size())
	}
	if p.DataMap != DataMapPublic {
		t.Errorf("data_map %q, want public", p.DataMap)
	}
	label := func(set, code string) string {
		ls := p.Labels[set]
		if ls == nil || ls.Source == "" || ls.Licence == "" {
			t.Fatalf("label set %s missing or without source and licence: %+v", set, ls)
		}
		for _, l := range ls.Labels {
			if l.Code == code {
				return l.Name
			}
		}
		return ""
	}
	for _, tc := range []struct{ set, code, want string }{
		{"kommunenummer", "0301", "Oslo"}, {"ATC", "A10BA02", "metformin"}, {"ATC", "A10", "Drugs used in diabetes"},
		{"ICD-10", "E11", "Type 2 diabetes mellitus"}, {"ICD-10", "IV", "Endocrine, nutritional and metabolic diseases (E00–E90)"},
	} {
		if got := label(tc.set, tc.code); got != tc.want {
			t.Errorf("label of %s %s: %q, want %q", tc.set, tc.code, got, tc.want)
		}
	}
	if role, ok := p.Member("diabetes-2026", "pharma-analyst"); !ok || role != "analyst" {
		t.Errorf("pharma-analyst in diabetes-2026: %q %v", role, ok)
	}
}

func TestLookups(t *testing.T) {
	p, err := Parse([]byte(base), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Dataset and Column ignore case", func(t *testing.T) {
		ds, ok := p.Dataset("VISITS")
		if !ok || ds.Name != "visits" {
			t.Fatalf("Dataset(VISITS) = %v, %v", ds, ok)
		}
		if c, ok := ds.Column("Cost"); !ok || c.Name != "cost" {
			t.Errorf("Column(Cost) = %v, %v", c, ok)
		}
		if _, ok := ds.Column("price"); ok {
			t.Error("Column(price) found")
		}
		if _, ok := p.Dataset("nope"); ok {
			t.Error("Dataset(nope) found")
		}
	})
	cases := []struct {
		desc, project, principal string
		action                   Action
		want                     bool
	}{
		{"researcher may run sql", "study", "alice", ActionSQL, true},
		{"analyst may run templates", "study", "bob", ActionTemplates, true},
		{"analyst may not run sql", "study", "bob", ActionSQL, false},
		{"non-member may do nothing", "study", "mallory", ActionTemplates, false},
		{"unknown project", "other", "alice", ActionSQL, false},
		{"no role has audit", "study", "alice", ActionAudit, false},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			if got := p.Allows(tc.project, tc.principal, tc.action); got != tc.want {
				t.Errorf("Allows(%s, %s, %s) = %v, want %v", tc.project, tc.principal, tc.action, got, tc.want)
			}
		})
	}
	t.Run("Member and ProjectsOf", func(t *testing.T) {
		if role, ok := p.Member("study", "bob"); !ok || role != "analyst" {
			t.Errorf("Member(study, bob) = %q, %v", role, ok)
		}
		if got := p.ProjectsOf("alice"); !slices.Equal(got, []string{"study"}) {
			t.Errorf("ProjectsOf(alice) = %v", got)
		}
		if got := p.ProjectsOf("mallory"); len(got) != 0 {
			t.Errorf("ProjectsOf(mallory) = %v, want none", got)
		}
	})
}

func TestParamSQL(t *testing.T) {
	cases := []struct {
		desc, sql, want string
		wantErr         string
	}{
		{desc: "placeholders become DuckDB parameters", sql: "SELECT count(*) FROM t WHERE a LIKE :p AND b = :q",
			want: "SELECT count(*) FROM t WHERE a LIKE $p AND b = $q"},
		{desc: "minus before a placeholder stays an operator", sql: "WHERE birth_year-:off > 1950 AND sex = 'F'",
			want: "WHERE birth_year-$off > 1950 AND sex = 'F'"},
		{desc: "strings, identifiers, comments and casts are kept", sql: "SELECT ':a', \":b\", x::DATE, :c -- don't :d\n/* :e */",
			want: "SELECT ':a', \":b\", x::DATE, $c -- don't :d\n/* :e */"},
		{desc: "a placeholder after a word is kept apart from it", sql: "SELECT x:y", want: "SELECT x $y"},
		{desc: "unterminated quote", sql: "SELECT :a, 'b", wantErr: "unterminated ' quote"},
		{desc: "DuckDB parameter", sql: "SELECT $a", wantErr: "write template parameters as :a, not $a"},
		{desc: "unterminated dollar quote", sql: "SELECT $q$ :a", wantErr: "unterminated $q$ string"},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := (&Template{SQL: tc.sql}).ParamSQL()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParamSQL(%q) = %q, %v; want %q", tc.sql, got, err, tc.want)
			}
		})
	}
}

func TestPlaceholders(t *testing.T) {
	cases := []struct {
		desc, sql string
		want      []string
	}{
		{"none", "SELECT count(*) FROM t", nil},
		{"order of first use, once each", "SELECT :b, :a, :b_2, :a", []string{"b", "a", "b_2"}},
		{"cast is not a placeholder", "SELECT x::INTEGER, :y::DATE", []string{"y"}},
		{"not inside string literals", "SELECT ':a', 'it''s :b', :c", []string{"c"}},
		{"not inside quoted identifiers", `SELECT ":a" FROM t WHERE x = :b`, []string{"b"}},
		{"colon before a digit", "SELECT '12:30', x:1", nil},
		{"not inside line comments", "SELECT :a -- don't use :b here\n, :c", []string{"a", "c"}},
		{"line comment ends at a carriage return", "SELECT 1 -- :a\r:b", []string{"b"}},
		{"not inside block comments, which nest", "SELECT /* :a /* :b */ :c */ :d", []string{"d"}},
		{"not inside escape strings", `SELECT E'it\'s :a', e'\\', :b`, []string{"b"}},
		{"E after a word starts no escape string", `SELECT xE'\', :a`, []string{"a"}},
		{"not inside dollar-quoted strings", "SELECT $$it's :a$$, $q$ :b $q$, :c", []string{"c"}},
		{"$ inside a word is no dollar quote", "SELECT abc$d, :a", []string{"a"}},
		{"right after an operator", "SELECT birth_year-:off, x+:y, -:z", []string{"off", "y", "z"}},
		{"cast after a placeholder", "SELECT :d::DATE, :n::BIGINT", []string{"d", "n"}},
		{"after a triple colon", "SELECT x:::y", []string{"y"}},
		{"stops at an unterminated quote", "SELECT :a, 'b :c", []string{"a"}},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			got := (&Template{SQL: tc.sql}).Placeholders()
			if !slices.Equal(got, tc.want) {
				t.Errorf("Placeholders(%q) = %v, want %v", tc.sql, got, tc.want)
			}
		})
	}
}

// TestParseBudgets: a project-wide budget (project_budget), with or
// without a budget per dataset, members' caps and a dataset's lifetime
// budget; a project needs one of budget and project_budget.
func TestParseBudgets(t *testing.T) {
	src := edit(t, "    budget: {epsilon: 5, delta: 1.0e-5}\n    members:\n      - {principal: alice, role: researcher}\n",
		"    project_budget: {epsilon: 8, delta: 1.0e-5}\n    members:\n      - {principal: alice, role: researcher, budget: {epsilon: 2}}\n")
	src = strings.Replace(src, "    delta_per_query: 1.0e-7\n", "    delta_per_query: 1.0e-7\n    lifetime_budget: {epsilon: 20, delta: 1.0e-4}\n", 1)
	p, err := Parse([]byte(src), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pr := p.Projects["study"]
	if pr.DatasetBudgets || pr.ProjectBudget == nil || *pr.ProjectBudget != (Budget{Epsilon: 8, Delta: 1e-5}) {
		t.Errorf("project %+v, want project_budget ε 8 and no budget per dataset", pr)
	}
	if m := pr.Members[0]; m.Budget == nil || *m.Budget != (Budget{Epsilon: 2}) || pr.Members[1].Budget != nil {
		t.Errorf("members %+v, want alice capped at ε 2 and bob not", pr.Members)
	}
	if lb := p.Datasets["visits"].LifetimeBudget; lb == nil || *lb != (Budget{Epsilon: 20, Delta: 1e-4}) || p.Datasets["people"].LifetimeBudget != nil {
		t.Errorf("lifetime budgets: visits %v, people %v", lb, p.Datasets["people"].LifetimeBudget)
	}
	// The base policy: a budget per dataset only, as before.
	b, err := Parse([]byte(base), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if pr := b.Projects["study"]; !pr.DatasetBudgets || pr.ProjectBudget != nil || pr.Budget.Epsilon != 5 {
		t.Errorf("base project %+v, want its budget per dataset and no project budget", pr)
	}
	for _, tc := range []struct{ desc, old, new, field, problem string }{
		{"neither budget", "    budget: {epsilon: 5, delta: 1.0e-5}\n", "", "projects.study.budget", "a project_budget, or both"},
		{"project budget without ε", "    budget: {epsilon: 5, delta: 1.0e-5}\n", "    project_budget: {delta: 1.0e-5}\n", "projects.study.project_budget.epsilon", "missing"},
		{"member cap of ε 0", "{principal: bob, role: analyst}", "{principal: bob, role: analyst, budget: {epsilon: 0}}", "projects.study.members[1].budget.epsilon", "must be > 0"},
		{"lifetime δ of 1", "    delta_per_query: 1.0e-7\n", "    delta_per_query: 1.0e-7\n    lifetime_budget: {epsilon: 1, delta: 1}\n", "datasets.visits.lifetime_budget.delta", "below 1"},
	} {
		_, err := Parse([]byte(edit(t, tc.old, tc.new)), "x.yaml")
		var pe *Error
		if !errors.As(err, &pe) || pe.Field != tc.field || !strings.Contains(pe.Problem, tc.problem) {
			t.Errorf("%s: %v, want %s: %s", tc.desc, err, tc.field, tc.problem)
		}
	}
}
