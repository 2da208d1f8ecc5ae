package engine

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/internal/testkit"
	"github.com/statgate/statgate/engine/result"
)

// TestTotalsAreConsistent runs totals queries through the whole pipeline
// with real noise and checks what package consist promises: every count
// a non-negative multiple of round_to inside its interval, and every
// margin the sum of its cells (exactly when none is suppressed, at least
// the released ones' otherwise), with no relation holding exactly one
// suppressed row. Distinct persons are additive in the population
// register (one group per person) and not in the patient registry, where
// the note says so.
func TestTotalsAreConsistent(t *testing.T) {
	// Repeats off: each of the runs below must draw fresh noise, not get
	// the first run's stored answer back.
	e := openEngine(t, func(o *Options) { o.NoRepeats = true })
	for _, tc := range []struct {
		desc       string
		sql        string
		additive   []string // count columns whose margins must add up
		notAdjusts string   // a column the notes must call not adjusted
	}{
		{
			desc:       "contacts by type and year",
			sql:        "SELECT contact_type, year(contact_date) AS year, count(*) AS contacts, count(DISTINCT pid) AS patients FROM npr GROUP BY 1, 2",
			additive:   []string{"contacts"},
			notAdjusts: "patients",
		},
		{
			desc:     "deaths by sex and year",
			sql:      "SELECT sex, year(death_date) AS year, count(*) AS deaths, count(DISTINCT pid) AS persons FROM population GROUP BY 1, 2",
			additive: []string{"deaths", "persons"},
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			// Which rows are suppressed is DP-chosen: on the small extract
			// a run can leave no relation free of suppressed rows, so a few
			// runs with fresh noise are asked, each checked in full, and
			// at least one must have a relation to add up.
			var res *result.Result
			checked := map[string]int{}
			for range 5 {
				var err error
				res, err = e.Query(t.Context(), ingrid, Request{Project: "diabetes-2026", SQL: tc.sql, Totals: true})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(res.Rows, func(r result.Row) bool { return r.Margin }) {
					t.Fatal("no margin rows")
				}
				unit := float64(max(res.Meta.RoundTo, 1))
				for _, name := range tc.additive {
					c := slices.IndexFunc(res.Columns, func(col result.Column) bool { return col.Name == name })
					checked[name] += checkConsistent(t, res, c, unit)
				}
			}
			for _, name := range tc.additive {
				if checked[name] == 0 {
					t.Errorf("%s: no relation without suppressed rows to check in 5 runs", name)
				}
			}
			notes := strings.Join(res.Meta.Notes, "\n")
			if !strings.Contains(notes, "no privacy cost") || !strings.Contains(notes, "margins of "+strings.Join(tc.additive, ", ")+" equal the sums of their cells") {
				t.Errorf("notes do not say how the table was made consistent:\n%s", notes)
			}
			if tc.notAdjusts != "" && !strings.Contains(notes, "margins of "+tc.notAdjusts+" are not adjusted") {
				t.Errorf("notes do not say that %s is not adjusted:\n%s", tc.notAdjusts, notes)
			}
		})
	}
}

// checkConsistent checks count column c of res (keys first): values,
// intervals and every relation between a row and the rows of a finer
// grouping set that agree with it.
func checkConsistent(t *testing.T, res *result.Result, c int, unit float64) (checked int) {
	t.Helper()
	nKeys := 0
	for _, col := range res.Columns {
		if col.Role == result.RoleKey {
			nKeys++
		}
	}
	for i, r := range res.Rows {
		cell := r.Cells[c]
		if cell.Suppressed {
			continue
		}
		v := cell.Value.(float64)
		if v < 0 || math.Mod(v, unit) != 0 || cell.CI == nil || cell.CI[0] > v || cell.CI[1] < v {
			t.Errorf("%s row %d: %v with interval %v is not a non-negative multiple of %g inside its interval", res.Columns[c].Name, i, v, cell.CI, unit)
		}
	}
	checked = 0
	for _, rl := range testkit.Relations(res, nKeys) {
		m := res.Rows[rl.Margin]
		suppressed, sum := rl.Tally(res, c)
		switch {
		case suppressed == 1:
			t.Errorf("%s: a relation of margin %v holds exactly one suppressed row", res.Columns[c].Name, m.Cells[:nKeys])
		case suppressed == 0:
			checked++
			if m.Cells[c].Value.(float64) != sum {
				t.Errorf("%s: margin %v is %v, its cells sum to %g", res.Columns[c].Name, m.Cells[:nKeys], m.Cells[c].Value, sum)
			}
		case !m.Cells[c].Suppressed && m.Cells[c].Value.(float64) < sum:
			t.Errorf("%s: margin %v is %v, below its released cells' %g", res.Columns[c].Name, m.Cells[:nKeys], m.Cells[c].Value, sum)
		}
	}
	return checked
}
