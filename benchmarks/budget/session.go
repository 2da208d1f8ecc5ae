// Package budget is issue 20's budget benchmark: a session of distinct,
// realistic researcher questions (ad-hoc SQL, templates and cohorts over
// npr, lmr, cancer, population and death_causes, at a mix of ε) replayed
// through the real engine once under basic composition and once under
// zCDP accounting, with the shipped policy's budgets. It counts how many
// answers each accounting's budget buys — the same questions at the same
// ε, so every answer is as accurate under either — and the information
// they carry (Σ 1/sd² over released cells).
package budget

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/statgate/statgate/benchmarks/utility"
	"github.com/statgate/statgate/engine"
)

// Question is one question of the session: who asks, and what.
type Question struct {
	// Name identifies the question (family and parameters).
	Name string
	// Principal asks it (the shipped policy's researcher or analysts).
	Principal string
	Request   engine.Request
}

// Epsilons are the ε a researcher's SQL and cohort questions ask for,
// in turn (templates have their own, fixed in the policy).
var Epsilons = []float64{0.1, 0.25, 0.5, 1}

var (
	icdCodes = []string{"E11", "I10", "J45", "C50", "I21", "F32", "M54", "K21", "N18", "E78", "I48", "J44"}
	atcCodes = []string{"A10B", "C09", "C10AA", "N06A", "R03", "B01AC", "C07", "A02BC", "N02B", "J01C", "H03A", "M01A"}
	sites    = []string{"C18", "C34", "C50", "C61", "C43", "C67", "C25", "C20", "C56", "C73"}
	periods  = [][2]int{{2010, 2014}, {2015, 2019}, {2020, 2024}, {2010, 2024}}
)

