package policies

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Who may read the data map (the policy's data_map).
const (
	// DataMapPublic serves the data map without a token (the default): it
	// holds the policy's declarations and rounded sizes only.
	DataMapPublic = "public"
	// DataMapToken serves it to holders of a valid token only.
	DataMapToken = "token"
)

// LabelSet is the names of the codes of a code list or code system, for
// the data map and its search. Labels never widen what is released: a
// public domain comes from code_lists alone.
type LabelSet struct {
	// Name is the code list's name (code_lists) or the code system's, as
	// columns' code_system names it (code_systems).
	Name string
	// Kind is "code_list" or "code_system".
	Kind string
	// Source and Licence say where the names come from and under which terms.
	Source  string
	Licence string
	// Labels are the file's rows, in file order.
	Labels []Label
}

// Label names one code.
type Label struct {
	Code string
	Name string
	// Level is the file's optional third column (e.g. "chapter", ATC level "5").
	Level string
}

// labelFields are the fields of a code_systems entry and of a code list
// given as a file.
var labelFields = []string{"file", "source", "licence"}

// dataMap decodes data_map: public (default) or token.
func (d *decoder) dataMap(n *yaml.Node) error {
	d.p.DataMap = DataMapPublic
	if n == nil {
		return nil
	}
	s, err := d.str(n, "data_map")
	if err != nil {
		return err
	}
	if s != DataMapPublic && s != DataMapToken {
		return d.errf(n, "data_map", "must be %s or %s, not %q", DataMapPublic, DataMapToken, s)
	}
	d.p.DataMap = s
	return nil
}

// codeSystems decodes code_systems: per code system (as columns'
// code_system names it) a label file with its source and licence.
func (d *decoder) codeSystems(n *yaml.Node) error {
	es, err := d.entries(n, "code_systems", "code system", nameRe, false)
	if err != nil {
		return err
	}
	for _, e := range es {
		path := "code_systems." + e.name
		if _, dup := d.p.Labels[e.name]; dup {
			return d.errf(e.key, path, "code list %s already has labels from its file; name the code system differently or drop one", e.name)
		}
		f, err := d.fields(e.val, path, labelFields...)
		if err != nil {
			return err
		}
		ls, err := d.labelSet(e.key, f, path, e.name, "code_system", true)
		if err != nil {
			return err
		}
		d.p.Labels[e.name] = ls
	}
	return nil
}

// labelSet reads the label file of f["file"] with its source and licence
// (required when need is set).
func (d *decoder) labelSet(key *yaml.Node, f map[string]*yaml.Node, path, name, kind string, need bool) (*LabelSet, error) {
	if f["file"] == nil {
		return nil, d.errf(key, path+".file", "missing: give the label file as {file: names.csv, source: ..., licence: ...}")
	}
	rel, err := d.str(f["file"], path+".file")
	if err != nil {
		return nil, err
	}
	ls := &LabelSet{Name: name, Kind: kind}
	for _, x := range []struct {
		field string
		dst   *string
	}{{"source", &ls.Source}, {"licence", &ls.Licence}} {
		if f[x.field] == nil {
			if need {
				return nil, d.errf(key, path+"."+x.field, "missing: a label file states its %s", x.field)
			}
			continue
		}
		if *x.dst, err = d.str(f[x.field], path+"."+x.field); err != nil {
			return nil, err
		}
	}
	if ls.Labels, err = d.labelFile(f["file"], path+".file", rel); err != nil {
		return nil, err
	}
	return ls, nil
}

// labelFile reads code,name[,level] rows; a file whose header has no
// "name" column has no labels (nil).
func (d *decoder) labelFile(n *yaml.Node, path, rel string) ([]Label, error) {
	data, err := os.ReadFile(d.resolve(rel))
	if err != nil {
		return nil, &Error{File: d.file, Line: n.Line, Field: path, Problem: "cannot read label file " + rel + ": " + err.Error(), Err: err}
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, d.errf(n, path, "%s has no CSV header code,name", rel)
	}
	for i := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff"))
	}
	if header[0] != "code" {
		return nil, d.errf(n, path, "%s line 1: the header's first column must be \"code\" (header code,name)", rel)
	}
	nameAt, levelAt := slices.Index(header, "name"), slices.Index(header, "level")
	if nameAt < 0 {
		return nil, nil
	}
	var out []Label
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
		if len(rec) <= nameAt || strings.TrimSpace(rec[0]) == "" || strings.TrimSpace(rec[nameAt]) == "" {
			return nil, d.errf(n, path, "%s line %d: a code and its name are needed", rel, line)
		}
		l := Label{Code: strings.TrimSpace(rec[0]), Name: strings.TrimSpace(rec[nameAt])}
		if seen[l.Code] {
			return nil, d.errf(n, path, "%s line %d: code %q is listed twice", rel, line, l.Code)
		}
		seen[l.Code] = true
		if levelAt >= 0 && levelAt < len(rec) {
			l.Level = strings.TrimSpace(rec[levelAt])
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, d.errf(n, path, "%s has a header but no codes", rel)
	}
	return out, nil
}
