package policies

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

var (
	datasetFields = []string{"title", "description", "source", "person_key", "one_row_per_person",
		"max_groups_per_person", "max_rows_per_person_per_group", "min_cell_count", "round_to",
		"epsilon_per_query", "delta_per_query", "noise", "columns", "role", "birth_year_column", "date_column", "lifetime_budget"}
	columnFields = []string{"type", "description", "code_system", "bounds", "domain", "years", "prefix_domains"}
	columnTypes  = []ColumnType{TypeID, TypeDate, TypeCode, TypeCategory, TypeString, TypeInteger, TypeNumber}
	noises       = []string{"laplace", "gaussian", "auto"}
)

// resolve makes a path from the policy file absolute.
func (d *decoder) resolve(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(d.dir, p)
}

// codeLists decodes code_lists: each an inline list of codes or {file: codes.csv}.
func (d *decoder) codeLists(n *yaml.Node) error {
	es, err := d.entries(n, "code_lists", "code list", nameRe, false)
	if err != nil {
		return err
	}
	for _, e := range es {
		path := "code_lists." + e.name
		var codes []string
		switch e.val.Kind {
		case yaml.SequenceNode:
			codes, err = d.strList(e.val, path, "codes")
		case yaml.MappingNode:
			var f map[string]*yaml.Node
			if f, err = d.fields(e.val, path, labelFields...); err != nil {
				return err
			}
			if f["file"] == nil {
				return d.errf(e.key, path+".file", "missing: give the codes inline as a list or as {file: codes.csv}")
			}
			var rel string
			if rel, err = d.str(f["file"], path+".file"); err != nil {
				return err
			}
			if codes, err = d.codeListFile(f["file"], path+".file", rel); err != nil {
				return err
			}
			// A file with a name column also gives the codes' labels.
			var ls *LabelSet
			if ls, err = d.labelSet(e.key, f, path, e.name, "code_list", false); err != nil {
				return err
			}
			if ls.Labels != nil {
				d.p.Labels[e.name] = ls
			}
		default:
			return d.errf(e.val, path, "must be a list of codes or {file: codes.csv}, not %s", kindName(e.val))
		}
		if err != nil {
			return err
		}
		d.p.CodeLists[e.name] = codes
	}
	return nil
}

// codeListFile reads a CSV code list: a header whose first column is
// "code" (usually "code,name"), then one code per row in the first column.
func (d *decoder) codeListFile(n *yaml.Node, path, rel string) ([]string, error) {
	data, err := os.ReadFile(d.resolve(rel))
	if err != nil {
		return nil, &Error{File: d.file, Line: n.Line, Field: path,
			Problem: fmt.Sprintf("cannot read code list file %s: %v", rel, err), Err: err}
	}
	bad := func(line int, format string, args ...any) error {
		return d.errf(n, path, "%s line %d: %s", rel, line, fmt.Sprintf(format, args...))
	}
	r := csv.NewReader(bytes.NewReader(data))
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, d.errf(n, path, "%s is empty; a code list file starts with the header code,name", rel)
	}
	if err != nil {
		return nil, d.errf(n, path, "%s is not valid CSV: %v", rel, err)
	}
	if strings.TrimSpace(strings.TrimPrefix(header[0], "\ufeff")) != "code" {
		return nil, bad(1, "the header's first column must be \"code\" (header code,name)")
	}
	var codes []string
	seen := map[string]bool{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, d.errf(n, path, "%s is not valid CSV: %v", rel, err)
		}
		line, _ := r.FieldPos(0)
		code := strings.TrimSpace(rec[0])
		if code == "" {
			return nil, bad(line, "empty code")
		}
		if seen[code] {
			return nil, bad(line, "code %q is listed twice", code)
		}
		seen[code] = true
		codes = append(codes, code)
	}
	if len(codes) == 0 {
		return nil, d.errf(n, path, "%s has a header but no codes", rel)
	}
	return codes, nil
}

// datasets decodes the datasets section.
func (d *decoder) datasets(n *yaml.Node) error {
	es, err := d.entries(n, "datasets", "dataset", identRe, true)
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return d.errf(n, "datasets", "declares no dataset; a policy declares at least one")
	}
	for _, e := range es {
		ds, err := d.dataset(e)
		if err != nil {
			return err
		}
		d.p.Datasets[e.name] = ds
	}
	return nil
}

