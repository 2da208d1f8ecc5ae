package utility

import "github.com/statgate/statgate/engine"

// sqlQuestion is a researcher's ad-hoc SQL question whose exact answer is
// the same SQL on plain DuckDB.
func sqlQuestion(name, title, project, sql string) Question {
	return Question{Name: name, Title: title, Project: project, Principal: Researcher, SQL: sql, Exact: sql}
}

// Holdout returns a second workload, a fresh copy each call: questions
// written apart from Workload and never used to tune the engine's
// choices, the way an unseen workload of realistic questions would
// measure it (`benchmarks/cmd/utility --workload holdout`). Its figures
// are reported like the workload's; its targets are the same.
func Holdout() []Question {
	return []Question{
		sqlQuestion("h_alive_by_sex", "Residents alive at the end of 2024, by sex", Diabetes,
			`SELECT sex, count(*) AS persons FROM population WHERE death_date IS NULL GROUP BY 1`),
		sqlQuestion("h_mean_age_by_sex", "Mean age at the end of 2024 of residents by sex", Diabetes,
			`SELECT sex, avg(2024 - birth_year) AS mean_age, count(*) AS persons FROM population GROUP BY 1`),
		sqlQuestion("h_births_1990s", "Residents born in each year 1990–1999", Diabetes,
			`SELECT birth_year, count(*) AS persons FROM population WHERE birth_year BETWEEN 1990 AND 1999 GROUP BY 1`),
		sqlQuestion("h_inpatient_mean_stay_by_year", "Mean length of inpatient stays per year", Diabetes,
			`SELECT year(contact_date) AS year, avg(length_of_stay_days) AS mean_stay, count(*) AS stays FROM npr WHERE contact_type = 'inpatient' GROUP BY 1`),
		sqlQuestion("h_ami_patients_by_hospital", "Patients with an acute myocardial infarction (I21) by hospital", Diabetes,
			`SELECT hospital, count(DISTINCT pid) AS patients FROM npr WHERE icd10 LIKE 'I21%' GROUP BY 1`),
		sqlQuestion("h_depression_patients_by_year", "Patients with a depressive episode (F32) contact per year", Diabetes,
			`SELECT year(contact_date) AS year, count(DISTINCT pid) AS patients FROM npr WHERE icd10 LIKE 'F32%' GROUP BY 1`),
		sqlQuestion("h_outpatient_visits_by_month_2020", "Outpatient visits per month in 2020", Diabetes,
			`SELECT month(contact_date) AS month, count(*) AS visits FROM npr WHERE contact_type = 'outpatient' AND year(contact_date) = 2020 GROUP BY 1`),
		sqlQuestion("h_mean_stay_by_icd10_letter", "Mean length of stay by ICD-10 letter of the main diagnosis, inpatient stays", Diabetes,
			`SELECT left(icd10, 1) AS letter, avg(length_of_stay_days) AS mean_stay FROM npr WHERE contact_type = 'inpatient' GROUP BY 1`),
		sqlQuestion("h_median_stay_circulatory", "Median inpatient stay for circulatory diagnoses (I)", Diabetes,
			`SELECT median(length_of_stay_days) AS median_stay FROM npr WHERE contact_type = 'inpatient' AND icd10 LIKE 'I%'`),
		sqlQuestion("h_contacts_by_hospital_year", "Contacts by hospital and year (a fine breakdown)", Diabetes,
			`SELECT hospital, year(contact_date) AS year, count(*) AS contacts FROM npr GROUP BY 1, 2`),
		sqlQuestion("h_diabetes_contacts_by_sex", "E10–E14 (diabetes) contacts and patients by sex", Diabetes,
			`SELECT p.sex, count(*) AS contacts, count(DISTINCT pid) AS patients FROM npr n JOIN population p USING (pid) WHERE n.icd10 LIKE 'E1%' GROUP BY 1`),
		sqlQuestion("h_analgesic_users_by_year", "Persons dispensed analgesics (N02) per year", Diabetes,
			`SELECT year(dispensed_date) AS year, count(DISTINCT pid) AS persons FROM lmr WHERE atc LIKE 'N02%' GROUP BY 1`),
		sqlQuestion("h_antibiotic_dispensings_by_municipality", "Antibacterial (J01) dispensings by municipality of residence", Diabetes,
			`SELECT p.municipality, count(*) AS dispensings FROM lmr l JOIN population p USING (pid) WHERE l.atc LIKE 'J01%' GROUP BY 1`),
		sqlQuestion("h_antidepressant_ddd_by_prescriber", "Total antidepressant (N06A) DDD by prescriber type", Diabetes,
			`SELECT prescriber_type, sum(ddd) AS total_ddd, count(*) AS dispensings FROM lmr WHERE atc LIKE 'N06A%' GROUP BY 1`),
		sqlQuestion("h_beta_blocker_users_by_sex_2023", "Beta blocker (C07) users by sex in 2023", Diabetes,
			`SELECT p.sex, count(DISTINCT pid) AS persons FROM lmr l JOIN population p USING (pid) WHERE l.atc LIKE 'C07%' AND year(l.dispensed_date) = 2023 GROUP BY 1`),
		sqlQuestion("h_mean_ddd_metformin", "Mean DDD per metformin (A10BA02) dispensing (one number)", Diabetes,
			`SELECT avg(ddd) AS mean_ddd, count(*) AS dispensings FROM lmr WHERE atc = 'A10BA02'`),
		sqlQuestion("h_dispensings_by_quarter_2023", "Dispensings and persons per quarter in 2023 (date_trunc)", Diabetes,
			`SELECT date_trunc('quarter', dispensed_date) AS quarter, count(*) AS dispensings, count(DISTINCT pid) AS persons FROM lmr WHERE year(dispensed_date) = 2023 GROUP BY 1`),
		sqlQuestion("h_dispensings_by_group_year", "Dispensings by ATC anatomical group and year", Diabetes,
			`SELECT left(atc, 1) AS anatomical_group, year(dispensed_date) AS year, count(*) AS dispensings FROM lmr GROUP BY 1, 2`),
		sqlQuestion("h_ddd_quantiles_by_prescriber", "Quartiles of DDD per dispensing by prescriber type", Diabetes,
			`SELECT prescriber_type, quantile_cont(ddd, 0.25) AS q1, median(ddd) AS q2, quantile_cont(ddd, 0.75) AS q3 FROM lmr GROUP BY 1`),
		sqlQuestion("h_contacts_per_patient_by_year", "Contacts per patient per year (a ratio of aggregates)", Diabetes,
			`SELECT year(contact_date) AS year, count(*) * 1.0 / count(DISTINCT pid) AS contacts_per_patient FROM npr GROUP BY 1`),
		sqlQuestion("h_inpatient_share_by_hospital", "Share of contacts that are inpatient stays, per hospital, in per cent", Diabetes,
			`SELECT hospital, round(100.0 * count(*) FILTER (WHERE contact_type = 'inpatient') / count(*), 1) AS pct_inpatient FROM npr GROUP BY 1`),
		sqlQuestion("h_ddd_per_user_by_group", "DDD per person dispensed, by ATC anatomical group, and treatment years", Diabetes,
			`SELECT left(atc, 1) AS anatomical_group, sum(ddd) / count(DISTINCT pid) AS ddd_per_person, sum(ddd) / 365.0 AS treatment_years FROM lmr GROUP BY 1`),
		sqlQuestion("h_stage_shares_lung_cancer", "Shares of respiratory cancer (C30–C39) cases by stage, in per cent (a window total)", Cancer,
			`SELECT stage, count(*) AS cases, round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct FROM cancer WHERE icd10 LIKE 'C3%' GROUP BY 1`),
		sqlQuestion("h_contact_type_shares_by_year", "Each contact type's share of the year's contacts (a window total by year)", Diabetes,
			`SELECT year(contact_date) AS year, contact_type, count(*) * 1.0 / sum(count(*)) OVER (PARTITION BY year(contact_date)) AS share FROM npr GROUP BY 1, 2`),
		sqlQuestion("h_circulatory_deaths_by_sex", "Deaths from circulatory causes (I) by sex", Diabetes,
			`SELECT p.sex, count(*) AS deaths FROM death_causes d JOIN population p USING (pid) WHERE d.underlying_cause LIKE 'I%' GROUP BY 1`),
		sqlQuestion("h_deaths_by_letter", "Deaths by ICD-10 letter of the underlying cause", Diabetes,
			`SELECT left(underlying_cause, 1) AS letter, count(*) AS deaths FROM death_causes GROUP BY 1`),
		sqlQuestion("h_insulin_users_mean_stay_by_sex", "Mean inpatient stay of persons dispensed insulin (A10A), by sex (a semi join)", Diabetes,
			`SELECT p.sex, avg(n.length_of_stay_days) AS mean_stay, count(*) AS stays FROM npr n JOIN population p USING (pid) WHERE n.contact_type = 'inpatient' AND pid IN (SELECT pid FROM lmr WHERE atc LIKE 'A10A%') GROUP BY 1`),
		sqlQuestion("h_statin_users_without_heart_contact_by_year", "Statin (C10AA) users per year with no ischaemic heart disease (I20–I25) contact (NOT EXISTS)", Diabetes,
			`SELECT year(l.dispensed_date) AS year, count(DISTINCT pid) AS persons FROM lmr l WHERE l.atc LIKE 'C10AA%' AND NOT EXISTS (SELECT 1 FROM npr n WHERE n.pid = l.pid AND n.icd10 LIKE 'I2%') GROUP BY 1`),
		sqlQuestion("h_lung_cancer_by_stage", "Lung cancer (C34) cases by stage", Cancer,
			`SELECT stage, count(*) AS cases FROM cancer WHERE icd10 LIKE 'C34%' GROUP BY 1`),
		sqlQuestion("h_cancer_patients_by_sex_year", "Cancer patients by sex and year of diagnosis", Cancer,
			`SELECT p.sex, year(c.diagnosis_date) AS year, count(DISTINCT pid) AS persons FROM cancer c JOIN population p USING (pid) GROUP BY 1, 2`),
		{
			Name: "h_n06a_persons_by_year", Title: "Persons dispensed antidepressants (N06A) per year (the template)",
			Project: Diabetes, Principal: Analyst,
			Template: "prescriptions_by_atc_year", Params: map[string]any{"atc_prefix": "N06A%"},
			Exact: `SELECT year(dispensed_date) AS year, count(DISTINCT pid) AS persons FROM lmr WHERE atc LIKE 'N06A%' GROUP BY 1`,
		},
		{
			Name: "h_hypertension_no_c09_by_sex", Title: "Cohort: hypertension (I10) without an ACE inhibitor or ARB (C09) dispensing, by sex",
			Project: Diabetes, Principal: Researcher,
			Cohort: &engine.CohortSpec{
				Include:   []engine.Criterion{{Dataset: "npr", Where: "icd10 LIKE 'I10%'"}},
				Exclude:   []engine.Criterion{{Dataset: "lmr", Where: "atc LIKE 'C09%'"}},
				Breakdown: []string{"sex"},
			},
		},
		{
			Name: "h_e11_insulin_cohort_by_age_band", Title: "Cohort: type 2 diabetes (E11) patients dispensed insulin (A10A) since 2018, by age band",
			Project: Diabetes, Principal: Researcher,
			Cohort: &engine.CohortSpec{
				Include: []engine.Criterion{
					{Dataset: "npr", Where: "icd10 LIKE 'E11%'"},
					{Dataset: "lmr", Where: "atc LIKE 'A10A%'", From: "2018-01-01"},
				},
				Breakdown: []string{"age_band"},
			},
		},
	}
}
