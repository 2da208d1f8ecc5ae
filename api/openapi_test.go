package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// openAPI is the part of the document the tests read.
type openAPI struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]schema `json:"schemas"`
	} `json:"components"`
}

// schema is the part of a JSON schema the tests read.
type schema struct {
	Properties map[string]json.RawMessage `json:"properties"`
	Required   []string                   `json:"required"`
	AllOf      []json.RawMessage          `json:"allOf"`
}

// operation is the part of an OpenAPI operation the tests read.
type operation struct {
	Security  []map[string][]string     `json:"security"`
	Responses map[string]map[string]any `json:"responses"`
}

func loadDoc(t *testing.T) openAPI {
	t.Helper()
	var doc openAPI
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	return doc
}

func TestOpenAPIMatchesRouter(t *testing.T) {
	doc := loadDoc(t)
	ts := newTestServer(t, nil, nil)
	var routed []string
	err := chi.Walk(ts.h.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed = append(routed, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	routed = slices.DeleteFunc(routed, func(r string) bool { return slices.Contains(consoleRoutes, r) })
	sort.Strings(routed)
	sort.Strings(documented)
	for _, r := range routed {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routed, d) {
			t.Errorf("openapi.json documents %s, which is not routed", d)
		}
	}
	for _, e := range endpoints {
		method, path, _ := strings.Cut(e, " ")
		path, _, _ = strings.Cut(path, "[")
		if !slices.Contains(routed, method+" "+path) {
			t.Errorf("the 404 problem lists %q, which is not routed", e)
		}
	}
}

// publicPaths are the /v1 paths served without a token.
var publicPaths = []string{"/v1/openapi.json", "/v1/sql/reference"}

func TestOpenAPIOperations(t *testing.T) {
	doc := loadDoc(t)
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			t.Run(method+" "+path, func(t *testing.T) {
				var op operation
				if err := json.Unmarshal(raw, &op); err != nil {
					t.Fatal(err)
				}
				if _, ok := op.Responses["200"]; !ok {
					t.Error("no 200 response")
				}
				needsToken := strings.HasPrefix(path, "/v1/") && !slices.Contains(publicPaths, path)
				if needsToken != (len(op.Security) > 0) {
					t.Errorf("security %v; token needed: %v", op.Security, needsToken)
				}
				if _, ok := op.Responses["401"]; needsToken && !ok {
					t.Error("no 401 response")
				}
				if _, ok := op.Responses["415"]; method == "post" && !ok {
					t.Error("no 415 response")
				}
			})
		}
	}
}