// dataset decodes and checks one dataset.
func (d *decoder) dataset(e entry) (*Dataset, error) {
	path := "datasets." + e.name
	f, err := d.fields(e.val, path, datasetFields...)
	if err != nil {
		return nil, err
	}
	ds := &Dataset{
		Name:                     e.name,
		Title:                    e.name,
		MaxGroupsPerPerson:       DefaultMaxGroupsPerPerson,
		MaxRowsPerPersonPerGroup: DefaultMaxRowsPerPersonPerGroup,
		MinCellCount:             DefaultMinCellCount,
		RoundTo:                  DefaultRoundTo,
		Epsilon:                  EpsilonRange{Min: DefaultMinEpsilon, Default: DefaultEpsilon, Max: DefaultMaxEpsilon},
		Noise:                    DefaultNoise,
	}
	if f["title"] != nil {
		if ds.Title, err = d.str(f["title"], path+".title"); err != nil {
			return nil, err
		}
	}
	if ds.Description, err = d.optStr(f["description"], path+".description"); err != nil {
		return nil, err
	}
	if f["source"] == nil {
		return nil, d.errf(e.key, path+".source", "missing: name the extract file (Parquet or CSV), relative to the policy file")
	}
	src, err := d.str(f["source"], path+".source")
	if err != nil {
		return nil, err
	}
	ds.Source = d.resolve(src)
	if f["one_row_per_person"] != nil {
		if ds.OneRowPerPerson, err = d.boolean(f["one_row_per_person"], path+".one_row_per_person"); err != nil {
			return nil, err
		}
	}
	for _, x := range []struct {
		field    string
		def, cap *int
	}{
		{"max_groups_per_person", &ds.MaxGroupsPerPerson, &ds.MaxGroupsPerPersonCap},
		{"max_rows_per_person_per_group", &ds.MaxRowsPerPersonPerGroup, &ds.MaxRowsPerPersonPerGroupCap},
	} {
		*x.cap = *x.def
		if f[x.field] == nil {
			continue
		}
		if *x.def, *x.cap, err = d.boundCap(f[x.field], path+"."+x.field); err != nil {
			return nil, err
		}
	}
	for _, x := range []struct {
		field string
		dst   *int
		min   int
	}{
		{"min_cell_count", &ds.MinCellCount, 0},
		{"round_to", &ds.RoundTo, 0},
	} {
		if f[x.field] == nil {
			continue
		}
		if *x.dst, err = d.integer(f[x.field], path+"."+x.field); err != nil {
			return nil, err
		}
		if *x.dst < x.min {
			return nil, d.errf(f[x.field], path+"."+x.field, "must be at least %d, not %d", x.min, *x.dst)
		}
	}
	if f["lifetime_budget"] != nil {
		b, err := d.budget(f["lifetime_budget"], path+".lifetime_budget")
		if err != nil {
			return nil, err
		}
		ds.LifetimeBudget = &b
	}
	if f["epsilon_per_query"] != nil {
		if ds.Epsilon, err = d.epsilonRange(f["epsilon_per_query"], path+".epsilon_per_query"); err != nil {
			return nil, err
		}
	}
	if f["delta_per_query"] != nil {
		if ds.DeltaPerQuery, err = d.float(f["delta_per_query"], path+".delta_per_query"); err != nil {
			return nil, err
		}
		if ds.DeltaPerQuery < 0 || ds.DeltaPerQuery >= 1 {
			return nil, d.errf(f["delta_per_query"], path+".delta_per_query", "must be at least 0 and below 1, not %s", fmtNum(ds.DeltaPerQuery))
		}
	}
	if f["noise"] != nil {
		if ds.Noise, err = d.str(f["noise"], path+".noise"); err != nil {
			return nil, err
		}
		if !slices.Contains(noises, ds.Noise) {
			return nil, d.errf(f["noise"], path+".noise", "unknown noise %q (known: %s)", ds.Noise, strings.Join(noises, ", "))
		}
		if ds.Noise == "gaussian" && ds.DeltaPerQuery == 0 {
			return nil, d.errf(f["noise"], path+".noise", "gaussian noise needs delta_per_query > 0")
		}
	}
	if ds.Columns, err = d.columns(e, f["columns"], path+".columns"); err != nil {
		return nil, err
	}
	if err := d.personKey(e, ds, f["person_key"], path+".person_key"); err != nil {
		return nil, err
	}
	return ds, d.cohortFields(ds, f, path)
}

