package consist

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/statgate/statgate/engine/protect"
	"github.com/statgate/statgate/engine/result"
)

// Why a table's margins are left as they are (layout.why).
const (
	whyNone                = ""
	whyPartitionSelection  = "partition_selection"
	whyNullKey             = "null_key"
	whyUnrecognisedLayout  = "unrecognised_layout"
	whyNoFinestGroupingSet = "no_finest_grouping_set"
)

// layout is the additive structure of a released table, read off its
// rows alone: the finest cells (rows with Margin false, the grouping set
// of all keys) and, for each margin row, the finest cells it is the sum
// of (those that agree with it on the keys it does not roll up).
//
// It is recognised only when the rows say unambiguously how they add up:
// every group of every grouping set is listed (public domains, no
// partition selection, so a margin counts no group that is missing from
// the table), the finest cells are the full cross product of their keys'
// values, and no key of a finest cell is NULL where a margin rolls keys
// up (a NULL key value and a rolled-up key are both nil in the released
// rows, so they could not be told apart). Every one of these conditions
// depends on the query and the public domains only, never on the data.
type layout struct {
	// base lists the row indexes of the finest cells.
	base []int
	// margins lists the margin rows with the base cells (indexes into base)
	// each one sums.
	margins []margin
	// hasMargins is true when the result has margin rows.
	hasMargins bool
	// why is whyNone when the margins can be made consistent, else why not
	// (only meaningful when hasMargins).
	why string
}

// margin is one margin row and the finest cells it sums.
type margin struct {
	row   int
	cells []int
}

// readLayout reads res's additive structure; keys are the indexes of its
// key columns.
func readLayout(res *result.Result, keys []int) *layout {
	l := &layout{}
	for i, row := range res.Rows {
		if row.Margin {
			l.hasMargins = true
			l.margins = append(l.margins, margin{row: i})
		} else {
			l.base = append(l.base, i)
		}
	}
	if !l.hasMargins {
		return l
	}
	switch {
	case res.Meta.Groups == protect.GroupsPartitionSelection:
		l.why = whyPartitionSelection
	case res.Meta.Groups != protect.GroupsPublicDomain:
		l.why = whyUnrecognisedLayout
	case len(l.base) == 0:
		l.why = whyNoFinestGroupingSet
	default:
		l.why = l.match(res, keys)
	}
	if l.why != whyNone {
		l.margins = nil
	}
	return l
}

// match fills the margins' cells, or says why the rows do not form a
// recognised table.
func (l *layout) match(res *result.Result, keys []int) string {
	nullable := make([]bool, len(keys))
	distinct := make([]map[string]bool, len(keys))
	for k := range distinct {
		distinct[k] = map[string]bool{}
	}
	seen := map[string]bool{}
	for _, i := range l.base {
		cells := res.Rows[i].Cells
		id := tupleID(cells, keys, nil)
		if seen[id] {
			return whyUnrecognisedLayout
		}
		seen[id] = true
		for k, c := range keys {
			if cells[c].Value == nil {
				nullable[k] = true
			}
			distinct[k][valueID(cells[c].Value)] = true
		}
	}
	// The finest cells must be the full cross product of their keys'
	// values, so that every margin sums all of the cells it covers.
	product := 1.0
	for _, d := range distinct {
		product *= float64(len(d))
	}
	if product != float64(len(l.base)) || math.IsInf(product, 0) {
		return whyUnrecognisedLayout
	}
	// Index the finest cells by the keys each margin pattern keeps.
	byPattern := map[string]map[string][]int{}
	seenMargin := map[string]bool{}
	for m := range l.margins {
		cells := res.Rows[l.margins[m].row].Cells
		kept := make([]bool, len(keys))
		rolled := false
		for k, c := range keys {
			kept[k] = cells[c].Value != nil
			if !kept[k] {
				rolled = true
				if nullable[k] {
					return whyNullKey
				}
			}
		}
		if !rolled {
			return whyUnrecognisedLayout
		}
		pat := patternID(kept)
		id := pat + "|" + tupleID(cells, keys, kept)
		if seenMargin[id] {
			return whyUnrecognisedLayout
		}
		seenMargin[id] = true
		idx, ok := byPattern[pat]
		if !ok {
			idx = map[string][]int{}
			for j, i := range l.base {
				t := tupleID(res.Rows[i].Cells, keys, kept)
				idx[t] = append(idx[t], j)
			}
			byPattern[pat] = idx
		}
		l.margins[m].cells = idx[tupleID(cells, keys, kept)]
		if len(l.margins[m].cells) == 0 {
			return whyUnrecognisedLayout
		}
	}
	return whyNone
}

// patternID names the set of kept keys.
func patternID(kept []bool) string {
	b := make([]byte, len(kept))
	for k, ok := range kept {
		b[k] = '0'
		if ok {
			b[k] = '1'
		}
	}
	return string(b)
}

// tupleID names the values of the key columns keys of cells, only those
// with kept[k] when kept is not nil.
func tupleID(cells []result.Cell, keys []int, kept []bool) string {
	var b strings.Builder
	for k, c := range keys {
		if kept != nil && !kept[k] {
			continue
		}
		v := valueID(cells[c].Value)
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
	}
	return b.String()
}

// valueID names one key value, its type included.
func valueID(v any) string {
	switch x := v.(type) {
	case nil:
		return "n"
	case string:
		return "s" + x
	case int64:
		return "i" + strconv.FormatInt(x, 10)
	case int:
		return "i" + strconv.Itoa(x)
	case float64:
		return "f" + strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return "b" + strconv.FormatBool(x)
	}
	return fmt.Sprintf("?%T:%v", v, v)
}
