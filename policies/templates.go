package policies

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	templateFields = []string{"title", "description", "datasets", "sql", "params", "epsilon"}
	paramFields    = []string{"type", "description", "pattern", "min", "max", "enum", "default"}
	paramTypes     = []ParamType{ParamString, ParamInteger, ParamNumber, ParamDate}
)

// templates decodes the templates section; datasets must be decoded first.
func (d *decoder) templates(n *yaml.Node) error {
	es, err := d.entries(n, "templates", "template", nameRe, false)
	if err != nil {
		return err
	}
	for _, e := range es {
		t, err := d.template(e)
		if err != nil {
			return err
		}
		d.p.Templates[e.name] = t
	}
	return nil
}

// template decodes and checks one template: its datasets exist, its ε is
// positive and within every dataset's maximum, its parameters are well
// declared, and its SQL's placeholders and its parameters match one to one.
func (d *decoder) template(e entry) (*Template, error) {
	path := "templates." + e.name
	f, err := d.fields(e.val, path, templateFields...)
	if err != nil {
		return nil, err
	}
	t := &Template{Name: e.name, Title: e.name, Params: map[string]*Param{}}
	if f["title"] != nil {
		if t.Title, err = d.str(f["title"], path+".title"); err != nil {
			return nil, err
		}
	}
	if t.Description, err = d.optStr(f["description"], path+".description"); err != nil {
		return nil, err
	}
	if t.Datasets, err = d.datasetRefs(e, f["datasets"], path+".datasets"); err != nil {
		return nil, err
	}
	if f["sql"] == nil {
		return nil, d.errf(e.key, path+".sql", "missing: a template needs the SQL it runs")
	}
	if t.SQL, err = d.str(f["sql"], path+".sql"); err != nil {
		return nil, err
	}
	if f["epsilon"] == nil {
		return nil, d.errf(e.key, path+".epsilon", "missing: a template fixes the ε one run costs")
	}
	if t.Epsilon, err = d.float(f["epsilon"], path+".epsilon"); err != nil {
		return nil, err
	}
	if t.Epsilon <= 0 {
		return nil, d.errf(f["epsilon"], path+".epsilon", "must be > 0, not %s", fmtNum(t.Epsilon))
	}
	for _, name := range t.Datasets {
		if limit := d.p.Datasets[name].Epsilon.Max; t.Epsilon > limit {
			return nil, d.errf(f["epsilon"], path+".epsilon", "%s is above the maximum ε per query %s of dataset %q", fmtNum(t.Epsilon), fmtNum(limit), name)
		}
		if least := d.p.Datasets[name].Epsilon.Min; t.Epsilon < least {
			return nil, d.errf(f["epsilon"], path+".epsilon", "%s is below the minimum ε per query %s of dataset %q", fmtNum(t.Epsilon), fmtNum(least), name)
		}
	}
	params, err := d.entries(f["params"], path+".params", "parameter", identRe, false)
	if err != nil {
		return nil, err
	}
	for _, pe := range params {
		if t.Params[pe.name], err = d.param(pe, path+".params."+pe.name); err != nil {
			return nil, err
		}
	}
	if _, err := lexPlaceholders(t.SQL); err != nil {
		return nil, d.errf(f["sql"], path+".sql", "%v", err)
	}
	used := t.Placeholders()
	for _, name := range used {
		if t.Params[name] == nil {
			return nil, d.errf(f["sql"], path+".sql", "placeholder :%s has no declared parameter (declare it under params)", name)
		}
	}
	for _, pe := range params {
		if !slices.Contains(used, pe.name) {
			return nil, d.errf(pe.key, path+".params."+pe.name, "declared but not used in sql (no :%s placeholder)", pe.name)
		}
	}
	return t, nil
}

// param decodes and checks one parameter declaration. Its enum values and
// default are stored normalised, as Validate returns them.
func (d *decoder) param(e entry, path string) (*Param, error) {
	f, err := d.fields(e.val, path, paramFields...)
	if err != nil {
		return nil, err
	}
	p := &Param{Name: e.name}
	if f["type"] == nil {
		return nil, d.errf(e.key, path+".type", "missing (known types: %s)", paramTypeList())
	}
	t, err := d.str(f["type"], path+".type")
	if err != nil {
		return nil, err
	}
	p.Type = ParamType(t)
	if !slices.Contains(paramTypes, p.Type) {
		return nil, d.errf(f["type"], path+".type", "unknown type %q (known types: %s)", t, paramTypeList())
	}
	if p.Description, err = d.optStr(f["description"], path+".description"); err != nil {
		return nil, err
	}
	if n := f["pattern"]; n != nil {
		if p.Type != ParamString {
			return nil, d.errf(n, path+".pattern", "a pattern applies to string parameters only, and this one has type %s", p.Type)
		}
		if p.Pattern, err = d.str(n, path+".pattern"); err != nil {
			return nil, err
		}
		if _, err := compilePattern(p.Pattern); err != nil {
			return nil, d.errf(n, path+".pattern", "invalid regular expression: %v", err)
		}
	}
	for _, x := range []struct {
		field string
		dst   **float64
	}{{"min", &p.Min}, {"max", &p.Max}} {
		n := f[x.field]
		if n == nil {
			continue
		}
		if p.Type != ParamInteger && p.Type != ParamNumber {
			return nil, d.errf(n, path+"."+x.field, "%s applies to integer and number parameters only, and this one has type %s", x.field, p.Type)
		}
		v, err := d.float(n, path+"."+x.field)
		if err != nil {
			return nil, err
		}
		if p.Type == ParamInteger && v != float64(int64(v)) {
			return nil, d.errf(n, path+"."+x.field, "must be an integer for an integer parameter, not %s", fmtNum(v))
		}
		*x.dst = &v
	}
	if p.Min != nil && p.Max != nil && *p.Min > *p.Max {
		return nil, d.errf(e.val, path, "min %s > max %s", fmtNum(*p.Min), fmtNum(*p.Max))
	}
	if n := f["enum"]; n != nil {
		values, err := d.strList(n, path+".enum", "allowed values")
		if err != nil {
			return nil, err
		}
		for i, v := range values {
			nv, err := p.normalise(v)
			if err == nil {
				err = p.check(nv)
			}
			if err != nil {
				return nil, d.errf(n.Content[i], fmt.Sprintf("%s.enum[%d]", path, i), "%s", problemOf(err))
			}
			p.Enum = append(p.Enum, canonical(nv))
		}
	}
	if n := f["default"]; n != nil {
		v, err := d.scalarValue(n, path+".default")
		if err != nil {
			return nil, err
		}
		if p.Default, err = p.Validate(v); err != nil {
			return nil, d.errf(n, path+".default", "%s", problemOf(err))
		}
	}
	return p, nil
}

// scalarValue decodes a scalar as the Go value JSON decoding would give.
func (d *decoder) scalarValue(n *yaml.Node, path string) (any, error) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return nil, d.errf(n, path, "must be a single value, not %s", kindName(n))
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return d.float(n, path)
	case "!!bool":
		return d.boolean(n, path)
	}
	return n.Value, nil
}

// problemOf returns a ParamError's problem without the parameter's name.
func problemOf(err error) string {
	var pe *ParamError
	if errors.As(err, &pe) {
		return pe.Problem
	}
	return err.Error()
}

func paramTypeList() string {
	s := make([]string, len(paramTypes))
	for i, t := range paramTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// compilePattern compiles a parameter pattern so that it must match the
// whole value.
func compilePattern(p string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + p + `)$`)
}