// boundCap decodes a contribution bound: an integer (default and cap) or
// {default, max}, each at least 1, default ≤ max.
func (d *decoder) boundCap(n *yaml.Node, path string) (def, cap int, err error) {
	if n.Kind == yaml.ScalarNode {
		if def, err = d.integer(n, path); err != nil {
			return 0, 0, err
		}
		if def < 1 {
			return 0, 0, d.errf(n, path, "must be at least 1, not %d", def)
		}
		return def, def, nil
	}
	f, err := d.fields(n, path, "default", "max")
	if err != nil {
		return 0, 0, err
	}
	if f["default"] == nil || f["max"] == nil {
		return 0, 0, d.errf(n, path, "give an integer, or both default and max")
	}
	for _, x := range []struct {
		field string
		dst   *int
	}{{"default", &def}, {"max", &cap}} {
		if *x.dst, err = d.integer(f[x.field], path+"."+x.field); err != nil {
			return 0, 0, err
		}
		if *x.dst < 1 {
			return 0, 0, d.errf(f[x.field], path+"."+x.field, "must be at least 1, not %d", *x.dst)
		}
	}
	if def > cap {
		return 0, 0, d.errf(n, path, "default %d > max %d", def, cap)
	}
	return def, cap, nil
}

// epsilonRange decodes epsilon_per_query: {min, default, max}.
func (d *decoder) epsilonRange(n *yaml.Node, path string) (EpsilonRange, error) {
	f, err := d.fields(n, path, "min", "default", "max")
	if err != nil {
		return EpsilonRange{}, err
	}
	if f["min"] == nil && f["default"] == nil && f["max"] == nil {
		return EpsilonRange{}, d.errf(n, path, "give min, default, max or some of them")
	}
	r := EpsilonRange{Default: DefaultEpsilon, Max: DefaultMaxEpsilon}
	for _, x := range []struct {
		field string
		dst   *float64
	}{{"min", &r.Min}, {"default", &r.Default}, {"max", &r.Max}} {
		if f[x.field] == nil {
			continue
		}
		if *x.dst, err = d.float(f[x.field], path+"."+x.field); err != nil {
			return r, err
		}
		if *x.dst <= 0 {
			return r, d.errf(f[x.field], path+"."+x.field, "must be > 0, not %s", fmtNum(*x.dst))
		}
	}
	switch {
	case f["max"] == nil && f["default"] != nil:
		r.Max = r.Default
	case f["default"] == nil && f["max"] != nil:
		r.Default = min(DefaultEpsilon, r.Max)
	}
	if f["min"] == nil {
		r.Min = min(DefaultMinEpsilon, r.Default)
	} else if f["default"] == nil && f["max"] == nil {
		r.Default = max(r.Default, r.Min)
		r.Max = max(r.Max, r.Default)
	}
	if r.Min > r.Default {
		return r, d.errf(n, path, "min %s > default %s", fmtNum(r.Min), fmtNum(r.Default))
	}
	if r.Default > r.Max {
		return r, d.errf(n, path, "default %s > max %s", fmtNum(r.Default), fmtNum(r.Max))
	}
	return r, nil
}

// personKey checks the person key names a declared id column.
func (d *decoder) personKey(e entry, ds *Dataset, n *yaml.Node, path string) error {
	if n == nil {
		return d.errf(e.key, path, "missing: name the column that identifies the person (the privacy unit)")
	}
	key, err := d.str(n, path)
	if err != nil {
		return err
	}
	c, ok := ds.Column(key)
	if !ok {
		return d.errf(n, path, "names no declared column: %q is not in columns", key)
	}
	if c.Type != TypeID {
		return d.errf(n, path, "column %q has type %s; the person key must have type id", key, c.Type)
	}
	ds.PersonKey = c.Name
	return nil
}

