package synth

import "math"

// This file holds the epidemiological model as plain data: which conditions
// exist, how common they are by age and sex, which contacts and drugs they
// lead to, and the background diagnoses, drugs and causes of death everyone
// is exposed to. sql.go turns it into DuckDB SQL.

// Age bands used by the choice tables: 0–17, 18–39, 40–64, 65–79, 80+.
const nBands = 5

// kind is how a condition shows up in the patient registry.
type kind string

const (
	// chronic: repeated outpatient follow-up from onset until death or the
	// end of 2024.
	chronic kind = "chronic"
	// acute: one admission and a few follow-ups within a year.
	acute kind = "acute"
	// cancer: a treatment phase of contacts within two years of diagnosis,
	// plus a row in the cancer registry.
	cancer kind = "cancer"
	// background: one-off contacts anyone may have (checks, injuries,
	// infections, childbirth).
	background kind = "background"
)

// condition is a diagnosis a person acquires at most once.
type condition struct {
	code string
	kind kind
	// stream separates this condition's random draws from all others.
	stream int
	// prev is the SQL probability of having the condition by the end of
	// 2024 given age (the SQL expression passed in) and the person's sx
	// column. It is a fraction in [0, 1).
	prev func(age string) string
	// minAge is the youngest age at which the condition is diagnosed.
	minAge int
}

// sexes returns the SQL factor m for men and f for women (sx is 0 for
// men, 1 for women).
func sexes(m, f string) string {
	return "(CASE WHEN sx = 0 THEN " + m + " ELSE " + f + " END)"
}

// logit returns the SQL logistic curve top / (1 + exp(-(age - mid) / scale)).
func logit(top, mid, scale string) func(age string) string {
	return func(age string) string {
		return top + " * logistic((" + age + " - " + mid + ") / " + scale + ")"
	}
}

// conditions is the catalogue of diagnoses persons acquire. Prevalence
// rises with age for most; J45 asthma is commoner in the young, F32
// depression peaks in women of working age, C50 is (almost) only women,
// C61 only men.
var conditions = []condition{
	{code: "E11", kind: chronic, stream: 100, minAge: 20, prev: func(a string) string {
		return sexes("1.2", "0.85") + " * " + logit("0.22", "62", "8.0")(a)
	}},
	{code: "I10", kind: chronic, stream: 110, minAge: 25, prev: logit("0.40", "60", "9.0")},
	{code: "J45", kind: chronic, stream: 120, minAge: 2, prev: func(a string) string {
		return "(0.09 * exp(-greatest(" + a + ", 0) / 30.0) + 0.03)"
	}},
	{code: "F32", kind: chronic, stream: 130, minAge: 12, prev: func(a string) string {
		return sexes("0.045", "0.09") + " * exp(-pow((" + a + " - 40) / 18.0, 2)) + 0.012"
	}},
	{code: "I48", kind: chronic, stream: 140, minAge: 40, prev: func(a string) string {
		return sexes("1.3", "0.8") + " * " + logit("0.12", "75", "7.0")(a)
	}},
	{code: "I21", kind: acute, stream: 150, minAge: 30, prev: func(a string) string {
		return sexes("1.0", "0.5") + " * " + logit("0.10", "72", "7.0")(a)
	}},
	{code: "S72", kind: acute, stream: 160, minAge: 50, prev: func(a string) string {
		return sexes("0.4", "1.0") + " * " + logit("0.10", "84", "5.0")(a)
	}},
	{code: "C50", kind: cancer, stream: 200, minAge: 25, prev: func(a string) string {
		return sexes("0.00008", "0.08") + " * logistic((" + a + " - 55) / 8.0)"
	}},
	{code: "C61", kind: cancer, stream: 210, minAge: 40, prev: func(a string) string {
		return sexes("0.15", "0.0") + " * logistic((" + a + " - 68) / 6.0)"
	}},
	{code: "C18", kind: cancer, stream: 220, minAge: 30, prev: logit("0.05", "70", "8.0")},
	{code: "C34", kind: cancer, stream: 230, minAge: 35, prev: logit("0.045", "68", "7.0")},
	{code: "C43", kind: cancer, stream: 240, minAge: 15, prev: logit("0.022", "55", "12.0")},
	{code: "C44", kind: cancer, stream: 250, minAge: 30, prev: logit("0.05", "72", "8.0")},
	{code: "C67", kind: cancer, stream: 260, minAge: 40, prev: func(a string) string {
		return sexes("0.022", "0.007") + " * logistic((" + a + " - 72) / 7.0)"
	}},
	{code: "C64", kind: cancer, stream: 270, minAge: 30, prev: logit("0.011", "65", "8.0")},
	{code: "C25", kind: cancer, stream: 280, minAge: 35, prev: logit("0.012", "70", "8.0")},
	{code: "C71", kind: cancer, stream: 290, minAge: 1, prev: func(string) string { return "0.0025" }},
}

