package synth

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The generator is a sequence of DuckDB statements. Every random draw is
// u(stream, pid, ...): the seed, a stream number and the row's keys hashed
// twice and mapped to [0, 1). DuckDB's multi-argument hash() ends in an XOR
// with the last argument's hash, so two streams of the same person would
// be correlated; the outer hash() mixes that away. Draws depend neither on
// thread scheduling nor on row order, so every run builds the same sets of
// rows, and COPY ... ORDER BY over all columns makes the files identical.
//
// For speed the big tables carry small integer ids (diagnosis, drug,
// hospital, contact type, prescriber) and strings appear only when a file
// is written. Weighted choices by age band and sex are equi-joins on a
// bucket of the draw (choiceBuckets per group) rather than range joins.

const (
	windowStart = "DATE '2010-01-01'"
	windowEnd   = "DATE '2024-12-31'"
	// windowDays is the number of days from windowStart to windowEnd inclusive.
	windowDays = 5479
	// choiceBuckets is the resolution of the choice tables: a value's
	// share is rounded to a multiple of 1/choiceBuckets.
	choiceBuckets = 4096
)

// Kinds of contact as integers in SQL.
const (
	kindBackground = iota
	kindChronic
	kindAcute
	kindCancer
)

var kindIDs = map[kind]int{background: kindBackground, chronic: kindChronic, acute: kindAcute, cancer: kindCancer}

// Course classes as integers in SQL.
var classIDs = map[courseClass]int{maintenance: 1, oncology: 2, shortTerm: 3}

// codeBook numbers the distinct strings of one column from 1 (SQL lists
// are 1-based) so that tables can carry integers.
type codeBook struct {
	names []string
	ids   map[string]int
}

func (b *codeBook) add(names ...string) {
	if b.ids == nil {
		b.ids = map[string]int{}
	}
	for _, n := range names {
		if _, ok := b.ids[n]; !ok {
			b.names = append(b.names, n)
			b.ids[n] = len(b.names)
		}
	}
}

// id returns the id of a name the book holds.
func (b *codeBook) id(name string) int {
	id, ok := b.ids[name]
	if !ok {
		panic("synth: " + name + " is not in the code book")
	}
	return id
}

