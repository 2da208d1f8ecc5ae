package load

import (
	"encoding/json"
	"fmt"

	"github.com/statgate/statgate/api"
)

// Kind is one kind of request the load generator sends.
type Kind string

// The kinds of request.
const (
	// AdHoc posts ad-hoc SQL to POST /v1/query.
	AdHoc Kind = "adhoc"
	// Template runs an approved template (POST /v1/templates/{name}/run).
	Template Kind = "template"
	// Cohort posts a cohort estimate (POST /v1/cohorts/estimate).
	Cohort Kind = "cohort"
	// Raw runs the ad-hoc questions' SQL as it is on DuckDB (the engine's
	// locked-down extracts database, no HTTP, no bounding, no noise): the
	// ceiling the other kinds are compared with.
	Raw Kind = "raw"
)

// Kinds are every kind, in the order a run measures them.
var Kinds = []Kind{Raw, AdHoc, Template, Cohort}

// Project is the project every request is made in.
const Project = "diabetes-2026"

// request is one question: where it goes and its body (JSON), or, for
// Raw, the SQL.
type request struct {
	path string
	body []byte
	sql  string
}

// question returns the i-th question of a kind. Questions of one kind
// differ for different i (up to 36,000 or more, more than a run sends of
// one kind; TestQuestionsAreDistinct), so that no
// cache of results or plans keyed by the question's text can answer one:
// every request does the whole work of a new question.
func question(k Kind, i int) request {
	switch k {
	case AdHoc:
		return request{path: "/v1/query", body: mustJSON(api.QueryBody{Project: Project, SQL: adHocSQL(i)})}
	case Raw:
		return request{sql: adHocSQL(i)}
	case Template:
		return templateRun(i)
	case Cohort:
		return cohort(i)
	}
	panic("load: unknown kind " + string(k))
}

// adHocSQL alternates two small questions of a researcher: persons by sex
// born in a range of years (population, one row per person: no L0 step,
// no profile), and contacts by contact type for an ICD-10 letter and a
// range of stays (npr: the contribution profile, then the bounded query).
// Over i, the ranges, conditions and letters give 24,000 and 62,400
// distinct texts.
func adHocSQL(i int) string {
	n := i / 2
	if i%2 == 0 {
		lo := 1915 + n%100
		hi := lo + 10 + (n/100)%60
		cond := []string{"", " AND death_date IS NULL", " AND death_date IS NOT NULL", " AND municipality LIKE '03%'"}[(n/6000)%4]
		return fmt.Sprintf("SELECT sex, count(*) AS persons FROM population WHERE birth_year BETWEEN %d AND %d%s GROUP BY 1", lo, hi, cond)
	}
	letter := 'A' + rune(n%26)
	lo := (n / 26) % 40
	hi := lo + 1 + (n/(26*40))%60
	return fmt.Sprintf("SELECT contact_type, count(*) AS contacts, count(DISTINCT pid) AS patients FROM npr "+
		"WHERE icd10 LIKE '%c%%' AND length_of_stay_days BETWEEN %d AND %d GROUP BY 1", letter, lo, hi)
}

// templateRun runs prescriptions_by_atc_year (persons dispensed an ATC
// group, per year) with a distinct ATC prefix for each i: a letter, two
// digits and up to one more letter (70,200 prefixes).
func templateRun(i int) request {
	prefix := fmt.Sprintf("%c%02d", 'A'+rune(i%26), (i/26)%100)
	if j := (i / 2600) % 27; j > 0 {
		prefix += string('A' + rune(j-1))
	}
	return request{path: "/v1/templates/prescriptions_by_atc_year/run",
		body: mustJSON(api.TemplateRunBody{Project: Project, Params: map[string]any{"atc_prefix": prefix + "%"}})}
}

// cohort estimates persons with a hospital contact for an ICD-10 letter
// in a date range and a dispensing of an anatomical ATC group, without a
// death, by sex: three registries, a distinct question for each i (up to
// 36,400).
func cohort(i int) request {
	letter := 'A' + rune(i%26)
	atc := "ABCDGHJLMNPRSV"[(i/26)%14]
	from := 2010 + (i/(26*14))%10
	to := from + 1 + (i/(26*14*10))%5
	breakdown := [][]string{{"sex"}, {"age_band"}}[(i/(26*14*10*5))%2]
	return request{path: "/v1/cohorts/estimate", body: mustJSON(api.CohortBody{
		Project: Project,
		Include: []api.Criterion{
			{Dataset: "npr", Where: fmt.Sprintf("icd10 LIKE '%c%%'", letter), From: fmt.Sprintf("%d-01-01", from), To: fmt.Sprintf("%d-12-31", to)},
			{Dataset: "lmr", Where: fmt.Sprintf("atc LIKE '%c%%'", atc)},
		},
		Exclude:   []api.Criterion{{Dataset: "death_causes"}},
		Breakdown: breakdown,
	})}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings, numbers and maps of them only
	}
	return b
}
