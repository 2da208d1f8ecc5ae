package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// compileTemplate type-checks the parameters of an approved template,
// substitutes them as SQL literals, and compiles the result with the same
// checker as ad-hoc SQL. Bad parameters are refused before any debit.
func (e *Engine) compileTemplate(ctx context.Context, proj *policies.Project, r Request) (*compiled, error) {
	t, ok := e.pol.Templates[r.Template]
	if !ok {
		return nil, &refusal.Error{Kind: refusal.KindNotFound, Code: "unknown_template",
			Message: fmt.Sprintf("there is no template %q", r.Template), Hint: "GET /v1/templates lists the templates you may run"}
	}
	for _, d := range t.Datasets {
		if !slices.Contains(proj.Datasets, d) {
			return nil, &refusal.Error{Kind: refusal.KindForbidden, Code: "template_not_in_project",
				Message: fmt.Sprintf("template %q reads dataset %q, which project %q does not include", t.Name, d, proj.ID)}
		}
	}
	values := make(map[string]string, len(t.Params))
	for name := range r.Params {
		if _, ok := t.Params[name]; !ok {
			return nil, &refusal.Error{Kind: refusal.KindBadRequest, Code: "unknown_parameter",
				Message: fmt.Sprintf("template %q has no parameter %q", t.Name, name), Hint: "parameters: " + strings.Join(paramNames(t), ", ")}
		}
	}
	for name, decl := range t.Params {
		v, given := r.Params[name]
		if !given || v == nil {
			if decl.Default == nil {
				return nil, &refusal.Error{Kind: refusal.KindBadRequest, Code: "missing_parameter",
					Message: fmt.Sprintf("template %q needs parameter %q (%s)", t.Name, name, decl.Type)}
			}
			v = decl.Default
		}
		nv, err := decl.Validate(v)
		if err != nil {
			return nil, &refusal.Error{Kind: refusal.KindBadRequest, Code: "bad_parameter", Message: err.Error()}
		}
		values[name] = sqlLiteral(decl.Type, nv)
	}
	text, err := substitute(t.SQL, values)
	if err != nil {
		return nil, fmt.Errorf("engine: template %q: %w", t.Name, err)
	}
	c := &compiled{kind: "template", text: text, template: t.Name, params: r.Params, epsilon: t.Epsilon, pinnedEp: true}
	c.q, err = e.parser.Compile(ctx, text, query.NewCatalog(e.pol, t.Datasets))
	return c, err
}

func paramNames(t *policies.Template) []string {
	names := make([]string, 0, len(t.Params))
	for n := range t.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// sqlLiteral renders a validated parameter value as a SQL literal.
func sqlLiteral(t policies.ParamType, v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		q := "'" + strings.ReplaceAll(x, "'", "''") + "'"
		if t == policies.ParamDate {
			return "DATE " + q
		}
		return q
	}
	return "NULL"
}

// substitute replaces :name placeholders outside string literals and quoted
// identifiers; `::` casts are left alone.
func substitute(sql string, values map[string]string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(sql); i++ {
		ch := sql[i]
		switch {
		case ch == '\'' || ch == '"':
			j := i + 1
			for j < len(sql) {
				if sql[j] == ch {
					if j+1 < len(sql) && sql[j+1] == ch {
						j += 2
						continue
					}
					break
				}
				j++
			}
			if j >= len(sql) {
				return "", fmt.Errorf("unterminated quote")
			}
			b.WriteString(sql[i : j+1])
			i = j
		case ch == ':' && i+1 < len(sql) && sql[i+1] == ':':
			b.WriteString("::")
			i++
		case ch == ':' && i+1 < len(sql) && isIdentStart(sql[i+1]):
			j := i + 1
			for j < len(sql) && isIdentPart(sql[j]) {
				j++
			}
			name := sql[i+1 : j]
			v, ok := values[name]
			if !ok {
				return "", fmt.Errorf("placeholder :%s has no parameter", name)
			}
			b.WriteString(v)
			i = j - 1
		default:
			b.WriteByte(ch)
		}
	}
	return b.String(), nil
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// Templates lists the templates the principal may run in at least one of
// their projects.
func (e *Engine) Templates(p Principal) []TemplateInfo {
	var out []TemplateInfo
	for _, t := range e.pol.Templates {
		if !e.mayRunTemplate(p, t) {
			continue
		}
		ti := TemplateInfo{Name: t.Name, Title: t.Title, Description: t.Description,
			Datasets: slices.Clone(t.Datasets), Epsilon: t.Epsilon, SQL: t.SQL}
		for _, n := range paramNames(t) {
			d := t.Params[n]
			ti.Params = append(ti.Params, ParamInfo{Name: n, Type: string(d.Type), Description: d.Description,
				Pattern: d.Pattern, Min: d.Min, Max: d.Max, Enum: d.Enum, Default: d.Default, Required: d.Default == nil})
		}
		out = append(out, ti)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// mayRunTemplate reports whether some project of p allows templates and
// holds every dataset the template reads.
func (e *Engine) mayRunTemplate(p Principal, t *policies.Template) bool {
	for _, id := range e.pol.ProjectsOf(p.Name) {
		if !e.pol.Allows(id, p.Name, policies.ActionTemplates) {
			continue
		}
		proj := e.pol.Projects[id]
		all := true
		for _, d := range t.Datasets {
			all = all && slices.Contains(proj.Datasets, d)
		}
		if all {
			return true
		}
	}
	return false
}