// diagnosis describes how contacts with one three-character ICD-10 code
// look in the patient registry.
type diagnosis struct {
	code string
	kind kind
	// subs are the fourth-character subcodes the code is registered with
	// (one digit each, written after a dot: E11.9); empty: the code is a
	// leaf and always appears with three characters.
	subs string
	// rate is the yearly number of follow-up contacts of a chronic condition.
	rate float64
	// episodeDays limits the follow-up of a chronic condition to an
	// episode of this many days (depression); 0: until death or 2024.
	episodeDays int
	// pInpatient and pDay are the shares of first contacts that are
	// inpatient stays and day treatment; the rest are outpatient visits.
	pInpatient, pDay float64
	// losMean is the mean length of an inpatient stay in days.
	losMean float64
	// bands and the sex factors weight background diagnoses by age band.
	bands        [nBands]float64
	male, female float64
}

// diagnoses lists every code that appears in npr.icd10. The conditions
// come first (same codes as above); the rest are background diagnoses
// chosen by age band and sex.
var diagnoses = []diagnosis{
	{code: "E11", kind: chronic, subs: "2456789", rate: 0.8, pInpatient: 0.15, pDay: 0.10, losMean: 4},
	{code: "I10", kind: chronic, rate: 0.3, pInpatient: 0.10, pDay: 0.05, losMean: 3},
	{code: "J45", kind: chronic, subs: "0189", rate: 0.4, pInpatient: 0.15, pDay: 0.05, losMean: 2},
	{code: "F32", kind: chronic, subs: "012389", rate: 1.0, episodeDays: 1095, pInpatient: 0.10, pDay: 0.15, losMean: 12},
	{code: "I48", kind: chronic, subs: "0129", rate: 0.6, pInpatient: 0.35, pDay: 0.10, losMean: 3},
	{code: "I21", kind: acute, subs: "01249", pInpatient: 1, losMean: 5},
	{code: "S72", kind: acute, subs: "0123", pInpatient: 1, losMean: 8},
	{code: "C50", kind: cancer, subs: "1249", pInpatient: 0.5, losMean: 4},
	{code: "C61", kind: cancer, pInpatient: 0.4, losMean: 4},
	{code: "C18", kind: cancer, subs: "0279", pInpatient: 0.6, losMean: 8},
	{code: "C34", kind: cancer, subs: "1239", pInpatient: 0.6, losMean: 7},
	{code: "C43", kind: cancer, subs: "5679", pInpatient: 0.2, losMean: 3},
	{code: "C44", kind: cancer, subs: "3459", pInpatient: 0.05, losMean: 2},
	{code: "C67", kind: cancer, subs: "029", pInpatient: 0.5, losMean: 5},
	{code: "C64", kind: cancer, pInpatient: 0.7, losMean: 6},
	{code: "C25", kind: cancer, subs: "019", pInpatient: 0.7, losMean: 9},
	{code: "C71", kind: cancer, subs: "019", pInpatient: 0.8, losMean: 10},

	{code: "Z00", kind: background, subs: "0126", bands: [nBands]float64{3, 2, 2, 1.5, 1}, male: 1, female: 1},
	{code: "J06", kind: background, subs: "09", pInpatient: 0.05, losMean: 2, bands: [nBands]float64{4, 1, 0.5, 0.5, 0.5}, male: 1, female: 1},
	{code: "A09", kind: background, subs: "09", pInpatient: 0.15, losMean: 2, bands: [nBands]float64{3, 1, 0.7, 0.8, 1}, male: 1, female: 1},
	{code: "R10", kind: background, subs: "134", pInpatient: 0.25, pDay: 0.1, losMean: 2, bands: [nBands]float64{2, 3, 2.5, 2, 1.5}, male: 0.8, female: 1.2},
	{code: "M54", kind: background, subs: "2459", pInpatient: 0.05, pDay: 0.1, losMean: 3, bands: [nBands]float64{0.3, 2, 3, 2, 1}, male: 1, female: 1},
	{code: "S52", kind: background, subs: "0569", pInpatient: 0.2, pDay: 0.3, losMean: 2, bands: [nBands]float64{2, 1, 1, 1.5, 1.5}, male: 0.8, female: 1.3},
	{code: "S06", kind: background, subs: "0269", pInpatient: 0.3, losMean: 3, bands: [nBands]float64{2, 1.5, 0.7, 0.8, 1.5}, male: 1.3, female: 0.8},
	{code: "J18", kind: background, subs: "019", pInpatient: 0.7, losMean: 5, bands: [nBands]float64{1, 0.5, 1, 2.5, 4}, male: 1.1, female: 0.9},
	{code: "N39", kind: background, subs: "0", pInpatient: 0.2, losMean: 3, bands: [nBands]float64{0.5, 1, 1, 2, 3}, male: 0.5, female: 2},
	{code: "H25", kind: background, subs: "019", pDay: 0.8, bands: [nBands]float64{0, 0, 0.5, 3, 3}, male: 0.9, female: 1.1},
	{code: "M17", kind: background, subs: "019", pInpatient: 0.25, losMean: 4, bands: [nBands]float64{0, 0.2, 1.5, 3, 2}, male: 0.8, female: 1.2},
	{code: "K80", kind: background, subs: "0125", pInpatient: 0.4, pDay: 0.2, losMean: 3, bands: [nBands]float64{0, 1, 1.5, 1.5, 1}, male: 0.7, female: 1.4},
	{code: "R07", kind: background, subs: "234", pInpatient: 0.3, losMean: 1, bands: [nBands]float64{0.2, 1.5, 2.5, 2.5, 2}, male: 1.1, female: 0.9},
	{code: "K35", kind: background, subs: "389", pInpatient: 1, losMean: 2, bands: [nBands]float64{1.5, 1, 0.4, 0.2, 0.1}, male: 1, female: 1},
	{code: "O80", kind: background, subs: "09", pInpatient: 1, losMean: 2, bands: [nBands]float64{0, 6, 0.2, 0, 0}, male: 0, female: 1},
	{code: "G43", kind: background, subs: "019", pInpatient: 0.05, pDay: 0.1, losMean: 2, bands: [nBands]float64{0.5, 1.2, 1, 0.3, 0.1}, male: 0.5, female: 1.5},
	{code: "I50", kind: background, subs: "019", pInpatient: 0.6, losMean: 6, bands: [nBands]float64{0, 0, 0.3, 1.5, 3}, male: 1.1, female: 0.9},
	{code: "R55", kind: background, pInpatient: 0.3, losMean: 2, bands: [nBands]float64{0.3, 0.8, 0.8, 1.5, 2.5}, male: 1, female: 1},
}