// Session returns n distinct questions (at most all the families give),
// in an order shuffled by seed so that any prefix is a mix of every
// family.
func Session(n int, seed uint64) []Question {
	var qs []Question
	eps := 0
	sql := func(project, name, text string) {
		qs = append(qs, Question{Name: name, Principal: utility.Researcher,
			Request: engine.Request{Project: project, SQL: text, Epsilon: Epsilons[eps%len(Epsilons)]}})
		eps++
	}
	for _, c := range icdCodes {
		sql(utility.Diabetes, "npr_patients_by_year/"+c, fmt.Sprintf(
			"SELECT year(contact_date) AS year, count(DISTINCT pid) AS patients FROM npr WHERE icd10 LIKE '%s%%' GROUP BY 1", c))
		sql(utility.Diabetes, "npr_stay_by_type/"+c, fmt.Sprintf(
			"SELECT contact_type, count(*) AS contacts, avg(length_of_stay_days) AS mean_stay FROM npr WHERE icd10 LIKE '%s%%' GROUP BY 1", c))
		sql(utility.Diabetes, "npr_patients_by_hospital/"+c, fmt.Sprintf(
			"SELECT hospital, count(DISTINCT pid) AS patients FROM npr WHERE icd10 LIKE '%s%%' GROUP BY 1", c))
		sql(utility.Diabetes, "npr_contacts_by_month/"+c, fmt.Sprintf(
			"SELECT month(contact_date) AS month, count(*) AS contacts FROM npr WHERE icd10 LIKE '%s%%' GROUP BY 1", c))
		for _, p := range periods {
			sql(utility.Diabetes, fmt.Sprintf("npr_patients_by_sex/%s/%d-%d", c, p[0], p[1]), fmt.Sprintf(
				"SELECT p.sex, count(DISTINCT pid) AS patients FROM npr n JOIN population p USING (pid) WHERE n.icd10 LIKE '%s%%' AND year(n.contact_date) BETWEEN %d AND %d GROUP BY 1", c, p[0], p[1]))
		}
	}
	for _, a := range atcCodes {
		sql(utility.Diabetes, "lmr_ddd_by_year/"+a, fmt.Sprintf(
			"SELECT year(dispensed_date) AS year, count(*) AS dispensings, sum(ddd) AS total_ddd FROM lmr WHERE atc LIKE '%s%%' GROUP BY 1", a))
		sql(utility.Diabetes, "lmr_median_by_prescriber/"+a, fmt.Sprintf(
			"SELECT prescriber_type, count(DISTINCT pid) AS persons, median(ddd) AS median_ddd FROM lmr WHERE atc LIKE '%s%%' GROUP BY 1", a))
		sql(utility.Diabetes, "lmr_mean_ddd_by_sex/"+a, fmt.Sprintf(
			"SELECT p.sex, avg(l.ddd) AS mean_ddd, count(DISTINCT pid) AS persons FROM lmr l JOIN population p USING (pid) WHERE l.atc LIKE '%s%%' GROUP BY 1", a))
		for _, p := range periods[:3] {
			sql(utility.Diabetes, fmt.Sprintf("lmr_users/%s/%d-%d", a, p[0], p[1]), fmt.Sprintf(
				"SELECT count(DISTINCT pid) AS persons FROM lmr WHERE atc LIKE '%s%%' AND year(dispensed_date) BETWEEN %d AND %d", a, p[0], p[1]))
		}
	}
	for _, s := range sites {
		sql(utility.Cancer, "cancer_by_stage/"+s, fmt.Sprintf(
			"SELECT stage, count(DISTINCT pid) AS persons FROM cancer WHERE icd10 LIKE '%s%%' GROUP BY 1", s))
		sql(utility.Cancer, "cancer_by_year/"+s, fmt.Sprintf(
			"SELECT year(diagnosis_date) AS year, count(DISTINCT pid) AS persons FROM cancer WHERE icd10 LIKE '%s%%' GROUP BY 1", s))
		sql(utility.Cancer, "cancer_by_sex/"+s, fmt.Sprintf(
			"SELECT p.sex, count(DISTINCT pid) AS persons FROM cancer c JOIN population p USING (pid) WHERE c.icd10 LIKE '%s%%' GROUP BY 1", s))
		for _, p := range periods[:3] {
			sql(utility.Cancer, fmt.Sprintf("cancer_mean_age/%s/%d-%d", s, p[0], p[1]), fmt.Sprintf(
				"SELECT c.stage, avg(year(c.diagnosis_date) - p.birth_year) AS mean_age, count(DISTINCT pid) AS persons FROM cancer c JOIN population p USING (pid) WHERE c.icd10 LIKE '%s%%' AND year(c.diagnosis_date) BETWEEN %d AND %d GROUP BY 1", s, p[0], p[1]))
		}
	}
	for y := 2010; y <= 2024; y++ {
		sql(utility.Diabetes, fmt.Sprintf("deaths_by_chapter/%d", y), fmt.Sprintf(
			"SELECT icd10_chapter(underlying_cause) AS chapter, count(*) AS deaths FROM death_causes WHERE year(death_date) = %d GROUP BY 1", y))
	}
	cohort := func(name string, spec *engine.CohortSpec) {
		qs = append(qs, Question{Name: "cohort/" + name, Principal: utility.Researcher,
			Request: engine.Request{Project: utility.Diabetes, Cohort: spec, Epsilon: Epsilons[eps%len(Epsilons)]}})
		eps++
	}
	for i, c := range icdCodes {
		a := atcCodes[i%len(atcCodes)]
		for _, br := range [][]string{{"sex"}, {"age_band"}} {
			cohort(fmt.Sprintf("%s+%s/%s", c, a, br[0]), &engine.CohortSpec{
				Include:   []engine.Criterion{{Dataset: "npr", Where: "icd10 LIKE '" + c + "%'"}, {Dataset: "lmr", Where: "atc LIKE '" + a + "%'"}},
				Breakdown: br})
		}
		cohort(c+"/municipality", &engine.CohortSpec{
			Include: []engine.Criterion{{Dataset: "npr", Where: "icd10 LIKE '" + c + "%'"}}, Breakdown: []string{"municipality"}})
	}
	template := func(project, principal, name string, params map[string]any) {
		qs = append(qs, Question{Name: "template/" + name, Principal: principal,
			Request: engine.Request{Project: project, Template: name[:strings.Index(name, "/")], Params: params}})
	}
	for _, a := range atcCodes {
		template(utility.Diabetes, utility.Analyst, "prescriptions_by_atc_year/"+a, map[string]any{"atc_prefix": a + "%"})
	}
	for y := 2012; y <= 2024; y++ {
		template(utility.Diabetes, utility.Analyst, fmt.Sprintf("contacts_by_chapter_age_band/%d", y), map[string]any{"year": float64(y)})
	}
	for _, sex := range []string{"F", "M"} {
		for _, p := range periods {
			template(utility.Cancer, utility.OncoAnalyst, fmt.Sprintf("cancer_incidence_by_site_year/%s/%d-%d", sex, p[0], p[1]),
				map[string]any{"sex": sex, "from_year": float64(p[0]), "to_year": float64(p[1])})
		}
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	rng.Shuffle(len(qs), func(i, j int) { qs[i], qs[j] = qs[j], qs[i] })
	return qs[:min(n, len(qs))]
}
