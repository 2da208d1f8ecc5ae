package utility

import (
	"fmt"

	"github.com/statgate/statgate/engine"
)

// Question is one question of the workload: what a researcher or analyst
// asks the engine, and the plain DuckDB SQL of its exact, unbounded answer.
// A Question is plain data; the workload is a list of them.
type Question struct {
	// Name identifies the question in the report (snake_case, unique).
	Name string
	// Title says what is asked, in the asker's words.
	Title string
	// Project and Principal are who asks, as the shipped policy names them
	// (Researcher or Analyst and their projects).
	Project, Principal string
	// Exactly one of SQL, Template and Cohort is set, as in engine.Request.
	SQL      string
	Template string
	Params   map[string]any
	Cohort   *engine.CohortSpec
	// Totals asks for margins (engine.Request.Totals); Exact then uses
	// GROUP BY CUBE over the same keys.
	Totals bool
	// Exact is the SQL of the exact answer on plain DuckDB over the same
	// files, one column per released column with the same names. Empty
	// for a cohort: CohortExactSQL derives it from the spec.
	Exact string
}

// Kind is "sql", "template" or "cohort".
func (q *Question) Kind() string {
	switch {
	case q.Template != "":
		return "template"
	case q.Cohort != nil:
		return "cohort"
	}
	return "sql"
}

// Request is the engine request that asks q at the policy's default ε.
func (q *Question) Request() engine.Request {
	return engine.Request{Project: q.Project, SQL: q.SQL, Template: q.Template, Params: q.Params,
		Cohort: q.Cohort, Totals: q.Totals}
}

// Validate reports a question that cannot be asked or compared.
func (q *Question) Validate() error {
	n := 0
	for _, set := range []bool{q.SQL != "", q.Template != "", q.Cohort != nil} {
		if set {
			n++
		}
	}
	switch {
	case q.Name == "":
		return fmt.Errorf("utility: a question has no name")
	case n != 1:
		return fmt.Errorf("utility: question %s: exactly one of SQL, Template and Cohort must be set", q.Name)
	case q.Project == "" || q.Principal == "":
		return fmt.Errorf("utility: question %s: project and principal are required", q.Name)
	case q.Exact == "" && q.Cohort == nil:
		return fmt.Errorf("utility: question %s: no exact SQL", q.Name)
	}
	return nil
}

// The askers of the shipped policy (policies/norway-synthetic.yaml).
const (
	// Researcher may run SQL, templates and cohorts in both projects.
	Researcher = "ingrid"
	// Analyst runs templates in diabetes-2026; OncoAnalyst in cancer-survival.
	Analyst     = "pharma-analyst"
	OncoAnalyst = "onco-analyst"

	Diabetes = "diabetes-2026"
	Cancer   = "cancer-survival"
)

// ageBand2024 is the cohort breakdown age_band of the engine (age at the
// end of 2024) as plain SQL over a birth year column.
func ageBand2024(birthYear string) string {
	return fmt.Sprintf(`CASE WHEN 2024 - %[1]s < 18 THEN '0-17' WHEN 2024 - %[1]s < 40 THEN '18-39'
       WHEN 2024 - %[1]s < 65 THEN '40-64' WHEN 2024 - %[1]s < 80 THEN '65-79' ELSE '80+' END`, birthYear)
}