// cancerSite holds a cancer site's stage distribution and lethality.
type cancerSite struct {
	code string
	// stages are the shares of stage I, II, III and IV; the rest is "unknown".
	stages [4]float64
	// lethality scales the chance that a case of a given stage is fatal.
	lethality float64
	// noNPR is the share of cases registered without any hospital contact
	// (pathology or death certificate only).
	noNPR float64
}

var cancerSites = []cancerSite{
	{code: "C50", stages: [4]float64{0.45, 0.35, 0.10, 0.05}, lethality: 0.6, noNPR: 0.02},
	{code: "C61", stages: [4]float64{0.30, 0.35, 0.15, 0.12}, lethality: 0.5, noNPR: 0.03},
	{code: "C18", stages: [4]float64{0.15, 0.30, 0.30, 0.20}, lethality: 1.0, noNPR: 0.02},
	{code: "C34", stages: [4]float64{0.20, 0.10, 0.20, 0.45}, lethality: 1.2, noNPR: 0.03},
	{code: "C43", stages: [4]float64{0.60, 0.20, 0.08, 0.04}, lethality: 0.6, noNPR: 0.05},
	{code: "C44", stages: [4]float64{0.10, 0.05, 0.02, 0.01}, lethality: 0.1, noNPR: 0.40},
	{code: "C67", stages: [4]float64{0.40, 0.25, 0.15, 0.10}, lethality: 0.8, noNPR: 0.03},
	{code: "C64", stages: [4]float64{0.45, 0.15, 0.15, 0.20}, lethality: 0.9, noNPR: 0.03},
	{code: "C25", stages: [4]float64{0.10, 0.15, 0.20, 0.50}, lethality: 1.3, noNPR: 0.05},
	{code: "C71", stages: [4]float64{0, 0, 0, 0}, lethality: 1.0, noNPR: 0.02},
}