// columns decodes a dataset's columns in declared order.
func (d *decoder) columns(ds entry, n *yaml.Node, path string) ([]*Column, error) {
	if n == nil {
		return nil, d.errf(ds.key, path, "missing: declare the dataset's columns")
	}
	es, err := d.entries(n, path, "column", identRe, true)
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, d.errf(n, path, "declares no column")
	}
	out := make([]*Column, 0, len(es))
	for _, e := range es {
		c, err := d.column(e, path+"."+e.name)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// column decodes one column and checks its fields fit its type.
func (d *decoder) column(e entry, path string) (*Column, error) {
	f, err := d.fields(e.val, path, columnFields...)
	if err != nil {
		return nil, err
	}
	c := &Column{Name: e.name}
	if f["type"] == nil {
		return nil, d.errf(e.key, path+".type", "missing (known types: %s)", typeList())
	}
	t, err := d.str(f["type"], path+".type")
	if err != nil {
		return nil, err
	}
	c.Type = ColumnType(t)
	if !slices.Contains(columnTypes, c.Type) {
		return nil, d.errf(f["type"], path+".type", "unknown type %q (known types: %s)", t, typeList())
	}
	if c.Description, err = d.optStr(f["description"], path+".description"); err != nil {
		return nil, err
	}
	if c.CodeSystem, err = d.optStr(f["code_system"], path+".code_system"); err != nil {
		return nil, err
	}
	numeric := c.Type == TypeInteger || c.Type == TypeNumber
	textual := c.Type == TypeCode || c.Type == TypeCategory || c.Type == TypeString
	if n := f["bounds"]; n != nil {
		if !numeric {
			return nil, d.errf(n, path+".bounds", "bounds apply to integer and number columns only, and this column has type %s", c.Type)
		}
		if c.Bounds, err = d.floatPair(n, path+".bounds"); err != nil {
			return nil, err
		}
	}
	if n := f["domain"]; n != nil {
		switch {
		case c.Type == TypeDate:
			return nil, d.errf(n, path+".domain", "a date column has no value domain; declare years: [from, to] instead")
		case !textual && c.Type != TypeInteger:
			return nil, d.errf(n, path+".domain", "a column of type %s cannot declare a public domain", c.Type)
		}
		if c.Domain, err = d.domain(n, path+".domain", c.Type == TypeInteger); err != nil {
			return nil, err
		}
	}
	if n := f["years"]; n != nil {
		if c.Type != TypeDate {
			return nil, d.errf(n, path+".years", "years apply to date columns only, and this column has type %s", c.Type)
		}
		if c.Years, err = d.intPair(n, path+".years", "[from, to]"); err != nil {
			return nil, err
		}
	}
	if n := f["prefix_domains"]; n != nil {
		if !textual {
			return nil, d.errf(n, path+".prefix_domains", "prefix domains apply to code, category and string columns only, and this column has type %s", c.Type)
		}
		if c.PrefixDomains, err = d.prefixDomains(n, path+".prefix_domains"); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func typeList() string {
	s := make([]string, len(columnTypes))
	for i, t := range columnTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// domain decodes a public domain: a list of values, {code_list: NAME} or,
// for integer columns, {range: [lo, hi]}. Values of an integer column must
// be integers.
func (d *decoder) domain(n *yaml.Node, path string, integer bool) (*Domain, error) {
	switch n.Kind {
	case yaml.SequenceNode:
		values, err := d.strList(n, path, "values")
		if err != nil {
			return nil, err
		}
		if integer {
			for i, v := range values {
				if _, err := strconv.ParseInt(v, 10, 64); err != nil {
					return nil, d.errf(n.Content[i], fmt.Sprintf("%s[%d]", path, i), "%q is not an integer, and the column has type integer", v)
				}
			}
		}
		return &Domain{Values: values}, nil
	case yaml.MappingNode:
		f, err := d.fields(n, path, "code_list", "range")
		if err != nil {
			return nil, err
		}
		switch {
		case f["code_list"] != nil && f["range"] != nil:
			return nil, d.errf(n, path, "give either code_list or range, not both")
		case f["code_list"] != nil:
			name, err := d.str(f["code_list"], path+".code_list")
			if err != nil {
				return nil, err
			}
			codes, ok := d.p.CodeLists[name]
			if !ok {
				return nil, d.errf(f["code_list"], path+".code_list", "unknown code list %q (declare it under code_lists)", name)
			}
			return &Domain{Values: codes, CodeList: name}, nil
		case f["range"] != nil:
			if !integer {
				return nil, d.errf(f["range"], path+".range", "a range domain applies to integer columns only")
			}
			r, err := d.intPair(f["range"], path+".range", "[lo, hi]")
			if err != nil {
				return nil, err
			}
			return &Domain{Range: r}, nil
		}
		return nil, d.errf(n, path, "give code_list or range")
	}
	return nil, d.errf(n, path, "must be a list of values, {code_list: NAME} or {range: [lo, hi]}, not %s", kindName(n))
}

// prefixDomains decodes {n: domain}: the public domain of a column's first
// n characters. Every value must have exactly n characters.
func (d *decoder) prefixDomains(n *yaml.Node, path string) (map[int]*Domain, error) {
	if n.Kind != yaml.MappingNode {
		return nil, d.errf(n, path, "must map a prefix length to its domain, e.g. {1: {code_list: NAME}}, not %s", kindName(n))
	}
	out := map[int]*Domain{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		kpath := join(path, k.Value)
		length, err := d.integer(k, kpath)
		if err != nil {
			return nil, err
		}
		if length < 1 {
			return nil, d.errf(k, kpath, "a prefix length must be at least 1, not %d", length)
		}
		if out[length] != nil {
			return nil, d.errf(k, kpath, "prefix length %d given twice", length)
		}
		dom, err := d.domain(v, kpath, false)
		if err != nil {
			return nil, err
		}
		for _, val := range dom.Values {
			if got := utf8.RuneCountInString(val); got != length {
				return nil, d.errf(v, kpath, "value %q has %d characters, not %d", val, got, length)
			}
		}
		out[length] = dom
	}
	return out, nil
}
