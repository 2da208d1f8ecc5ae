// Package catalog is the data map: what researchers may know about the
// datasets before asking anything — titles, descriptions, columns with
// their types, code systems, bounds and public domains, the bounding and ε
// rules, and approximate sizes. It is built from the policy and the row
// counts of the loaded extracts and never reveals an exact size.
package catalog

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/statgate/statgate/policies"
)

// MaxListedValues is the largest public domain whose values the data map
// lists; larger domains are summarised by their size (and code list).
const MaxListedValues = 20

// Dataset is one dataset of the data map, in wire form.
type Dataset struct {
	Name            string `json:"name"`
	Title           string `json:"title"`
	Description     string `json:"description,omitempty"`
	PersonKey       string `json:"person_key"`
	OneRowPerPerson bool   `json:"one_row_per_person"`
	// Size says how many rows there are in words: "about 12,000", "fewer
	// than 1,000", or "unknown" when the extract's size is not known.
	Size string `json:"size"`
	// ApproxRows is the row count rounded to two significant figures; 0
	// when there are fewer than 1,000 rows or the size is unknown.
	ApproxRows int64 `json:"approx_rows"`
	// LastDelivery is when the dataset's last load or delivery was
	// written (a public, operational fact); nil when not known.
	LastDelivery *time.Time `json:"last_delivery,omitempty"`
	// DataUpTo is the month the data reach ("2026-11"): the period the
	// deliveries declared, else the end of the date column's public years
	// (see engine/delivery.DataUpTo); empty when neither is known.
	DataUpTo string   `json:"data_up_to,omitempty"`
	Bounding Bounding `json:"bounding"`
	Columns  []Column `json:"columns"`
	// Hits is the number of search matches (Search only).
	Hits int `json:"hits,omitempty"`
	// Matches say which fields the search words matched (Search only).
	Matches []Match `json:"matches,omitempty"`
}

// Bounding is how the dataset's contributions are bounded and what one
// query may spend on it.
type Bounding struct {
	MaxGroupsPerPerson       int     `json:"max_groups_per_person"`
	MaxRowsPerPersonPerGroup int     `json:"max_rows_per_person_per_group"`
	MinCellCount             int     `json:"min_cell_count"`
	RoundTo                  int     `json:"round_to"`
	Epsilon                  Epsilon `json:"epsilon_per_query"`
	DeltaPerQuery            float64 `json:"delta_per_query"`
	Noise                    string  `json:"noise"`
}

// Epsilon is the default and maximum ε of one query.
type Epsilon struct {
	Default float64 `json:"default"`
	Max     float64 `json:"max"`
}

// Column is one column of a dataset, in wire form.
type Column struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	CodeSystem  string `json:"code_system,omitempty"`
	// PersonKey marks the dataset's person key.
	PersonKey bool `json:"person_key,omitempty"`
	// Bounds are the clamping bounds of a numeric column; numeric
	// aggregates are refused over a numeric column without them.
	Bounds *[2]float64 `json:"bounds,omitempty"`
	// PublicDomain summarises the values the column (or, for a date, its
	// year) may take; nil when none is declared.
	PublicDomain *Domain `json:"public_domain,omitempty"`
	// PrefixDomains summarise the public domains of the column's first n
	// characters, by increasing n.
	PrefixDomains []PrefixDomain `json:"prefix_domains,omitempty"`
	// Matched marks a column that matched a search.
	Matched bool `json:"matched,omitempty"`
}

// Domain summarises a public domain.
type Domain struct {
	// Kind is "values" (a list in the policy), "code_list", "range"
	// (integers lo..hi) or "years" (of a date column).
	Kind string `json:"kind"`
	// Values lists the values when there are at most MaxListedValues.
	Values []string `json:"values,omitempty"`
	// CodeList names the code list the values come from.
	CodeList string `json:"code_list,omitempty"`
	// Count is the number of values.
	Count int `json:"count"`
	// Range is [lo, hi] of a range or years domain.
	Range *[2]int `json:"range,omitempty"`
	// Summary says it in words, e.g. "M, F", "kommunenummer (357 codes)",
	// "1915–2024", "years 2010–2024".
	Summary string `json:"summary"`
}

// PrefixDomain is the public domain of a column's first Length characters.
type PrefixDomain struct {
	Length int `json:"length"`
	Domain
}

// Catalog is the data map of one policy. It is immutable after New and
// safe for concurrent use.
type Catalog struct {
	datasets  []Dataset     // by name
	index     []searchIndex // same order
	codeLists []CodeList    // by name
}

// New builds the data map of a policy. sizes are the exact row counts of
// the loaded datasets (nil or missing: unknown); only rounded sizes are
// kept.
func New(p *policies.Policy, sizes map[string]int64) *Catalog {
	names := make([]string, 0, len(p.Datasets))
	for n := range p.Datasets {
		names = append(names, n)
	}
	sort.Strings(names)
	c := &Catalog{codeLists: buildCodeLists(p)}
	for _, n := range names {
		ds := p.Datasets[n]
		rows, known := sizes[n]
		c.datasets = append(c.datasets, wireDataset(ds, rows, known))
		c.index = append(c.index, indexDataset(p, ds))
	}
	return c
}