// stageDeath is, per stage (I, II, III, IV, unknown), the chance a case is
// fatal (before the site's lethality factor) and the mean time from
// diagnosis to death in days.
var stageDeath = [5]struct{ p, meanDays float64 }{
	{0.05, 1800}, {0.18, 1400}, {0.50, 900}, {0.90, 365}, {0.40, 700},
}

// weighted is a value with a weight per age band and a factor per sex.
type weighted struct {
	value        string
	bands        [nBands]float64
	male, female float64
}

// deathCauses are the underlying causes of deaths that are not caused by a
// registered cancer or an acute event, by age band and sex.
var deathCauses = []weighted{
	{"Q24", [nBands]float64{3, 0.2, 0.05, 0, 0}, 1, 1},
	{"P07", [nBands]float64{3, 0, 0, 0, 0}, 1.1, 0.9},
	{"I25", [nBands]float64{0, 0.5, 3, 4, 4}, 1.3, 0.8},
	{"I64", [nBands]float64{0, 0.2, 1, 2.5, 3.5}, 1, 1},
	{"I50", [nBands]float64{0, 0.1, 0.5, 1.5, 3}, 1, 1},
	{"J44", [nBands]float64{0, 0, 1, 3, 2.5}, 1, 1},
	{"F03", [nBands]float64{0, 0, 0.1, 1.5, 5}, 0.8, 1.2},
	{"G30", [nBands]float64{0, 0, 0.2, 1.5, 3}, 0.8, 1.2},
	{"J18", [nBands]float64{1, 0.3, 0.5, 1, 2.5}, 1, 1},
	{"A41", [nBands]float64{1, 0.3, 0.5, 0.8, 1}, 1, 1},
	{"N18", [nBands]float64{0, 0.1, 0.3, 0.6, 0.8}, 1, 1},
	{"K70", [nBands]float64{0, 0.5, 0.6, 0.5, 0.1}, 2, 0.6},
	{"X70", [nBands]float64{0.5, 3, 0.6, 0.3, 0.1}, 2.5, 0.6},
	{"X42", [nBands]float64{0.3, 3, 0.5, 0.2, 0.05}, 2, 0.7},
	{"V89", [nBands]float64{2, 2, 0.2, 0.3, 0.2}, 2, 0.6},
	{"W19", [nBands]float64{0.5, 0.3, 0.3, 0.8, 2.5}, 1, 1},
	{"G40", [nBands]float64{1, 0.5, 0.3, 0.1, 0.05}, 1, 1},
	{"R99", [nBands]float64{1, 1, 0.5, 0.5, 0.8}, 1, 1},
}

// drug is how dispensings of one background ATC code look.
type drug struct {
	weighted
	// dddLo and dddHi bound the defined daily doses of one dispensing.
	dddLo, dddHi float64
	// pGP, pSpecialist, pHospital are prescriber shares; the rest are dentists.
	pGP, pSpecialist, pHospital float64
}