func TestOpenAPIRefsResolve(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	n := 0
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if s, ok := c.(string); ok && k == "$ref" {
					n++
					if !resolves(doc, s) {
						t.Errorf("$ref %q does not resolve", s)
					}
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
	if n < 50 {
		t.Errorf("only %d $refs found; is the walk broken?", n)
	}
}

// resolves reports whether a local JSON pointer ref names a value of doc.
func resolves(doc map[string]any, ref string) bool {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	var cur any = doc
	for _, part := range strings.Split(p, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

// TestOpenAPISchemasMatchTypes keeps each schema's properties equal to the
// JSON fields of the API's wire type it documents (types.go), so the
// document cannot drift from the wire.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	doc := loadDoc(t)
	types := map[string]reflect.Type{
		"Problem":            reflect.TypeFor[Problem](),
		"Status":             reflect.TypeFor[StatusBody](),
		"QueryRequest":       reflect.TypeFor[QueryBody](),
		"TemplateRunRequest": reflect.TypeFor[TemplateRunBody](),
		"CohortRequest":      reflect.TypeFor[CohortBody](),
		"Criterion":          reflect.TypeFor[Criterion](),
		"RelativeTo":         reflect.TypeFor[RelativeTo](),
		"Bounds":             reflect.TypeFor[Bounds](),
		"Result":             reflect.TypeFor[Result](),
		"Column":             reflect.TypeFor[Column](),
		"Row":                reflect.TypeFor[Row](),
		"Cell":               reflect.TypeFor[Cell](),
		"Meta":               reflect.TypeFor[Meta](),
		"Spend":              reflect.TypeFor[Spend](),
		"DryRun":             reflect.TypeFor[DryRun](),
		"DryRunCost":         reflect.TypeFor[DryRunCost](),
		"DryRunAfter":        reflect.TypeFor[DryRunAfter](),
		"BudgetHistory":      reflect.TypeFor[BudgetHistory](),
		"HistoryDebit":       reflect.TypeFor[HistoryDebit](),
		"CapBudget":          reflect.TypeFor[CapBudget](),
		"PerPerson":          reflect.TypeFor[PerPerson](),
		"Expected":           reflect.TypeFor[Expected](),
		"Bounding":           reflect.TypeFor[Bounding](),
		"Truncated":          reflect.TypeFor[Truncated](),
		"SQLReference":       reflect.TypeFor[SQLReference](),
		"SQLClause":          reflect.TypeFor[SQLClause](),
		"SQLFunction":        reflect.TypeFor[SQLFunction](),
		"SQLRefused":         reflect.TypeFor[SQLRefused](),
		"RefusalCode":        reflect.TypeFor[RefusalCode](),
		"SearchMatch":        reflect.TypeFor[SearchMatch](),
		"CodeListList":       reflect.TypeFor[CodeListList](),
		"CodeList":           reflect.TypeFor[CodeList](),
		"CodeListCode":       reflect.TypeFor[CodeListCode](),
		"Me":                 reflect.TypeFor[Me](),
		"ProjectMembership":  reflect.TypeFor[ProjectMembership](),
		"DatasetList":        reflect.TypeFor[DatasetList](),
		"Dataset":            reflect.TypeFor[Dataset](),
		"DatasetBounding":    reflect.TypeFor[DatasetBounding](),
		"EpsilonPerQuery":    reflect.TypeFor[EpsilonPerQuery](),
		"DatasetColumn":      reflect.TypeFor[DatasetColumn](),
		"Domain":             reflect.TypeFor[Domain](),
		"PrefixDomain":       reflect.TypeFor[PrefixDomain](),
		"TemplateList":       reflect.TypeFor[TemplateList](),
		"TemplateInfo":       reflect.TypeFor[TemplateInfo](),
		"ParamInfo":          reflect.TypeFor[ParamInfo](),
		"BudgetReport":       reflect.TypeFor[BudgetReport](),
		"DatasetBudget":      reflect.TypeFor[DatasetBudget](),
		"Amount":             reflect.TypeFor[Amount](),
		"AuditList":          reflect.TypeFor[AuditList](),
		"AuditEntry":         reflect.TypeFor[AuditEntry](),
		"EventSpec":          reflect.TypeFor[EventSpec](),
		"Period":             reflect.TypeFor[Period](),
		"CohortCriteria":     reflect.TypeFor[CohortCriteria](),
		"RatesRequest":       reflect.TypeFor[RatesBody](),
		"SurvivalRequest":    reflect.TypeFor[SurvivalBody](),
		"Estimate":           reflect.TypeFor[Estimate](),
		"RateRow":            reflect.TypeFor[RateRow](),
		"StandardisedRate":   reflect.TypeFor[StandardisedRate](),
		"RatesResult":        reflect.TypeFor[RatesResult](),
		"SurvivalPoint":      reflect.TypeFor[SurvivalPoint](),
		"MedianSurvival":     reflect.TypeFor[MedianSurvival](),
		"SurvivalStratum":    reflect.TypeFor[SurvivalStratum](),
		"SurvivalResult":     reflect.TypeFor[SurvivalResult](),
	}
	for name := range doc.Components.Schemas {
		if _, ok := types[name]; !ok {
			t.Errorf("schema %s documents no Go type known to this test", name)
		}
	}
	for name, typ := range types {
		t.Run(name, func(t *testing.T) {
			s, ok := doc.Components.Schemas[name]
			if !ok {
				t.Fatalf("openapi.json has no schema %s", name)
			}
			props, required := schemaFields(t, s, doc)
			want := jsonFields(typ)
			if !reflect.DeepEqual(props, want) {
				t.Errorf("schema properties %v\nGo JSON fields      %v", props, want)
			}
			for _, r := range required {
				if !slices.Contains(props, r) {
					t.Errorf("required %q is not a property", r)
				}
			}
		})
	}
}

// schemaFields returns the sorted property names of s (merging allOf) and its required names.
func schemaFields(t *testing.T, s schema, doc openAPI) (props, required []string) {
	t.Helper()
	for p := range s.Properties {
		props = append(props, p)
	}
	required = append(required, s.Required...)
	for _, raw := range s.AllOf {
		var part struct {
			Ref string `json:"$ref"`
			schema
		}
		if err := json.Unmarshal(raw, &part); err != nil {
			t.Fatal(err)
		}
		if part.Ref != "" {
			part.schema = doc.Components.Schemas[strings.TrimPrefix(part.Ref, "#/components/schemas/")]
		}
		p, r := schemaFields(t, part.schema, doc)
		props, required = append(props, p...), append(required, r...)
	}
	sort.Strings(props)
	return props, required
}

// jsonFields returns the sorted JSON field names of a struct type, with
// embedded structs flattened as encoding/json does.
func jsonFields(typ reflect.Type) []string {
	var out []string
	for f := range typ.Fields() {
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		switch {
		case name == "-", !f.IsExported() && !f.Anonymous:
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			out = append(out, jsonFields(f.Type)...)
		case name == "":
			out = append(out, f.Name)
		default:
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIServed(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	w := ts.do(req{method: "GET", path: "/v1/openapi.json"})
	if w.Code != 200 || w.Header().Get("Content-Type") != MediaJSON {
		t.Fatalf("status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
	}
	if !bytes.Equal(w.Body.Bytes(), OpenAPI()) {
		t.Error("served document differs from OpenAPI()")
	}
}
