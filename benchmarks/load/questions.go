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
	// ceiling AdHoc is compared with.
	Raw Kind = "raw"
	// RawTemplate runs, the way Raw does, the plain SQL of the template
	// run of the same i (the template's SQL with its parameter written
	// in): the ceiling Template is compared with.
	RawTemplate Kind = "raw-template"
	// RawCohort runs, the way Raw does, the plain SQL a researcher would
	// write for the cohort estimate of the same i (semi-joins on the
	// person key, the same groups, exact counts): the ceiling Cohort is
	// compared with.
	RawCohort Kind = "raw-cohort"
)

// Kinds are every kind, in the order a run measures them: each engine
// kind after its raw ceiling.
var Kinds = []Kind{Raw, AdHoc, RawTemplate, Template, RawCohort, Cohort}

// rawOf maps each engine kind to the raw kind that asks the same questions
// as plain SQL.
var rawOf = map[Kind]Kind{AdHoc: Raw, Template: RawTemplate, Cohort: RawCohort}

// IsRaw says whether k runs plain SQL on DuckDB rather than requests to
// the API.
func (k Kind) IsRaw() bool { return k == Raw || k == RawTemplate || k == RawCohort }

// RawCeiling is the raw kind that asks k's questions as plain SQL (Raw
// for AdHoc, RawTemplate for Template, RawCohort for Cohort), or "" for a
// raw kind.
func (k Kind) RawCeiling() Kind { return rawOf[k] }

// Project is the project every request is made in.
const Project = "diabetes-2026"

// request is one question: where it goes and its body (JSON), or, for a
// raw kind, the SQL.
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
	case RawTemplate:
		return request{sql: templateSQL(i)}
	case Cohort:
		return cohort(i)
	case RawCohort:
		return request{sql: cohortSQL(i)}
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
// group, per year) with a distinct ATC prefix for each i (atcPrefix).
func templateRun(i int) request {
	return request{path: "/v1/templates/prescriptions_by_atc_year/run",
		body: mustJSON(api.TemplateRunBody{Project: Project, Params: map[string]any{"atc_prefix": atcPrefix(i)}})}
}

// atcPrefix is the i-th template run's atc_prefix parameter: a letter, two
// digits and up to one more letter, then % (70,200 prefixes).
func atcPrefix(i int) string {
	prefix := fmt.Sprintf("%c%02d", 'A'+rune(i%26), (i/26)%100)
	if j := (i / 2600) % 27; j > 0 {
		prefix += string('A' + rune(j-1))
	}
	return prefix + "%"
}

// templateSQL is the plain SQL of the i-th template run: the SQL of
// prescriptions_by_atc_year in policies/norway-synthetic.yaml with
// atc_prefix written in (TestRawTemplateIsTheTemplate).
func templateSQL(i int) string {
	return "SELECT year(dispensed_date) AS year, count(DISTINCT pid) AS persons FROM lmr WHERE atc LIKE '" +
		atcPrefix(i) + "' GROUP BY 1"
}

// cohortSpec is the i-th cohort question: persons with a hospital contact
// for an ICD-10 letter in a range of years and a dispensing of an
// anatomical ATC group, without a death, by sex or by age band (up to
// 36,400 distinct questions).
type cohortSpec struct {
	letter, atc rune
	from, to    int    // years, inclusive
	breakdown   string // "sex" or "age_band"
}

func cohortOf(i int) cohortSpec {
	return cohortSpec{
		letter:    'A' + rune(i%26),
		atc:       rune("ABCDGHJLMNPRSV"[(i/26)%14]),
		from:      2010 + (i/(26*14))%10,
		to:        2010 + (i/(26*14))%10 + 1 + (i/(26*14*10))%5,
		breakdown: []string{"sex", "age_band"}[(i/(26*14*10*5))%2],
	}
}

// cohort estimates the i-th cohort (cohortOf): three registries, a
// distinct question for each i.
func cohort(i int) request {
	c := cohortOf(i)
	return request{path: "/v1/cohorts/estimate", body: mustJSON(api.CohortBody{
		Project: Project,
		Include: []api.Criterion{
			{Dataset: "npr", Where: fmt.Sprintf("icd10 LIKE '%c%%'", c.letter), From: fmt.Sprintf("%d-01-01", c.from), To: fmt.Sprintf("%d-12-31", c.to)},
			{Dataset: "lmr", Where: fmt.Sprintf("atc LIKE '%c%%'", c.atc)},
		},
		Exclude:   []api.Criterion{{Dataset: "death_causes"}},
		Breakdown: []string{c.breakdown},
	})}
}

// ageReferenceYear is the year age_band counts age at: the last year of
// the persons register's date_column (population.death_date, 2010–2024, in
// policies/norway-synthetic.yaml; TestRawCohortIsTheCohort checks it).
const ageReferenceYear = 2024

// ageBandSQL is the engine's age_band of a cohort breakdown as plain SQL:
// age in whole years at ageReferenceYear, in five bands.
const ageBandSQL = "CASE WHEN %[1]d - birth_year < 18 THEN '0-17' WHEN %[1]d - birth_year < 40 THEN '18-39' " +
	"WHEN %[1]d - birth_year < 65 THEN '40-64' WHEN %[1]d - birth_year < 80 THEN '65-79' ELSE '80+' END"

// cohortSQL is the plain SQL a researcher would write for the i-th cohort
// estimate, reading the same rows as the engine's cohort query
// (engine/compile/cohort.go): the persons register, a semi-join on the
// person key per include criterion (IN) and per exclude criterion (NOT
// IN), the same breakdown; no contribution bounding and no noise.
func cohortSQL(i int) string {
	c := cohortOf(i)
	key, where := "sex", ""
	if c.breakdown == "age_band" {
		key, where = fmt.Sprintf(ageBandSQL, ageReferenceYear)+" AS age_band", " AND birth_year IS NOT NULL"
	}
	return fmt.Sprintf("SELECT %s, count(DISTINCT pid) AS persons FROM population WHERE "+
		"pid IN (SELECT pid FROM npr WHERE icd10 LIKE '%c%%' AND contact_date BETWEEN DATE '%d-01-01' AND DATE '%d-12-31') "+
		"AND pid IN (SELECT pid FROM lmr WHERE atc LIKE '%c%%') "+
		"AND pid NOT IN (SELECT pid FROM death_causes WHERE pid IS NOT NULL)%s GROUP BY 1",
		key, c.letter, c.from, c.to, c.atc, where)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings, numbers and maps of them only
	}
	return b
}