// backgroundDrugs are one-off dispensings anyone may get (antibiotics,
// painkillers, allergy drugs, sleeping pills), by age band and sex.
var backgroundDrugs = []drug{
	{weighted{"J01CE02", [nBands]float64{5, 3, 2, 2, 1.5}, 1, 1.1}, 7, 10, 0.83, 0.02, 0.03},
	{weighted{"J01CA04", [nBands]float64{3, 1.5, 1, 1, 1}, 1, 1}, 7, 14, 0.85, 0.03, 0.04},
	{weighted{"J01XE01", [nBands]float64{0.1, 1.5, 1.5, 2, 2.5}, 0.15, 1}, 5, 10, 0.92, 0.04, 0.04},
	{weighted{"N02BE01", [nBands]float64{2, 2, 2.5, 3, 4}, 0.9, 1.1}, 10, 40, 0.84, 0.04, 0.04},
	{weighted{"M01AE01", [nBands]float64{0.5, 3, 3, 1.5, 0.5}, 1, 1}, 10, 30, 0.80, 0.04, 0.04},
	{weighted{"R06AE07", [nBands]float64{2, 2, 1.5, 0.8, 0.4}, 1, 1.1}, 30, 100, 0.95, 0.05, 0},
	{weighted{"D07AC01", [nBands]float64{1.5, 1, 1, 1, 1}, 1, 1}, 5, 20, 0.85, 0.15, 0},
	{weighted{"N05CF01", [nBands]float64{0, 0.5, 1.5, 2.5, 3}, 0.8, 1.2}, 10, 30, 0.92, 0.04, 0.04},
	{weighted{"A02BC05", [nBands]float64{0, 0.8, 1.5, 2, 2}, 1, 1}, 14, 56, 0.90, 0.06, 0.04},
	{weighted{"N02AA05", [nBands]float64{0, 0.3, 0.6, 0.8, 0.8}, 1, 1}, 5, 20, 0.60, 0.10, 0.25},
	{weighted{"S01AA01", [nBands]float64{3, 1, 0.5, 0.5, 0.5}, 1, 1}, 2, 5, 0.95, 0.05, 0},
}

// courseClass decides the prescribers and doses of a drug course.
type courseClass string

const (
	// maintenance: long-term use, first prescribed by a specialist or
	// hospital about half the time, refills mostly by the GP.
	maintenance courseClass = "maintenance"
	// oncology: prescribed by specialists and hospitals.
	oncology courseClass = "oncology"
	// shortTerm: a few dispensings after a hospital stay.
	shortTerm courseClass = "short"
)

// choice is a value with a weight.
type choice struct {
	value  string
	weight float64
}

// course is a rule that starts drug courses: for every person with one of
// the conditions From (or, when From is empty, every person in the age
// and sex window) with probability P, one course of one of ATC.
type course struct {
	stream int
	from   []string
	// sex restricts a population rule to "M" or "F"; empty: both.
	sex string
	// ageFrom and ageTo restrict a population rule to persons of those
	// ages (the course lies within the window).
	ageFrom, ageTo int
	p              float64
	atc            []choice
	// delayDays: the course starts up to this many days after onset;
	// anywhere: it starts at a uniform time between onset and the end
	// (add-on drugs, background use).
	delayDays int
	anywhere  bool
	// persist is the chance the course lasts until death or the end of
	// 2024; otherwise it lasts between minDays and maxDays.
	persist          float64
	minDays, maxDays int
	// intervals are the days between dispensings (one is drawn per course).
	intervals []choice
	class     courseClass
}

var (
	refills   = []choice{{"60", 0.3}, {"90", 0.7}}
	quarterly = []choice{{"90", 1}}
	monthly   = []choice{{"30", 1}}
)