// SetFreshness records a dataset's last delivery time and "data up to"
// month. Call it before the catalog is shared (it is not synchronised).
func (c *Catalog) SetFreshness(name string, last time.Time, upTo string) {
	for i := range c.datasets {
		if c.datasets[i].Name == name {
			if !last.IsZero() {
				t := last.UTC().Truncate(time.Second)
				c.datasets[i].LastDelivery = &t
			}
			c.datasets[i].DataUpTo = upTo
		}
	}
}

// Datasets returns every dataset, sorted by name. The result is the
// caller's; the domain value lists in it are shared and must not be modified.
func (c *Catalog) Datasets() []Dataset {
	out := make([]Dataset, len(c.datasets))
	for i, d := range c.datasets {
		out[i] = d.clone()
	}
	return out
}

// Dataset returns one dataset by name, matched exactly, else ignoring case.
func (c *Catalog) Dataset(name string) (Dataset, bool) {
	for _, d := range c.datasets {
		if d.Name == name {
			return d.clone(), true
		}
	}
	for _, d := range c.datasets {
		if strings.EqualFold(d.Name, name) {
			return d.clone(), true
		}
	}
	return Dataset{}, false
}

// clone copies the dataset's column slice so callers may mark columns.
func (d Dataset) clone() Dataset {
	d.Columns = slices.Clone(d.Columns)
	return d
}

// wireDataset converts a policy dataset; rows is its exact size when known.
func wireDataset(ds *policies.Dataset, rows int64, known bool) Dataset {
	d := Dataset{
		Name:            ds.Name,
		Title:           ds.Title,
		Description:     ds.Description,
		PersonKey:       ds.PersonKey,
		OneRowPerPerson: ds.OneRowPerPerson,
		Size:            "unknown",
		Bounding: Bounding{
			MaxGroupsPerPerson:       ds.MaxGroupsPerPerson,
			MaxRowsPerPersonPerGroup: ds.MaxRowsPerPersonPerGroup,
			MinCellCount:             ds.MinCellCount,
			RoundTo:                  ds.RoundTo,
			Epsilon:                  Epsilon{Default: ds.Epsilon.Default, Max: ds.Epsilon.Max},
			DeltaPerQuery:            ds.DeltaPerQuery,
			Noise:                    ds.Noise,
		},
	}
	if known && rows >= 0 {
		d.ApproxRows, d.Size = Approx(rows)
	}
	for _, c := range ds.Columns {
		d.Columns = append(d.Columns, wireColumn(ds, c))
	}
	return d
}

func wireColumn(ds *policies.Dataset, c *policies.Column) Column {
	w := Column{
		Name:        c.Name,
		Type:        string(c.Type),
		Description: c.Description,
		CodeSystem:  c.CodeSystem,
		PersonKey:   c.Name == ds.PersonKey,
	}
	if c.Bounds != nil {
		b := *c.Bounds
		w.Bounds = &b
	}
	switch {
	case c.Domain != nil:
		dom := summarise(c.Domain)
		w.PublicDomain = &dom
	case c.Years != nil:
		y := *c.Years
		w.PublicDomain = &Domain{Kind: "years", Count: y[1] - y[0] + 1, Range: &y,
			Summary: fmt.Sprintf("years %d–%d", y[0], y[1])}
	}
	lengths := make([]int, 0, len(c.PrefixDomains))
	for n := range c.PrefixDomains {
		lengths = append(lengths, n)
	}
	sort.Ints(lengths)
	for _, n := range lengths {
		w.PrefixDomains = append(w.PrefixDomains, PrefixDomain{Length: n, Domain: summarise(c.PrefixDomains[n])})
	}
	return w
}

// summarise describes a policy domain: its values when few, else its
// size and code list.
func summarise(d *policies.Domain) Domain {
	if d.Range != nil {
		r := *d.Range
		return Domain{Kind: "range", Count: d.Size(), Range: &r, Summary: fmt.Sprintf("%d–%d", r[0], r[1])}
	}
	out := Domain{Kind: "values", CodeList: d.CodeList, Count: len(d.Values)}
	if d.CodeList != "" {
		out.Kind = "code_list"
	}
	if len(d.Values) <= MaxListedValues {
		out.Values = d.Values
	}
	switch {
	case d.CodeList != "":
		out.Summary = fmt.Sprintf("%s (%s codes)", d.CodeList, thousands(int64(len(d.Values))))
	case out.Values != nil:
		out.Summary = strings.Join(d.Values, ", ")
	default:
		out.Summary = thousands(int64(len(d.Values))) + " values"
	}
	return out
}

// Approx rounds an exact row count for the data map: to two significant
// figures with its wording ("about 12,000"), and 0 with "fewer than
// 1,000" below 1,000 rows, so that no small exact size is ever shown.
func Approx(rows int64) (approx int64, size string) {
	if rows < 1000 {
		return 0, "fewer than 1,000"
	}
	mag := int64(1)
	for rows/mag >= 100 {
		mag *= 10
	}
	approx = (rows + mag/2) / mag * mag
	return approx, "about " + thousands(approx)
}

// thousands formats n ≥ 0 with comma thousands separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
