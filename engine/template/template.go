// Package template compiles a policy's approved templates once, when the
// engine starts, and binds the parameter values of one run into a new
// checked query.
//
// A template's SQL is parsed by DuckDB and checked into the query model
// once, with its :name placeholders passed as DuckDB parameters ($name)
// and typed from their declarations (query.Param); a template that does
// not parse or check stops the engine from starting. A run validates its
// values against the declarations (policies.Param.Validate) and binds
// them as typed literals (query.Bind). No parameter text is ever written
// into SQL and nothing is parsed per run.
package template

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// Template is an approved template, compiled. It is immutable and safe for
// concurrent use.
type Template struct {
	// Decl is the template as the policy declares it.
	Decl *policies.Template
	// q is the checked query, with a query.Param for each parameter.
	q *query.Query
}

// Compile parses and checks every template of pol with parser, in name
// order. The first template that fails is returned as a *policies.Error
// naming the policy file, the field templates.<name>.sql and what is
// wrong; an error of the parser's DuckDB is wrapped with the template's
// name.
func Compile(ctx context.Context, parser *query.Parser, pol *policies.Policy) (map[string]*Template, error) {
	names := make([]string, 0, len(pol.Templates))
	for n := range pol.Templates {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(map[string]*Template, len(names))
	for _, name := range names {
		t, err := compile(ctx, parser, pol, pol.Templates[name])
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// compile parses and checks one template.
func compile(ctx context.Context, parser *query.Parser, pol *policies.Policy, decl *policies.Template) (*Template, error) {
	fail := func(format string, args ...any) error {
		return &policies.Error{File: pol.Path, Field: "templates." + decl.Name + ".sql", Problem: fmt.Sprintf(format, args...)}
	}
	text, err := decl.ParamSQL()
	if err != nil {
		return nil, fail("%v", err)
	}
	types := make(map[string]query.Type, len(decl.Params))
	for name, p := range decl.Params {
		t, ok := paramTypes[p.Type]
		if !ok {
			return nil, fail("parameter :%s has type %q, which templates cannot bind", name, p.Type)
		}
		types[name] = t
	}
	q, err := parser.CompileTemplate(ctx, text, query.NewCatalog(pol, decl.Datasets), types)
	if rf, ok := refusal.As(err); ok {
		problem := fmt.Sprintf("the query checker refuses it (%s): %s", rf.Code, rf.Message)
		if rf.Hint != "" {
			problem += "; " + rf.Hint
		}
		return nil, fail("%s", problem)
	}
	if err != nil {
		return nil, fmt.Errorf("template.Compile: template %q: %w", decl.Name, err)
	}
	return &Template{Decl: decl, q: q}, nil
}

// paramTypes maps a declared parameter type to the type its Param has in
// the checked query.
var paramTypes = map[policies.ParamType]query.Type{
	policies.ParamString:  query.TypeString,
	policies.ParamInteger: query.TypeInteger,
	policies.ParamNumber:  query.TypeNumber,
	policies.ParamDate:    query.TypeDate,
}

// Query returns the checked query with its parameters as query.Param
// nodes. It is shared by every run: callers must not edit it.
func (t *Template) Query() *query.Query { return t.q }

// Run is one run of a template: its values and the bound query. It is
// immutable once Bind returns it.
type Run struct {
	Template *Template
	// Values are every parameter's normalised value (int64, float64 or
	// string, as policies.Param.Validate returns them), defaults filled in.
	Values map[string]any
	// Query is the template's query with literals in place of the
	// parameters, ready to plan; it is the run's own copy.
	Query *query.Query
}

// Bind validates the values of one run (as JSON decodes a request's
// params; nil or absent means the default) and binds them into a new
// query. It refuses, before anything is debited, a parameter the template
// does not declare (unknown_parameter), a missing one without default
// (missing_parameter) and a value its declaration does not accept
// (bad_parameter); parameters are looked at in name order.
func (t *Template) Bind(params map[string]any) (*Run, error) {
	d := t.Decl
	names := d.ParamNames()
	given := make([]string, 0, len(params))
	for name := range params {
		given = append(given, name)
	}
	sort.Strings(given)
	for _, name := range given {
		if !slices.Contains(names, name) {
			return nil, &refusal.Error{Code: refusal.UnknownParameter,
				Message: fmt.Sprintf("template %q has no parameter %q", d.Name, name), Hint: "parameters: " + strings.Join(names, ", ")}
		}
	}
	values := make(map[string]any, len(names))
	for _, name := range names {
		decl := d.Params[name]
		v := params[name]
		if v == nil && decl.Default == nil {
			return nil, &refusal.Error{Code: refusal.MissingParameter,
				Message: fmt.Sprintf("template %q needs parameter %q (%s)", d.Name, name, decl.Type)}
		}
		nv, err := decl.Validate(v)
		if err != nil {
			return nil, &refusal.Error{Code: refusal.BadParameter, Message: err.Error()}
		}
		values[name] = nv
	}
	q, err := query.Bind(t.q, values)
	if err != nil {
		return nil, fmt.Errorf("template %q: %w", d.Name, err)
	}
	return &Run{Template: t, Values: values, Query: q}, nil
}

// Key identifies the question a run asks, for a result cache: two runs
// have the same key exactly when they run the same template (the same
// name, SQL, ε and parameter types) with the same normalised values.
// Normalisation makes equal values key equally however a request writes
// them: an omitted parameter and its default, 2020 sent as a number or as
// "2020" for an integer, 0.50 and 0.5 for a number. The key is "t1:"
// followed by the hex SHA-256 of the run's canonical text (canonical). It
// says nothing about the project, the policy's other settings or the
// data; a cache must add what else its answers depend on.
func (r *Run) Key() string {
	sum := sha256.Sum256([]byte(r.canonical()))
	return "t1:" + hex.EncodeToString(sum[:])
}

// canonical is the text the key hashes, one line per item, names and
// strings Go-quoted (so that no value can end its line early):
//
//	template "name"
//	sql "…"
//	epsilon 0.5
//	param "from_year" integer 2010
//	param "sex" string "F"
//
// with the parameters in name order.
func (r *Run) canonical() string {
	d := r.Template.Decl
	var b strings.Builder
	fmt.Fprintf(&b, "template %s\nsql %s\nepsilon %s\n", strconv.Quote(d.Name), strconv.Quote(d.SQL),
		strconv.FormatFloat(d.Epsilon, 'g', -1, 64))
	names := make([]string, 0, len(r.Values))
	for name := range r.Values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		var v string
		switch x := r.Values[name].(type) {
		case int64:
			v = strconv.FormatInt(x, 10)
		case float64:
			v = strconv.FormatFloat(x, 'g', -1, 64)
		case string:
			v = strconv.Quote(x)
		default:
			v = fmt.Sprintf("%T %v", x, x)
		}
		fmt.Fprintf(&b, "param %s %s %s\n", strconv.Quote(name), d.Params[name].Type, v)
	}
	return b.String()
}