// courses are the drug rules: diagnoses lead to their drugs (E11 →
// metformin, later GLP-1 or SGLT2 and insulin; I10 → ACE inhibitors,
// ARBs, beta blockers, calcium blockers; J45 → inhalers; F32 → SSRIs; ...),
// and a few drugs are used without a registered diagnosis (contraceptives,
// thyroid hormone, primary-prevention statins, off-label metformin).
var courses = []course{
	{stream: 500, from: []string{"E11"}, p: 0.85, atc: []choice{{"A10BA02", 1}}, delayDays: 60, persist: 0.85, minDays: 365, maxDays: 3000, intervals: refills, class: maintenance},
	{stream: 510, from: []string{"E11"}, p: 0.35, atc: []choice{{"A10BJ02", 0.3}, {"A10BJ06", 0.2}, {"A10BK01", 0.3}, {"A10BK03", 0.2}}, anywhere: true, persist: 0.7, minDays: 180, maxDays: 1500, intervals: refills, class: maintenance},
	{stream: 520, from: []string{"E11"}, p: 0.12, atc: []choice{{"A10AE04", 0.7}, {"A10AB05", 0.3}}, anywhere: true, persist: 0.95, minDays: 365, maxDays: 2000, intervals: refills, class: maintenance},
	{stream: 530, from: []string{"E11"}, p: 0.5, atc: []choice{{"C10AA05", 0.6}, {"C10AA01", 0.4}}, delayDays: 365, persist: 0.8, minDays: 180, maxDays: 2000, intervals: refills, class: maintenance},
	{stream: 540, from: []string{"I10"}, p: 0.85, atc: []choice{{"C09AA05", 0.25}, {"C09CA01", 0.3}, {"C07AB02", 0.2}, {"C08CA01", 0.25}}, delayDays: 90, persist: 0.85, minDays: 365, maxDays: 3000, intervals: refills, class: maintenance},
	{stream: 550, from: []string{"I10"}, p: 0.3, atc: []choice{{"C03AA03", 0.4}, {"C08CA01", 0.3}, {"C09CA01", 0.3}}, anywhere: true, persist: 0.8, minDays: 365, maxDays: 3000, intervals: refills, class: maintenance},
	{stream: 560, from: []string{"J45"}, p: 0.85, atc: []choice{{"R03AC02", 1}}, delayDays: 30, persist: 0.5, minDays: 180, maxDays: 1800, intervals: []choice{{"60", 0.3}, {"90", 0.3}, {"180", 0.4}}, class: maintenance},
	{stream: 570, from: []string{"J45"}, p: 0.55, atc: []choice{{"R03BA02", 0.6}, {"R03AK06", 0.4}}, delayDays: 90, persist: 0.6, minDays: 180, maxDays: 1800, intervals: refills, class: maintenance},
	{stream: 580, from: []string{"F32"}, p: 0.7, atc: []choice{{"N06AB04", 0.25}, {"N06AB10", 0.4}, {"N06AB06", 0.35}}, delayDays: 30, persist: 0.2, minDays: 180, maxDays: 900, intervals: refills, class: maintenance},
	{stream: 590, from: []string{"I21"}, p: 0.95, atc: []choice{{"B01AC06", 1}}, delayDays: 7, persist: 0.9, minDays: 365, maxDays: 2000, intervals: refills, class: maintenance},
	{stream: 600, from: []string{"I21"}, p: 0.9, atc: []choice{{"C10AA05", 1}}, delayDays: 7, persist: 0.85, minDays: 365, maxDays: 2000, intervals: refills, class: maintenance},
	{stream: 610, from: []string{"I21"}, p: 0.7, atc: []choice{{"C07AB02", 1}}, delayDays: 7, persist: 0.8, minDays: 365, maxDays: 2000, intervals: refills, class: maintenance},
	{stream: 620, from: []string{"I21"}, p: 0.8, atc: []choice{{"B01AC24", 1}}, delayDays: 3, persist: 0, minDays: 300, maxDays: 400, intervals: refills, class: maintenance},
	{stream: 630, from: []string{"I48"}, p: 0.8, atc: []choice{{"B01AF02", 0.6}, {"B01AF01", 0.4}}, delayDays: 30, persist: 0.9, minDays: 365, maxDays: 2000, intervals: refills, class: maintenance},
	{stream: 640, from: []string{"S72"}, p: 0.7, atc: []choice{{"N02AA05", 1}}, delayDays: 10, persist: 0, minDays: 14, maxDays: 90, intervals: monthly, class: shortTerm},
	{stream: 650, from: []string{"C50"}, p: 0.7, atc: []choice{{"L02BG03", 0.6}, {"L02BA01", 0.4}}, delayDays: 120, persist: 0, minDays: 1095, maxDays: 1825, intervals: quarterly, class: oncology},
	{stream: 660, from: []string{"C61"}, p: 0.5, atc: []choice{{"L02AE02", 1}}, delayDays: 60, persist: 0.6, minDays: 365, maxDays: 1825, intervals: quarterly, class: oncology},
	{stream: 670, from: []string{"C18", "C25", "C34", "C50", "C67", "C71"}, p: 0.5, atc: []choice{{"A04AA01", 1}}, delayDays: 30, persist: 0, minDays: 30, maxDays: 180, intervals: monthly, class: oncology},

	{stream: 700, sex: "F", ageFrom: 16, ageTo: 45, p: 0.3, atc: []choice{{"G03AA07", 0.6}, {"G03AC09", 0.4}}, anywhere: true, persist: 0.2, minDays: 180, maxDays: 1800, intervals: []choice{{"90", 0.4}, {"180", 0.6}}, class: maintenance},
	{stream: 710, sex: "F", ageFrom: 35, ageTo: 120, p: 0.08, atc: []choice{{"H03AA01", 1}}, anywhere: true, persist: 0.9, minDays: 365, maxDays: 3000, intervals: refills, class: maintenance},
	{stream: 720, sex: "M", ageFrom: 35, ageTo: 120, p: 0.015, atc: []choice{{"H03AA01", 1}}, anywhere: true, persist: 0.9, minDays: 365, maxDays: 3000, intervals: refills, class: maintenance},
	{stream: 730, ageFrom: 55, ageTo: 120, p: 0.15, atc: []choice{{"C10AA05", 0.5}, {"C10AA01", 0.5}}, anywhere: true, persist: 0.8, minDays: 365, maxDays: 3000, intervals: refills, class: maintenance},
	{stream: 740, sex: "F", ageFrom: 18, ageTo: 45, p: 0.004, atc: []choice{{"A10BA02", 1}}, anywhere: true, persist: 0.3, minDays: 180, maxDays: 1000, intervals: refills, class: maintenance},
	{stream: 750, ageFrom: 45, ageTo: 120, p: 0.002, atc: []choice{{"A10BA02", 1}}, anywhere: true, persist: 0.5, minDays: 180, maxDays: 1500, intervals: refills, class: maintenance},
}