// list returns the names as a SQL list literal.
func (b *codeBook) list() string {
	q := make([]string, len(b.names))
	for i, n := range b.names {
		q[i] = quote(n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// The code books of the model.
var icdBook, atcBook, hospitalBook, contactTypeBook, prescriberBook = books()

func books() (icd, atc, hosp, ctype, presc *codeBook) {
	icd, atc, hosp, ctype, presc = &codeBook{}, &codeBook{}, &codeBook{}, &codeBook{}, &codeBook{}
	for _, d := range diagnoses {
		icd.add(d.code)
	}
	for _, c := range conditions {
		icd.add(c.code)
	}
	for _, w := range deathCauses {
		icd.add(w.value)
	}
	icd.add("I25", "I64", "W19")
	for _, c := range courses {
		for _, a := range c.atc {
			atc.add(a.value)
		}
	}
	for _, d := range backgroundDrugs {
		atc.add(d.value)
	}
	hosp.add(hospitals...)
	ctype.add("inpatient", "outpatient", "day")
	presc.add("gp", "specialist", "hospital", "dentist")
	return icd, atc, hosp, ctype, presc
}

// Contact types and prescribers by id, as SQL literals.
var (
	inpatient  = strconv.Itoa(contactTypeBook.id("inpatient"))
	outpatient = strconv.Itoa(contactTypeBook.id("outpatient"))
	dayCase    = strconv.Itoa(contactTypeBook.id("day"))
	gp         = strconv.Itoa(prescriberBook.id("gp"))
	specialist = strconv.Itoa(prescriberBook.id("specialist"))
	hospital   = strconv.Itoa(prescriberBook.id("hospital"))
	dentist    = strconv.Itoa(prescriberBook.id("dentist"))
)

// icd returns the SQL id literal of an ICD-10 code.
func icd(code string) string { return strconv.Itoa(icdBook.id(code)) }

// stage is a named group of statements; Progress reports its name.
type stage struct {
	name  string
	stmts []string
}

// stages returns the statements that build the output tables in an empty
// in-memory database.
func stages(persons int, seed uint64) []stage {
	return []stage{
		{"setup", setupSQL(seed)},
		{"population", populationSQL(persons)},
		{"conditions", conditionSQL()},
		{"deaths", deathSQL()},
		{"npr", nprSQL()},
		{"lmr", lmrSQL()},
		{"cancer", cancerSQL()},
	}
}

// setupSQL defines the macros and the lookup tables.
func setupSQL(seed uint64) []string {
	s := strconv.FormatUint(seed, 10) + "::UBIGINT"
	stmts := []string{
		"CREATE MACRO u(k, p) AS (hash(hash(" + s + ", k, p)) >> 11)::DOUBLE / 9007199254740992.0",
		"CREATE MACRO u3(k, p, a) AS (hash(hash(" + s + ", k, p, a)) >> 11)::DOUBLE / 9007199254740992.0",
		"CREATE MACRO u4(k, p, a, b) AS (hash(hash(" + s + ", k, p, a, b)) >> 11)::DOUBLE / 9007199254740992.0",
		"CREATE MACRO expo(x) AS -ln(1.0 - (x))",
		"CREATE MACRO logistic(x) AS 1.0 / (1.0 + exp(-(x)))",
		"CREATE MACRO ifloor(x) AS CAST(floor(x) AS INTEGER)",
		"CREATE MACRO band(age) AS CASE WHEN age < 18 THEN 0 WHEN age < 40 THEN 1 WHEN age < 65 THEN 2 WHEN age < 80 THEN 3 ELSE 4 END",
		fmt.Sprintf("CREATE MACRO ckey(band, sx, x) AS ((band) * 2 + (sx)) * %d + ifloor((x) * %d)", choiceBuckets, choiceBuckets),
		"CREATE MACRO icd_name(i) AS (" + icdBook.list() + ")[i]",
		"CREATE MACRO atc_name(i) AS (" + atcBook.list() + ")[i]",
		"CREATE MACRO hospital_name(i) AS (" + hospitalBook.list() + ")[i]",
		"CREATE MACRO contact_type_name(i) AS (" + contactTypeBook.list() + ")[i]",
		"CREATE MACRO prescriber_name(i) AS (" + prescriberBook.list() + ")[i]",
	}
	return append(stmts, lookupSQL()...)
}

// lookupSQL creates the small tables the generator samples from.
func lookupSQL() []string {
	var stmts []string

	weights := make([]float64, len(Municipalities))
	for i, m := range Municipalities {
		weights[i] = float64(m.Population)
	}
	var rows []string
	for i, lo := range cumulative(weights) {
		m := Municipalities[i]
		rows = append(rows, row(quote(m.Code), strconv.Itoa(hospitalBook.id(homeHospital(m.Code))), num(lo)))
	}
	stmts = append(stmts, table("muni(code VARCHAR, home INTEGER, lo DOUBLE)", rows))

	weights = nil
	for y := 1915; y <= 2024; y++ {
		weights = append(weights, birthYearWeight(y))
	}
	rows = nil
	for i, lo := range cumulative(weights) {
		rows = append(rows, row(strconv.Itoa(1915+i), num(lo)))
	}
	stmts = append(stmts, table("birth_years(birth_year INTEGER, lo DOUBLE)", rows))

	rows = nil
	var bg []weighted
	for _, d := range diagnoses {
		rows = append(rows, row(icd(d.code), strconv.Itoa(kindIDs[d.kind]), quote(d.subs), num(d.rate),
			strconv.Itoa(d.episodeDays), num(d.pInpatient), num(d.pDay), num(d.losMean)))
		if d.kind == background {
			bg = append(bg, weighted{d.code, d.bands, d.male, d.female})
		}
	}
	stmts = append(stmts, table("diag(dx INTEGER, kind INTEGER, subs VARCHAR, rate DOUBLE, episode_days INTEGER, p_inpatient DOUBLE, p_day DOUBLE, los_mean DOUBLE)", rows))
	stmts = append(stmts, choiceTable("choice_bgdx", bg, icdBook)...)
	stmts = append(stmts, choiceTable("choice_death", deathCauses, icdBook)...)

	rows = nil
	for _, s := range cancerSites {
		c := 0.0
		cum := make([]string, 4)
		for i, p := range s.stages {
			c += p
			cum[i] = num(c)
		}
		rows = append(rows, row(icd(s.code), cum[0], cum[1], cum[2], cum[3], num(s.lethality), num(s.noNPR)))
	}
	stmts = append(stmts, table("site(dx INTEGER, s1 DOUBLE, s2 DOUBLE, s3 DOUBLE, s4 DOUBLE, lethality DOUBLE, no_npr DOUBLE)", rows))

	rows = nil
	for i, sd := range stageDeath {
		rows = append(rows, row(quote(stageNames[i]), num(sd.p), num(sd.meanDays)))
	}
	stmts = append(stmts, table("stage_death(stage VARCHAR, p DOUBLE, mean_days DOUBLE)", rows))

	rows = nil
	drugs := make([]weighted, len(backgroundDrugs))
	for i, d := range backgroundDrugs {
		drugs[i] = d.weighted
		rows = append(rows, row(strconv.Itoa(atcBook.id(d.value)), num(d.dddLo), num(d.dddHi),
			num(d.pGP), num(d.pGP+d.pSpecialist), num(d.pGP+d.pSpecialist+d.pHospital)))
	}
	stmts = append(stmts, table("drug(atc_id INTEGER, ddd_lo DOUBLE, ddd_hi DOUBLE, c_gp DOUBLE, c_spec DOUBLE, c_hosp DOUBLE)", rows))
	stmts = append(stmts, choiceTable("choice_drug", drugs, atcBook)...)

	ids := make([]int, len(referrals))
	weights = make([]float64, len(referrals))
	for i, r := range referrals {
		ids[i] = hospitalBook.id(r.value)
		weights[i] = r.weight
	}
	return append(stmts, bucketTable("choice_referral", shareRows(0, ids, weights))...)
}

// stageNames are the cancer stages in the order of cancerSite.stages.
var stageNames = [5]string{"I", "II", "III", "IV", "unknown"}

// populationSQL draws every person's birth year, sex (sx 0 men, 1 women;
// women outnumber men among the old), municipality and birth date.
func populationSQL(persons int) []string {
	return []string{`
CREATE TABLE person AS
WITH t AS (
	SELECT i AS pid, u(1, i) AS ub, u(2, i) AS um FROM range(1, ` + strconv.Itoa(persons+1) + `) r(i)
), b AS (
	SELECT t.pid, t.um, y.birth_year FROM t ASOF JOIN birth_years y ON t.ub >= y.lo
), m AS (
	SELECT b.pid, b.birth_year, m.code AS municipality, m.home,
		make_date(b.birth_year, 1, 1) + ifloor(u(4, b.pid) * 365) AS birth_date
	FROM b ASOF JOIN muni m ON b.um >= m.lo
)
SELECT pid, birth_year,
	CASE WHEN u(3, pid) < 0.49 + least(0.13, greatest(0.0, (2024 - birth_year - 60) * 0.004)) THEN 1 ELSE 0 END AS sx,
	municipality, home, birth_date,
	greatest(` + windowStart + `, birth_date) AS obs_start,
	u(5, pid) < 0.015 AS heavy
FROM m`}
}

// conditionSQL gives persons their conditions: onset is the first contact
// in the window, first the earliest date the condition could be seen. A
// chronic condition that (by its age curve) was already present in 2010
// is prevalent: first seen in the window's first year, treated from its
// start.
func conditionSQL() []string {
	parts := make([]string, len(conditions))
	for i, c := range conditions {
		s := c.stream
		onset := fmt.Sprintf("s + ifloor(u(%d, pid) * (span + 1))", s+1)
		prevalent := "false"
		if c.kind == chronic {
			prevalent = fmt.Sprintf("u(%d, pid) * p24 < p10", s+2)
			onset = fmt.Sprintf("s + ifloor(u(%d, pid) * CASE WHEN %s THEN least(365, span + 1) ELSE span + 1 END)", s+1, prevalent)
		}
		minDays := c.minAge*365 + c.minAge/4
		parts[i] = fmt.Sprintf(`SELECT pid, %s AS dx, %s AS onset, s AS first, %s AS prevalent FROM (
	SELECT pid, s, %s - s AS span, %s AS p24, %s AS p10
	FROM (SELECT pid, sx, birth_year, greatest(obs_start, birth_date + %d) AS s FROM person)
	WHERE s <= %s
) WHERE u(%d, pid) < p24`,
			icd(c.code), onset, prevalent, windowEnd, c.prev("(2024 - birth_year)"), c.prev("(2010 - birth_year)"),
			minDays, windowEnd, s)
	}
	return []string{
		"CREATE TABLE cond0 AS\n" + strings.Join(parts, "\nUNION ALL\n"),
		`CREATE TABLE cancer0 AS
SELECT c.pid, c.dx, c.onset,
	CASE WHEN c.x < s.s1 THEN 'I' WHEN c.x < s.s2 THEN 'II' WHEN c.x < s.s3 THEN 'III' WHEN c.x < s.s4 THEN 'IV' ELSE 'unknown' END AS stage,
	s.lethality
FROM (SELECT *, u3(300, pid, dx) AS x FROM cond0) c JOIN site s USING (dx)`,
		`CREATE TABLE flags AS
SELECT pid, bool_or(dx = ` + icd("E11") + `) AS e11, bool_or(dx = ` + icd("I21") + `) AS i21, bool_or(dx = ` + icd("I48") + `) AS i48
FROM cond0 GROUP BY pid`,
	}
}

// deathSQL decides who dies in the window, when and of what. The earliest
// of these wins: a Gompertz baseline (hazard exp(-10.3 + 0.092·age),
// higher for men, diabetics and atrial fibrillation), a fatal cancer
// (likelier at stage IV), death within 30 days of an infarction or 90 days
// of a hip fracture. Conditions first seen after death are dropped.
func deathSQL() []string {
	return []string{`
CREATE TABLE death AS
WITH base AS (
	SELECT p.pid, p.obs_start, (p.obs_start - p.birth_date) / 365.25 AS age0,
		CASE WHEN p.sx = 0 THEN 1.45 ELSE 1.0 END
		* CASE WHEN f.e11 THEN 1.4 ELSE 1.0 END
		* CASE WHEN f.i48 THEN 1.3 ELSE 1.0 END AS mult
	FROM person p LEFT JOIN flags f USING (pid)
), cand AS (
	SELECT pid, obs_start + ifloor(365.25 * ln(1 + expo(u(400, pid)) * 0.092 / (exp(-10.3) * mult * exp(0.092 * age0))) / 0.092) AS d,
		3 AS prio, NULL::INTEGER AS cause
	FROM base
	UNION ALL
	SELECT c.pid, c.onset + ifloor(expo(u3(410, c.pid, c.dx)) * sd.mean_days), 1, c.dx
	FROM cancer0 c JOIN stage_death sd USING (stage)
	WHERE u3(411, c.pid, c.dx) < least(0.95, sd.p * c.lethality)
	UNION ALL
	SELECT pid, onset + ifloor(u(420, pid) * 30), 2, ` + icd("I21") + ` FROM cond0 WHERE dx = ` + icd("I21") + ` AND u(421, pid) < 0.08
	UNION ALL
	SELECT pid, onset + ifloor(u(430, pid) * 90), 2, ` + icd("W19") + ` FROM cond0 WHERE dx = ` + icd("S72") + ` AND u(431, pid) < 0.06
)
SELECT pid, d AS death_date, cause FROM cand WHERE d <= ` + windowEnd + `
QUALIFY row_number() OVER (PARTITION BY pid ORDER BY d, prio, cause) = 1`,
		`
CREATE TABLE death_cause AS
WITH d AS (
	SELECT d.pid, d.death_date, d.cause, p.sx, band(year(d.death_date) - p.birth_year) AS band,
		coalesce(f.e11, false) AS e11, coalesce(f.i21, false) AS i21, coalesce(f.i48, false) AS i48,
		u(440, d.pid) AS x, u(441, d.pid) AS y
	FROM death d JOIN person p USING (pid) LEFT JOIN flags f USING (pid)
)
SELECT d.pid, d.death_date, CASE
		WHEN d.cause IS NOT NULL THEN d.cause
		WHEN d.e11 AND d.x < 0.15 THEN ` + icd("E11") + `
		WHEN d.i21 AND d.x < 0.35 THEN ` + icd("I25") + `
		WHEN d.i48 AND d.x < 0.45 THEN ` + icd("I64") + `
		ELSE c.value END AS cause
FROM d JOIN choice_death c ON c.key = ckey(d.band, d.sx, d.y)`,
		`
CREATE TABLE pop AS
SELECT p.*, d.death_date, coalesce(d.death_date, ` + windowEnd + `) AS stop
FROM person p LEFT JOIN death d USING (pid)`,
		`
CREATE TABLE cond AS
SELECT c.*, p.stop, p.death_date, p.sx, p.birth_year, p.home
FROM cond0 c JOIN pop p USING (pid)
WHERE c.onset <= p.stop`,
	}
}

// nprSQL builds the hospital contacts: follow-up of chronic conditions
// over the rest of the window (or an episode), an admission and
// follow-ups within a year for acute events, a two-year treatment phase
// for cancers, and background contacts whose number grows with age (1.5%
// of persons are heavy users).
func nprSQL() []string {
	return []string{`
CREATE TABLE contact AS
WITH inst AS (
	SELECT c.pid, c.dx AS k, c.dx, g.kind, c.onset, c.death_date, c.sx, c.birth_year, c.home,
		CASE g.kind
			WHEN ` + strconv.Itoa(kindChronic) + ` THEN least(60, 1 + ifloor(
				(CASE WHEN g.episode_days > 0 THEN least(g.episode_days, c.stop - c.onset) ELSE c.stop - c.onset END)
				/ 365.25 * g.rate * (0.4 + 1.2 * u3(600, c.pid, c.dx))))
			WHEN ` + strconv.Itoa(kindAcute) + ` THEN 1 + ifloor(u3(600, c.pid, c.dx) * 4)
			ELSE CASE WHEN u3(601, c.pid, c.dx) < s.no_npr THEN 0 ELSE 2 + ifloor(u3(600, c.pid, c.dx) * 10) END
		END AS n,
		CASE g.kind
			WHEN ` + strconv.Itoa(kindChronic) + ` THEN CASE WHEN g.episode_days > 0 THEN least(g.episode_days, c.stop - c.onset) ELSE c.stop - c.onset END
			WHEN ` + strconv.Itoa(kindAcute) + ` THEN least(365, c.stop - c.onset)
			ELSE least(730, c.stop - c.onset)
		END AS span
	FROM cond c JOIN diag g USING (dx) LEFT JOIN site s USING (dx)
), bg AS (
	SELECT pid, 0 AS k, NULL::INTEGER AS dx, ` + strconv.Itoa(kindBackground) + ` AS kind, obs_start AS onset, death_date, sx, birth_year, home,
		ifloor(expo(u(610, pid)) * (0.6 + 0.045 * greatest(0, 2017 - birth_year)) * (stop - obs_start + 1) / ` + strconv.Itoa(windowDays) + `.0
			* CASE WHEN heavy THEN 10 ELSE 1 END) AS n,
		stop - obs_start AS span
	FROM pop
), ev AS (
	SELECT * EXCLUDE (n), unnest(range(n)) AS i
	FROM (SELECT * FROM inst UNION ALL SELECT * FROM bg)
	WHERE n > 0
)
SELECT pid, k, dx, kind, i, death_date, sx, birth_year, home,
	CASE WHEN kind <> ` + strconv.Itoa(kindBackground) + ` AND i = 0 THEN onset ELSE onset + ifloor(u4(620, pid, k, i) * (span + 1)) END AS contact_date
FROM ev`,
		`
CREATE TABLE npr AS
WITH c AS (
	SELECT c.* EXCLUDE (dx), coalesce(c.dx, ch.value) AS dx
	FROM contact c JOIN choice_bgdx ch ON ch.key = ckey(band(year(c.contact_date) - c.birth_year), c.sx, u4(630, c.pid, c.k, c.i))
), t AS (
	SELECT c.pid, c.contact_date, c.dx, c.kind, c.i, c.death_date, c.home, g.subs, g.los_mean, g.p_inpatient, g.p_day,
		u4(640, c.pid, c.k, c.i) AS x_type, u4(641, c.pid, c.k, c.i) AS x_sub, u4(642, c.pid, c.k, c.i) AS x_sub2,
		u4(643, c.pid, c.k, c.i) AS x_los, u4(644, c.pid, c.k, c.i) AS x_tail, u4(645, c.pid, c.k, c.i) AS x_hosp,
		u4(646, c.pid, c.k, c.i) AS x_ref
	FROM c JOIN diag g USING (dx)
), t2 AS (
	SELECT *, CASE
		WHEN kind = ` + strconv.Itoa(kindBackground) + ` OR i = 0 THEN CASE
			WHEN x_type < p_inpatient THEN ` + inpatient + `
			WHEN x_type < p_inpatient + p_day THEN ` + dayCase + `
			ELSE ` + outpatient + ` END
		WHEN kind = ` + strconv.Itoa(kindCancer) + ` THEN CASE
			WHEN x_type < 0.15 THEN ` + inpatient + `
			WHEN x_type < 0.65 THEN ` + dayCase + `
			ELSE ` + outpatient + ` END
		ELSE CASE
			WHEN x_type < 0.07 THEN ` + inpatient + `
			WHEN x_type < 0.15 THEN ` + dayCase + `
			ELSE ` + outpatient + ` END
		END AS contact_type_id
	FROM t
)
SELECT t2.pid, t2.contact_date, t2.dx,
	CASE WHEN t2.subs <> '' AND t2.x_sub < 0.65
		THEN substr(t2.subs, 1 + ifloor(t2.x_sub2 * length(t2.subs)), 1) END AS sub,
	t2.contact_type_id,
	CASE WHEN t2.x_hosp < (CASE WHEN t2.kind = ` + strconv.Itoa(kindCancer) + ` THEN 0.7 ELSE 0.85 END) THEN t2.home ELSE r.value END AS hospital_id,
	CAST(CASE WHEN t2.contact_type_id <> ` + inpatient + ` THEN 0
		ELSE least(
			CASE WHEN t2.death_date IS NULL THEN 365 ELSE greatest(1, t2.death_date - t2.contact_date) END,
			1 + ifloor(expo(t2.x_los) * t2.los_mean * CASE WHEN t2.x_tail < 0.03 THEN 5 ELSE 1 END))
		END AS INTEGER) AS los
FROM t2 JOIN choice_referral r ON r.key = ifloor(t2.x_ref * ` + strconv.Itoa(choiceBuckets) + `)`,
	}
}

// lmrSQL builds the dispensings: drug courses started by diagnoses or by
// age and sex, dispensed every 60–180 days while they last, and one-off
// background dispensings whose number grows with age.
func lmrSQL() []string {
	parts := make([]string, len(courses))
	for i, c := range courses {
		s := c.stream
		var src string
		if len(c.from) > 0 {
			ids := make([]string, len(c.from))
			for j, code := range c.from {
				ids[j] = icd(code)
			}
			src = fmt.Sprintf("SELECT pid, dx AS k, onset, first, prevalent, stop FROM cond WHERE dx IN (%s) AND u3(%d, pid, dx) < %s",
				strings.Join(ids, ", "), s, num(c.p))
		} else {
			sex := ""
			if c.sex != "" {
				sex = fmt.Sprintf(" AND sx = %d", map[string]int{"M": 0, "F": 1}[c.sex])
			}
			src = fmt.Sprintf(`SELECT pid, 0 AS k, onset, onset AS first, false AS prevalent, stop FROM (
		SELECT pid, greatest(obs_start, birth_date + %d) AS onset, least(stop, birth_date + %d) AS stop
		FROM pop WHERE u3(%d, pid, 0) < %s%s)`,
				c.ageFrom*365+c.ageFrom/4, c.ageTo*365+c.ageTo/4, s, num(c.p), sex)
		}
		start := fmt.Sprintf("CASE WHEN prevalent THEN first + ifloor(u3(%d, pid, k) * 30) ELSE onset + ifloor(u3(%d, pid, k) * %d) END",
			s+2, s+2, c.delayDays+1)
		if c.anywhere {
			start = fmt.Sprintf("onset + ifloor(u3(%d, pid, k) * (stop - onset + 1))", s+2)
		}
		atcs := make([]choice, len(c.atc))
		for j, a := range c.atc {
			atcs[j] = choice{strconv.Itoa(atcBook.id(a.value)), a.weight}
		}
		parts[i] = fmt.Sprintf(`SELECT pid, %d * 100 + k AS ck, %s AS atc_id, start_c,
	CASE WHEN u3(%d, pid, k) < %s THEN stop ELSE least(stop, start_c + %d + ifloor(u3(%d, pid, k) * %d)) END AS stop_c,
	%s AS ivl, %d AS class
FROM (SELECT pid, k, stop, %s AS start_c FROM (%s) WHERE onset <= stop)
WHERE start_c <= stop`,
			s, caseChoice(fmt.Sprintf("u3(%d, pid, k)", s+1), atcs), s+3, num(c.persist),
			c.minDays, s+4, c.maxDays-c.minDays+1, caseChoice(fmt.Sprintf("u3(%d, pid, k)", s+5), c.intervals),
			classIDs[c.class], start, src)
	}
	return []string{
		"CREATE TABLE course AS\n" + strings.Join(parts, "\nUNION ALL\n"),
		`
CREATE TABLE lmr AS
WITH e AS (
	SELECT pid, ck, atc_id, start_c, stop_c, ivl, class, unnest(range(least(200, 1 + (stop_c - start_c) // ivl))) AS i
	FROM course
), e2 AS (
	SELECT *, u4(700, pid, ck, i) AS x_day, u4(701, pid, ck, i) AS x_big, u4(702, pid, ck, i) AS x_ddd, u4(703, pid, ck, i) AS x
	FROM e
), chronic AS (
	SELECT pid,
		CASE WHEN i = 0 THEN start_c ELSE least(stop_c, start_c + CAST(i * ivl AS INTEGER) + ifloor(x_day * 15) - 7) END AS dispensed_date,
		atc_id,
		CASE WHEN x_big < 0.001 THEN round(365 + x_ddd * 365, 1) ELSE round(ivl * (0.85 + 0.3 * x_ddd), 1) END AS ddd,
		CASE class
			WHEN ` + strconv.Itoa(classIDs[oncology]) + ` THEN CASE WHEN x < 0.55 THEN ` + specialist + ` ELSE ` + hospital + ` END
			WHEN ` + strconv.Itoa(classIDs[shortTerm]) + ` THEN CASE WHEN x < 0.7 THEN ` + gp + ` WHEN x < 0.9 THEN ` + hospital + ` ELSE ` + specialist + ` END
			ELSE CASE WHEN i = 0
				THEN CASE WHEN x < 0.45 THEN ` + gp + ` WHEN x < 0.8 THEN ` + specialist + ` ELSE ` + hospital + ` END
				ELSE CASE WHEN x < 0.85 THEN ` + gp + ` WHEN x < 0.95 THEN ` + specialist + ` ELSE ` + hospital + ` END
			END
		END AS prescriber_id
	FROM e2
), bg AS (
	SELECT pid, sx, birth_year, obs_start, stop, unnest(range(n)) AS i
	FROM (
		SELECT *, ifloor(expo(u(800, pid)) * (1.0 + 0.06 * greatest(0, 2017 - birth_year)) * (stop - obs_start + 1) / ` + strconv.Itoa(windowDays) + `.0
			* CASE WHEN heavy THEN 4 ELSE 1 END) AS n
		FROM pop
	) WHERE n > 0
), bg2 AS (
	SELECT pid, sx, i, d AS dispensed_date, band(year(d) - birth_year) AS band,
		u4(811, pid, 0, i) AS x_drug, u4(812, pid, 0, i) AS x_ddd, u4(813, pid, 0, i) AS x
	FROM (SELECT *, obs_start + ifloor(u4(810, pid, 0, i) * (stop - obs_start + 1)) AS d FROM bg)
), bg3 AS (
	SELECT b.pid, b.dispensed_date, ch.value AS atc_id, round(d.ddd_lo + b.x_ddd * (d.ddd_hi - d.ddd_lo), 1) AS ddd,
		CASE WHEN b.x < d.c_gp THEN ` + gp + `
			WHEN b.x < d.c_spec THEN ` + specialist + `
			WHEN b.x < d.c_hosp THEN ` + hospital + `
			ELSE ` + dentist + ` END AS prescriber_id
	FROM bg2 b JOIN choice_drug ch ON ch.key = ckey(b.band, b.sx, b.x_drug)
	JOIN drug d ON d.atc_id = ch.value
)
SELECT * FROM chronic UNION ALL SELECT * FROM bg3`,
	}
}

// cancerSQL writes one cancer registry row per cancer case, dated up to
// three weeks before the first hospital contact (the pathology report).
func cancerSQL() []string {
	return []string{`
CREATE TABLE cancer AS
SELECT c.pid, greatest(p.obs_start, c.onset - ifloor(u3(900, c.pid, c.dx) * 21)) AS diagnosis_date, c.dx, c.stage
FROM cancer0 c JOIN cond k USING (pid, dx) JOIN pop p USING (pid)`}
}

// outputs are the files Generate writes: the table, the SELECT that gives
// its exact columns and types, and a total order of its rows (on the
// integer ids, which sort faster than the strings they stand for).
var outputs = []struct {
	name, query, order string
}{
	{"population", `SELECT pid::BIGINT AS pid, birth_year::INTEGER AS birth_year,
	CASE WHEN sx = 1 THEN 'F' ELSE 'M' END AS sex, municipality::VARCHAR AS municipality, death_date::DATE AS death_date
FROM pop`,
		"pid"},
	{"npr", `SELECT pid::BIGINT AS pid, contact_date::DATE AS contact_date,
	CASE WHEN sub IS NULL THEN icd_name(dx) ELSE icd_name(dx) || '.' || sub END AS icd10,
	contact_type_name(contact_type_id) AS contact_type, hospital_name(hospital_id) AS hospital,
	los::INTEGER AS length_of_stay_days
FROM npr`,
		"pid, contact_date, dx, sub, contact_type_id, hospital_id, los"},
	{"lmr", `SELECT pid::BIGINT AS pid, dispensed_date::DATE AS dispensed_date, atc_name(atc_id) AS atc,
	ddd::DOUBLE AS ddd, prescriber_name(prescriber_id) AS prescriber_type
FROM lmr`,
		"pid, dispensed_date, atc_id, ddd, prescriber_id"},
	{"cancer", `SELECT pid::BIGINT AS pid, diagnosis_date::DATE AS diagnosis_date, icd_name(dx) AS icd10, stage::VARCHAR AS stage
FROM cancer`,
		"pid, diagnosis_date, dx, stage"},
	{"death_causes", `SELECT pid::BIGINT AS pid, death_date::DATE AS death_date, icd_name(cause) AS underlying_cause
FROM death_cause`,
		"pid"},
}

// choiceTable creates name(key, value): for each age band and sex
// (key = (band*2 + sx)*choiceBuckets + bucket), the id in book of the
// value drawn when the uniform draw falls in the bucket, in proportion to
// the values' weights.
func choiceTable(name string, ws []weighted, book *codeBook) []string {
	var rows []string
	for b := 0; b < nBands; b++ {
		for sx := 0; sx < 2; sx++ {
			var ids []int
			var weights []float64
			for _, w := range ws {
				f := w.male
				if sx == 1 {
					f = w.female
				}
				if x := w.bands[b] * f; x > 0 {
					ids = append(ids, book.id(w.value))
					weights = append(weights, x)
				}
			}
			rows = append(rows, shareRows(b*2+sx, ids, weights)...)
		}
	}
	return bucketTable(name, rows)
}

// shareRows returns the (grp, lo, value) rows of one group of a choice
// table: the lower end of each value's share of [0, 1).
func shareRows(group int, ids []int, weights []float64) []string {
	rows := make([]string, len(ids))
	for i, lo := range cumulative(weights) {
		rows[i] = row(strconv.Itoa(group), num(lo), strconv.Itoa(ids[i]))
	}
	return rows
}

// bucketTable creates name(key, value) from (grp, lo, value) share rows:
// bucket b of group g (key g*choiceBuckets + b) goes to the value whose
// share holds the bucket's midpoint.
func bucketTable(name string, shares []string) []string {
	return []string{
		table(name+"_share(grp INTEGER, lo DOUBLE, value INTEGER)", shares),
		fmt.Sprintf(`CREATE TABLE %[1]s AS
SELECT b.grp * %[2]d + b.b AS key, s.value
FROM (SELECT g.grp, r.b, (r.b + 0.5) / %[2]d AS mid FROM (SELECT DISTINCT grp FROM %[1]s_share) g, range(%[2]d) r(b)) b
ASOF JOIN %[1]s_share s ON b.grp = s.grp AND b.mid >= s.lo`, name, choiceBuckets),
	}
}

// caseChoice returns a SQL CASE that maps the uniform draw x to one of
// the choices (SQL literals) in proportion to their weights.
func caseChoice(x string, cs []choice) string {
	if len(cs) == 1 {
		return cs[0].value
	}
	total := 0.0
	for _, c := range cs {
		total += c.weight
	}
	var b strings.Builder
	b.WriteString("CASE")
	acc := 0.0
	for _, c := range cs[:len(cs)-1] {
		acc += c.weight
		fmt.Fprintf(&b, " WHEN %s < %s THEN %s", x, num(acc/total), c.value)
	}
	fmt.Fprintf(&b, " ELSE %s END", cs[len(cs)-1].value)
	return b.String()
}

// cumulative returns, for each weight, the lower end of its share of [0, 1).
func cumulative(weights []float64) []float64 {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	los := make([]float64, len(weights))
	acc := 0.0
	for i, w := range weights {
		los[i] = acc / total
		acc += w
	}
	return los
}

// table returns a CREATE TABLE ... AS of the given VALUES rows; decl is
// "name(col TYPE, ...)".
func table(decl string, rows []string) string {
	name, cols, _ := strings.Cut(decl, "(")
	cols = strings.TrimSuffix(cols, ")")
	var names, casts []string
	for _, col := range strings.Split(cols, ",") {
		f := strings.Fields(col)
		names = append(names, f[0])
		casts = append(casts, f[0]+"::"+f[1]+" AS "+f[0])
	}
	return fmt.Sprintf("CREATE TABLE %s AS SELECT %s FROM (VALUES %s) v(%s)",
		name, strings.Join(casts, ", "), strings.Join(rows, ", "), strings.Join(names, ", "))
}

func row(vals ...string) string { return "(" + strings.Join(vals, ", ") + ")" }

// quote returns s as a SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// num returns f as a SQL DOUBLE literal that reads back exactly.
func num(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		panic("synth: non-finite constant in the model")
	}
	return strconv.FormatFloat(f, 'g', -1, 64) + "::DOUBLE"
}