// Workload returns the benchmark's questions, a fresh copy each call:
// counts, sums, means, quantiles and spreads; keys with a public domain
// (years, sex, months, hospitals, municipalities, ICD-10 chapters) and keys
// whose groups pass partition selection (three-character codes, ATC
// groups); one-row-per-person and many-rows-per-person sources; totals; the
// README's templates; cohorts across registries.
func Workload() []Question {
	return []Question{
		// ------------------------------------------------ templates (analysts)
		{
			Name: "a10b_persons_by_year", Title: "Persons dispensed A10B (blood glucose lowering drugs) per year",
			Project: Diabetes, Principal: Analyst,
			Template: "prescriptions_by_atc_year", Params: map[string]any{"atc_prefix": "A10B%"},
			Exact: `SELECT year(dispensed_date) AS year, count(DISTINCT pid) AS persons FROM lmr WHERE atc LIKE 'A10B%' GROUP BY 1`,
		},
		{
			Name: "c10aa_persons_by_year", Title: "Persons dispensed statins (C10AA) per year",
			Project: Diabetes, Principal: Analyst,
			Template: "prescriptions_by_atc_year", Params: map[string]any{"atc_prefix": "C10AA%"},
			Exact: `SELECT year(dispensed_date) AS year, count(DISTINCT pid) AS persons FROM lmr WHERE atc LIKE 'C10AA%' GROUP BY 1`,
		},
		{
			Name: "contacts_by_chapter_age_band_2022", Title: "Contacts and patients by ICD-10 chapter and age band at contact, 2022",
			Project: Diabetes, Principal: Analyst,
			Template: "contacts_by_chapter_age_band", Params: map[string]any{"year": float64(2022)},
			Exact: `SELECT icd10_chapter(n.icd10) AS chapter,
       CASE WHEN year(n.contact_date) - p.birth_year < 18 THEN '0-17'
            WHEN year(n.contact_date) - p.birth_year < 40 THEN '18-39'
            WHEN year(n.contact_date) - p.birth_year < 65 THEN '40-64'
            WHEN year(n.contact_date) - p.birth_year < 80 THEN '65-79'
            ELSE '80+' END AS age_band,
       count(*) AS contacts, count(DISTINCT pid) AS patients
FROM npr n JOIN population p USING (pid)
WHERE year(n.contact_date) = 2022
GROUP BY 1, 2`,
		},
		{
			Name: "cancer_incidence_women_2015_2024", Title: "New cancer cases in women by site and year, 2015–2024",
			Project: Cancer, Principal: OncoAnalyst,
			Template: "cancer_incidence_by_site_year", Params: map[string]any{"sex": "F", "from_year": float64(2015), "to_year": float64(2024)},
			Exact: `SELECT left(c.icd10, 3) AS site, year(c.diagnosis_date) AS year, count(DISTINCT pid) AS persons
FROM cancer c JOIN population p USING (pid)
WHERE p.sex = 'F' AND year(c.diagnosis_date) BETWEEN 2015 AND 2024
GROUP BY 1, 2`,
		},

		// ------------------------------------------------ npr
		{
			Name: "contacts_by_type_year", Title: "Hospital contacts by contact type and year",
			Project: Diabetes, Principal: Researcher,
			SQL:   `SELECT contact_type, year(contact_date) AS year, count(*) AS contacts FROM npr GROUP BY 1, 2`,
			Exact: `SELECT contact_type, year(contact_date) AS year, count(*) AS contacts FROM npr GROUP BY 1, 2`,
		},
		{
			Name: "contacts_since_2022_by_year", Title: "Hospital contacts per year since 2022",
			Project: Diabetes, Principal: Researcher,
			SQL:   `SELECT year(contact_date) AS year, count(*) AS contacts FROM npr WHERE year(contact_date) >= 2022 GROUP BY 1`,
			Exact: `SELECT year(contact_date) AS year, count(*) AS contacts FROM npr WHERE year(contact_date) >= 2022 GROUP BY 1`,
		},
		{
			Name: "contacts_by_year_type_rollup", Title: "Contacts by year and contact type since 2015, with year totals and a grand total (ROLLUP)",
			Project: Diabetes, Principal: Researcher,
			SQL: `SELECT year(contact_date) AS year, contact_type, count(*) AS contacts FROM npr
WHERE year(contact_date) >= 2015 GROUP BY ROLLUP (year(contact_date), contact_type)`,
			Exact: `SELECT year(contact_date) AS year, contact_type, count(*) AS contacts FROM npr
WHERE year(contact_date) >= 2015 GROUP BY ROLLUP (year(contact_date), contact_type)`,
		},
		{
			Name: "contacts_by_hospital_type_2023_totals", Title: "Contacts and patients by hospital and contact type in 2023, with totals",
			Project: Diabetes, Principal: Researcher, Totals: true,
			SQL: `SELECT hospital, contact_type, count(*) AS contacts, count(DISTINCT pid) AS patients FROM npr
WHERE year(contact_date) = 2023 GROUP BY 1, 2`,
			Exact: `SELECT hospital, contact_type, count(*) AS contacts, count(DISTINCT pid) AS patients FROM npr
WHERE year(contact_date) = 2023 GROUP BY CUBE (hospital, contact_type)`,
		},
		{
			Name: "contacts_by_chapter", Title: "Contacts and patients by ICD-10 chapter, 2010–2024",
			Project: Diabetes, Principal: Researcher,
			SQL:   `SELECT icd10_chapter(icd10) AS chapter, count(*) AS contacts, count(DISTINCT pid) AS patients FROM npr GROUP BY 1`,
			Exact: `SELECT icd10_chapter(icd10) AS chapter, count(*) AS contacts, count(DISTINCT pid) AS patients FROM npr GROUP BY 1`,
		},
		{
			Name: "patients_by_icd3", Title: "Patients and contacts by three-character diagnosis (partition selection)",
			Project: Diabetes, Principal: Researcher,
			SQL:   `SELECT left(icd10, 3) AS icd3, count(DISTINCT pid) AS patients, count(*) AS contacts FROM npr GROUP BY 1`,
			Exact: `SELECT left(icd10, 3) AS icd3, count(DISTINCT pid) AS patients, count(*) AS contacts FROM npr GROUP BY 1`,
		},
		{
			Name: "mean_los_by_hospital", Title: "Mean length of stay of inpatient stays by hospital",
			Project: Diabetes, Principal: Researcher,
			SQL: `SELECT hospital, avg(length_of_stay_days) AS mean_stay, count(*) AS stays FROM npr
WHERE contact_type = 'inpatient' GROUP BY hospital`,
			Exact: `SELECT hospital, avg(length_of_stay_days) AS mean_stay, count(*) AS stays FROM npr
WHERE contact_type = 'inpatient' GROUP BY hospital`,
		},
		{
			Name: "stay_quantiles_by_hospital", Title: "Median, 90th percentile and standard deviation of inpatient stays by hospital",
			Project: Diabetes, Principal: Researcher,
			SQL: `SELECT hospital, median(length_of_stay_days) AS median_stay, quantile_cont(length_of_stay_days, 0.9) AS p90_stay,
       stddev(length_of_stay_days) AS sd_stay FROM npr WHERE contact_type = 'inpatient' GROUP BY hospital`,
			Exact: `SELECT hospital, median(length_of_stay_days) AS median_stay, quantile_cont(length_of_stay_days, 0.9) AS p90_stay,
       stddev(length_of_stay_days) AS sd_stay FROM npr WHERE contact_type = 'inpatient' GROUP BY hospital`,
		},
		{
			Name: "hip_fracture_admissions_by_sex_age", Title: "Hip fracture (S72) admissions and mean stay by sex and age band at admission",
			Project: Diabetes, Principal: Researcher,
			SQL: `SELECT p.sex, CASE WHEN year(n.contact_date) - p.birth_year < 65 THEN '0-64'
            WHEN year(n.contact_date) - p.birth_year < 80 THEN '65-79' ELSE '80+' END AS age_band,
       count(*) AS admissions, avg(n.length_of_stay_days) AS mean_stay
FROM npr n JOIN population p USING (pid)
WHERE n.icd10 LIKE 'S72%' AND n.contact_type = 'inpatient'
GROUP BY 1, 2`,
			Exact: `SELECT p.sex, CASE WHEN year(n.contact_date) - p.birth_year < 65 THEN '0-64'
            WHEN year(n.contact_date) - p.birth_year < 80 THEN '65-79' ELSE '80+' END AS age_band,
       count(*) AS admissions, avg(n.length_of_stay_days) AS mean_stay
FROM npr n JOIN population p USING (pid)
WHERE n.icd10 LIKE 'S72%' AND n.contact_type = 'inpatient'
GROUP BY 1, 2`,
		},
		{
			Name: "e11_prevalence_by_age_sex_2023", Title: "Persons with an E11 (type 2 diabetes) contact in 2023 by age band and sex",
			Project: Diabetes, Principal: Researcher,
			SQL: `SELECT CASE WHEN 2024 - p.birth_year < 40 THEN '0-39' WHEN 2024 - p.birth_year < 65 THEN '40-64' ELSE '65+' END AS age_band,
       p.sex, count(DISTINCT pid) AS persons
FROM npr n JOIN population p USING (pid)
WHERE n.icd10 LIKE 'E11%' AND year(n.contact_date) = 2023
GROUP BY age_band, p.sex`,
			Exact: `SELECT CASE WHEN 2024 - p.birth_year < 40 THEN '0-39' WHEN 2024 - p.birth_year < 65 THEN '40-64' ELSE '65+' END AS age_band,
       p.sex, count(DISTINCT pid) AS persons
FROM npr n JOIN population p USING (pid)
WHERE n.icd10 LIKE 'E11%' AND year(n.contact_date) = 2023
GROUP BY age_band, p.sex`,
		},
		{
			Name: "e11_patients_total", Title: "Persons with any E11 contact 2010–2024 (one number)",
			Project: Diabetes, Principal: Researcher,
			SQL:   `SELECT count(DISTINCT pid) AS persons FROM npr WHERE icd10 LIKE 'E11%'`,
			Exact: `SELECT count(DISTINCT pid) AS persons FROM npr WHERE icd10 LIKE 'E11%'`,
		},
		{
			Name: "e11_patients_by_municipality", Title: "Persons with an E11 contact by municipality of residence, and their contacts",
			Project: Diabetes, Principal: Researcher,
			SQL: `SELECT p.municipality, count(DISTINCT pid) AS patients, count(*) AS contacts
FROM npr n JOIN population p USING (pid) WHERE n.icd10 LIKE 'E11%' GROUP BY p.municipality`,
			Exact: `SELECT p.municipality, count(DISTINCT pid) AS patients, count(*) AS contacts
FROM npr n JOIN population p USING (pid) WHERE n.icd10 LIKE 'E11%' GROUP BY p.municipality`,
		},

		// ------------------------------------------------ lmr
		{
			Name: "r03_dispensings_by_month_2020", Title: "R03 (asthma/COPD drug) dispensings and persons by month, 2020",
			Project: Diabetes, Principal: Researcher,
			SQL: `SELECT month(dispensed_date) AS month, count(*) AS dispensings, count(DISTINCT pid) AS persons FROM lmr
WHERE atc LIKE 'R03%' AND year(dispensed_date) = 2020 GROUP BY 1`,
			Exact: `SELECT month(dispensed_date) AS month, count(*) AS dispensings, count(DISTINCT pid) AS persons FROM lmr
WHERE atc LIKE 'R03%' AND year(dispensed_date) = 2020 GROUP BY 1`,
		},
		{
			Name: "median_ddd_by_prescriber", Title: "Median DDD per dispensing by prescriber type (all drugs)",
			Project: Diabetes, Principal: Researcher,
			SQL:   `SELECT prescriber_type, median(ddd) AS median_ddd, count(*) AS dispensings FROM lmr GROUP BY 1`,
			Exact: `SELECT prescriber_type, median(ddd) AS median_ddd, count(*) AS dispensings FROM lmr GROUP BY 1`,
		},
		{
			Name: "metformin_by_prescriber_2022", Title: "Metformin (A10BA02) users, total and median DDD by prescriber type, 2022",
			Project: Diabetes, Principal: Researcher,
			SQL: `SELECT prescriber_type, count(DISTINCT pid) AS persons, sum(ddd) AS total_ddd, median(ddd) AS median_ddd FROM lmr
WHERE atc = 'A10BA02' AND dispensed_date BETWEEN '2022-01-01' AND '2022-12-31' GROUP BY prescriber_type`,
			Exact: `SELECT prescriber_type, count(DISTINCT pid) AS persons, sum(ddd) AS total_ddd, median(ddd) AS median_ddd FROM lmr
WHERE atc = 'A10BA02' AND dispensed_date BETWEEN '2022-01-01' AND '2022-12-31' GROUP BY prescriber_type`,
		},
		{
			Name: "statin_ddd_by_year", Title: "Statin (C10AA) dispensings and total DDD per year",
			Project: Diabetes, Principal: Researcher,
			SQL:   `SELECT year(dispensed_date) AS year, count(*) AS dispensings, sum(ddd) AS total_ddd FROM lmr WHERE atc LIKE 'C10AA%' GROUP BY 1`,
			Exact: `SELECT year(dispensed_date) AS year, count(*) AS dispensings, sum(ddd) AS total_ddd FROM lmr WHERE atc LIKE 'C10AA%' GROUP BY 1`,
		},
		{
			Name: "ddd_by_anatomical_group", Title: "Mean and standard deviation of DDD by ATC anatomical group",
			Project: Diabetes, Principal: Researcher,
			SQL:   `SELECT left(atc, 1) AS anatomical_group, avg(ddd) AS mean_ddd, stddev(ddd) AS sd_ddd, count(*) AS dispensings FROM lmr GROUP BY 1`,
			Exact: `SELECT left(atc, 1) AS anatomical_group, avg(ddd) AS mean_ddd, stddev(ddd) AS sd_ddd, count(*) AS dispensings FROM lmr GROUP BY 1`,
		},
		{
			Name: "persons_by_atc4_2023", Title: "Persons and total DDD by ATC level 4 group in 2023 (partition selection)",
			Project: Diabetes, Principal: Researcher,
			SQL: `SELECT left(atc, 4) AS atc4, count(DISTINCT pid) AS persons, sum(ddd) AS total_ddd FROM lmr
WHERE year(dispensed_date) = 2023 GROUP BY 1`,
			Exact: `SELECT left(atc, 4) AS atc4, count(DISTINCT pid) AS persons, sum(ddd) AS total_ddd FROM lmr
WHERE year(dispensed_date) = 2023 GROUP BY 1`,
		},
		{
			Name: "antidepressant_users_by_sex_year", Title: "Antidepressant (N06A) users by sex and year",
			Project: Diabetes, Principal: Researcher,
			SQL: `SELECT p.sex, year(l.dispensed_date) AS year, count(DISTINCT pid) AS persons
FROM lmr l JOIN population p USING (pid) WHERE l.atc LIKE 'N06A%' GROUP BY 1, 2`,
			Exact: `SELECT p.sex, year(l.dispensed_date) AS year, count(DISTINCT pid) AS persons
FROM lmr l JOIN population p USING (pid) WHERE l.atc LIKE 'N06A%' GROUP BY 1, 2`,
		},
		{
			Name: "antidepressant_ddd_quantiles", Title: "10th, 50th and 90th percentile of DDD per antidepressant (N06A) dispensing",
			Project: Diabetes, Principal: Researcher,
			SQL:   `SELECT quantile_cont(ddd, 0.1) AS p10, median(ddd) AS p50, quantile_cont(ddd, 0.9) AS p90 FROM lmr WHERE atc LIKE 'N06A%'`,
			Exact: `SELECT quantile_cont(ddd, 0.1) AS p10, median(ddd) AS p50, quantile_cont(ddd, 0.9) AS p90 FROM lmr WHERE atc LIKE 'N06A%'`,
		},

		// ------------------------------------------------ population and deaths
		{
			Name: "population_by_municipality", Title: "Residents by municipality",
			Project: Diabetes, Principal: Researcher,
			SQL:   `SELECT municipality, count(*) AS persons FROM population GROUP BY 1`,
			Exact: `SELECT municipality, count(*) AS persons FROM population GROUP BY 1`,
		},
		{
			Name: "population_by_birth_decade_sex", Title: "Residents by decade of birth and sex",
			Project: Diabetes, Principal: Researcher,
			SQL:   `SELECT floor(birth_year / 10) * 10 AS decade, sex, count(*) AS persons FROM population GROUP BY 1, 2`,
			Exact: `SELECT floor(birth_year / 10) * 10 AS decade, sex, count(*) AS persons FROM population GROUP BY 1, 2`,
		},
		{
			Name: "deaths_by_year_sex", Title: "Deaths by year and sex",
			Project: Diabetes, Principal: Researcher,
			SQL: `SELECT year(d.death_date) AS year, p.sex, count(*) AS deaths
FROM death_causes d JOIN population p USING (pid) GROUP BY 1, 2`,
			Exact: `SELECT year(d.death_date) AS year, p.sex, count(*) AS deaths
FROM death_causes d JOIN population p USING (pid) GROUP BY 1, 2`,
		},
		{
			Name: "deaths_by_chapter_year", Title: "Deaths by ICD-10 chapter of the underlying cause and year",
			Project: Diabetes, Principal: Researcher,
			SQL:   `SELECT icd10_chapter(underlying_cause) AS chapter, year(death_date) AS year, count(*) AS deaths FROM death_causes GROUP BY 1, 2`,
			Exact: `SELECT icd10_chapter(underlying_cause) AS chapter, year(death_date) AS year, count(*) AS deaths FROM death_causes GROUP BY 1, 2`,
		},

		// ------------------------------------------------ cancer
		{
			Name: "cancers_by_stage_year", Title: "New cancer cases by stage and year of diagnosis",
			Project: Cancer, Principal: Researcher,
			SQL:   `SELECT stage, year(diagnosis_date) AS year, count(DISTINCT pid) AS persons FROM cancer GROUP BY 1, 2`,
			Exact: `SELECT stage, year(diagnosis_date) AS year, count(DISTINCT pid) AS persons FROM cancer GROUP BY 1, 2`,
		},
		{
			Name: "cancer_mean_birth_year_by_stage", Title: "Mean birth year of cancer patients by stage",
			Project: Cancer, Principal: Researcher,
			SQL: `SELECT c.stage, avg(p.birth_year) AS mean_birth_year, count(DISTINCT pid) AS persons
FROM cancer c JOIN population p USING (pid) GROUP BY c.stage`,
			Exact: `SELECT c.stage, avg(p.birth_year) AS mean_birth_year, count(DISTINCT pid) AS persons
FROM cancer c JOIN population p USING (pid) GROUP BY c.stage`,
		},

		// ------------------------------------------------ issue 13: person-level WITH, LEFT JOIN, expressions
		{
			Name: "mean_age_at_diagnosis_by_stage", Title: "Mean age at cancer diagnosis by stage (an aggregate of an expression)",
			Project: Cancer, Principal: Researcher,
			SQL: `SELECT c.stage, avg(year(c.diagnosis_date) - p.birth_year) AS mean_age, count(*) AS cases
FROM cancer c JOIN population p USING (pid) GROUP BY 1`,
			Exact: `SELECT c.stage, avg(year(c.diagnosis_date) - p.birth_year) AS mean_age, count(*) AS cases
FROM cancer c JOIN population p USING (pid) GROUP BY 1`,
		},
		{
			Name: "first_e11_patients_per_year", Title: "New (first-ever) E11 patients per year (a person-level WITH)",
			Project: Diabetes, Principal: Researcher,
			SQL: `WITH first AS (SELECT pid, min(contact_date) AS first_date FROM npr WHERE icd10 LIKE 'E11%' GROUP BY pid)
SELECT year(first_date) AS year, count(*) AS patients FROM first GROUP BY 1`,
			Exact: `WITH first AS (SELECT pid, min(contact_date) AS first_date FROM npr WHERE icd10 LIKE 'E11%' GROUP BY pid)
SELECT year(first_date) AS year, count(*) AS patients FROM first GROUP BY 1`,
		},
		{
			Name: "five_year_survival_by_stage", Title: "Five-year survival by stage at first diagnosis, diagnosed 2010–2019 (WITH + LEFT JOIN death_causes)",
			Project: Cancer, Principal: Researcher,
			SQL: `WITH dx AS (SELECT pid, min(diagnosis_date) AS dx_date, arg_min(stage, diagnosis_date) AS stage FROM cancer GROUP BY pid)
SELECT dx.stage, count(*) AS patients,
       avg(CASE WHEN d.death_date IS NULL OR date_diff('day', dx.dx_date, d.death_date) > 1826 THEN 1 ELSE 0 END) AS survived_5y
FROM dx LEFT JOIN death_causes d USING (pid) WHERE dx.dx_date <= DATE '2019-12-31' GROUP BY 1`,
			Exact: `WITH dx AS (SELECT pid, min(diagnosis_date) AS dx_date, arg_min(stage, diagnosis_date) AS stage FROM cancer GROUP BY pid)
SELECT dx.stage, count(*) AS patients,
       avg(CASE WHEN d.death_date IS NULL OR date_diff('day', dx.dx_date, d.death_date) > 1826 THEN 1 ELSE 0 END) AS survived_5y
FROM dx LEFT JOIN death_causes d USING (pid) WHERE dx.dx_date <= DATE '2019-12-31' GROUP BY 1`,
		},

		// ------------------------------------------------ cohorts
		{
			Name: "c50_cohort_by_municipality_sex", Title: "Cohort: persons with a C50 (breast cancer) contact, by municipality and sex",
			Project: Diabetes, Principal: Researcher,
			Cohort: &engine.CohortSpec{
				Include:   []engine.Criterion{{Dataset: "npr", Where: "icd10 LIKE 'C50%'"}},
				Breakdown: []string{"municipality", "sex"},
			},
		},
		{
			Name: "e11_metformin_cohort_by_sex", Title: "Cohort: persons with E11 in npr and metformin in lmr, by sex",
			Project: Diabetes, Principal: Researcher,
			Cohort: &engine.CohortSpec{
				Include: []engine.Criterion{
					{Dataset: "npr", Where: "icd10 LIKE 'E11%'"},
					{Dataset: "lmr", Where: "atc = 'A10BA02'"},
				},
				Breakdown: []string{"sex"},
			},
		},
		{
			Name: "i21_without_antiplatelets_by_age_band", Title: "Cohort: infarction (I21) since 2015 without an antiplatelet (B01AC) dispensing, by age band",
			Project: Diabetes, Principal: Researcher,
			Cohort: &engine.CohortSpec{
				Include:   []engine.Criterion{{Dataset: "npr", Where: "icd10 LIKE 'I21%'", From: "2015-01-01"}},
				Exclude:   []engine.Criterion{{Dataset: "lmr", Where: "atc LIKE 'B01AC%'"}},
				Breakdown: []string{"age_band"},
			},
		},
		{
			Name: "j45_cohort_by_age_band_sex", Title: "Cohort: persons with a J45 (asthma) contact and an R03 dispensing, by age band and sex",
			Project: Diabetes, Principal: Researcher,
			Cohort: &engine.CohortSpec{
				Include: []engine.Criterion{
					{Dataset: "npr", Where: "icd10 LIKE 'J45%'"},
					{Dataset: "lmr", Where: "atc LIKE 'R03%'"},
				},
				Breakdown: []string{"age_band", "sex"},
			},
		},
	}
}