// hospitals are the ten health trusts of the policy's hospital domain.
var hospitals = []string{
	"Helse Bergen", "Helse Stavanger", "Oslo universitetssykehus", "St. Olavs hospital",
	"Universitetssykehuset Nord-Norge", "Sykehuset Innlandet", "Vestre Viken", "Sørlandet sykehus",
	"Akershus universitetssykehus", "Helse Møre og Romsdal",
}

// referrals weights the hospital of a contact outside the home trust:
// Oslo universitetssykehus has the national and regional functions.
var referrals = []choice{
	{"Oslo universitetssykehus", 0.35}, {"Helse Bergen", 0.1}, {"St. Olavs hospital", 0.1},
	{"Universitetssykehuset Nord-Norge", 0.06}, {"Akershus universitetssykehus", 0.08},
	{"Helse Stavanger", 0.07}, {"Vestre Viken", 0.07}, {"Sykehuset Innlandet", 0.06},
	{"Sørlandet sykehus", 0.06}, {"Helse Møre og Romsdal", 0.05},
}

// homeHospital is the health trust that serves a municipality. Counties
// whose own trust is not among the ten (Østfold, Vestfold, Telemark) are
// served by a neighbour.
func homeHospital(code string) string {
	switch code {
	case "3201", "3203", "3234", "3236": // Bærum, Asker, Lunner, Jevnaker
		return "Vestre Viken"
	}
	switch code[:2] {
	case "03":
		return "Oslo universitetssykehus"
	case "11":
		return "Helse Stavanger"
	case "15":
		return "Helse Møre og Romsdal"
	case "18", "55", "56":
		return "Universitetssykehuset Nord-Norge"
	case "31", "32":
		return "Akershus universitetssykehus"
	case "33", "39":
		return "Vestre Viken"
	case "34":
		return "Sykehuset Innlandet"
	case "40", "42":
		return "Sørlandet sykehus"
	case "46":
		return "Helse Bergen"
	case "50":
		return "St. Olavs hospital"
	}
	return "Oslo universitetssykehus"
}

// birthYearWeight is the relative size of a birth cohort among persons
// resident some time in 2010–2024: flat-ish up to 60 years old in 2024
// (fewer recent births, more young adults through immigration), then
// falling off with age.
func birthYearWeight(year int) float64 {
	age := float64(2024 - year)
	switch {
	case age < 10:
		return 0.85
	case age < 25:
		return 0.95
	case age < 45:
		return 1.05
	case age <= 60:
		return 1.0
	}
	d := age - 60
	return math.Exp(-d * d / 450)
}
