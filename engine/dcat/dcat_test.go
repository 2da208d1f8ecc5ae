package dcat

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/policies"
)

// Full IRIs the test checks against, independent of the document's prefixes.
const (
	dcatNS   = "http://www.w3.org/ns/dcat#"
	dctNS    = "http://purl.org/dc/terms/"
	foafNS   = "http://xmlns.com/foaf/0.1/"
	skosNS   = "http://www.w3.org/2004/02/skos/core#"
	csvwNS   = "http://www.w3.org/ns/csvw#"
	vcardNS  = "http://www.w3.org/2006/vcard/ns#"
	healthNS = "http://healthdataportal.eu/ns/health#"
	dpvNS    = "https://w3id.org/dpv#"
)

// doc is the parsed JSON-LD with its compact IRIs expanded by its own
// @context, so that a wrong prefix fails the test.
type doc struct {
	t   *testing.T
	ctx map[string]string
}

func (d doc) expand(s string) string {
	if p, local, ok := strings.Cut(s, ":"); ok {
		if ns, ok := d.ctx[p]; ok {
			return ns + local
		}
	}
	return s
}

// props returns a node's properties keyed by full IRI (and @id, @type).
func (d doc) props(v any) map[string]any {
	n, ok := v.(map[string]any)
	if !ok {
		d.t.Fatalf("not a node object: %v", v)
	}
	out := map[string]any{}
	for k, x := range n {
		if strings.HasPrefix(k, "@") {
			out[k] = x
			continue
		}
		out[d.expand(k)] = x
	}
	return out
}

// types returns a node's @type values, expanded.
func (d doc) types(n map[string]any) []string {
	var out []string
	switch t := n["@type"].(type) {
	case string:
		out = append(out, d.expand(t))
	case []any:
		for _, x := range t {
			out = append(out, d.expand(x.(string)))
		}
	}
	return out
}

func (d doc) isA(n map[string]any, class string) bool {
	for _, t := range d.types(n) {
		if t == class {
			return true
		}
	}
	return false
}

// list returns a property's values as a list.
func list(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

// literal returns a property's (first) literal value.
func literal(v any) string {
	for _, x := range list(v) {
		switch y := x.(type) {
		case string:
			return y
		case map[string]any:
			if s, ok := y["@value"].(string); ok {
				return s
			}
		}
	}
	return ""
}

// iri returns a property's (first) @id, or "".
func iri(v any) string {
	for _, x := range list(v) {
		if m, ok := x.(map[string]any); ok {
			if s, ok := m["@id"].(string); ok {
				return s
			}
		}
	}
	return ""
}

func absolute(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs() && (u.Host != "" || u.Scheme == "mailto")
}

func build(t *testing.T) (*policies.Policy, map[string]any, doc) {
	t.Helper()
	pol, err := policies.Load("../../policies/norway-synthetic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int64{"population": 20_000, "npr": 66_939, "lmr": 330_017, "cancer": 1_021, "death_causes": 1_849}
	b, err := json.Marshal(Build(pol, catalog.New(pol, sizes).Datasets(), Options{BaseURL: "https://statgate.example.org/"}))
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	ctx := map[string]string{}
	for k, v := range root["@context"].(map[string]any) {
		ctx[k] = v.(string)
	}
	return pol, root, doc{t: t, ctx: ctx}
}

// TestCatalogueHasDCATAP3MandatoryProperties parses the JSON-LD and checks
// the mandatory properties of DCAT-AP 3's mandatory classes (Catalogue,
// Dataset, Agent, and of Data Service, Distribution, Concept and Period of
// Time where they are used), plus the HealthDCAT-AP properties statgate
// fills in.
func TestCatalogueHasDCATAP3MandatoryProperties(t *testing.T) {
	pol, root, d := build(t)
	cat := d.props(root)
	if !d.isA(cat, dcatNS+"Catalog") {
		t.Fatalf("root is not a dcat:Catalog: %v", cat["@type"])
	}
	// Catalogue: title, description, publisher (mandatory); dataset.
	for _, p := range []string{dctNS + "title", dctNS + "description"} {
		if literal(cat[p]) == "" {
			t.Errorf("catalog lacks %s", p)
		}
	}
	agent := d.props(list(cat[dctNS+"publisher"])[0])
	if !d.isA(agent, foafNS+"Agent") || literal(agent[foafNS+"name"]) == "" {
		t.Errorf("catalog publisher is not a foaf:Agent with foaf:name: %v", agent)
	}
	if !absolute(iri(cat[dctNS+"spatial"])) {
		t.Errorf("catalog spatial coverage: %v", cat[dctNS+"spatial"])
	}

	// Data Service: title and endpoint URL (mandatory); serves every dataset.
	services := list(cat[dcatNS+"service"])
	if len(services) != 1 {
		t.Fatalf("want one dcat:DataService, got %d", len(services))
	}
	svc := d.props(services[0])
	if !d.isA(svc, dcatNS+"DataService") || literal(svc[dctNS+"title"]) == "" || iri(svc[dcatNS+"endpointURL"]) != "https://statgate.example.org/v1" {
		t.Errorf("data service: %v", svc)
	}
	if got := iri(svc[dcatNS+"endpointDescription"]); got != "https://statgate.example.org/v1/openapi.json" {
		t.Errorf("endpoint description %q", got)
	}
	served := map[string]bool{}
	for _, s := range list(svc[dcatNS+"servesDataset"]) {
		served[iri(s)] = true
	}

	datasets := list(cat[dcatNS+"dataset"])
	if len(datasets) != len(pol.Datasets) {
		t.Fatalf("%d datasets, want the policy's %d", len(datasets), len(pol.Datasets))
	}
	for _, x := range datasets {
		ds := d.props(x)
		name := literal(ds[dctNS+"identifier"])
		pd := pol.Datasets[name]
		if pd == nil || !d.isA(ds, dcatNS+"Dataset") {
			t.Errorf("dataset %q: unknown or not a dcat:Dataset", name)
			continue
		}
		id, _ := ds["@id"].(string)
		if !absolute(id) || !served[id] {
			t.Errorf("%s: @id %q is not absolute or not served by the data service", name, id)
		}
		// Dataset: title and description (mandatory).
		if literal(ds[dctNS+"title"]) != pd.Title || literal(ds[dctNS+"description"]) != pd.Description {
			t.Errorf("%s: title/description differ from the policy's", name)
		}
		// HealthDCAT-AP makes these mandatory for health datasets.
		for _, p := range []string{dctNS + "publisher", dcatNS + "contactPoint", dcatNS + "theme", dctNS + "spatial", dctNS + "accessRights",
			healthNS + "healthCategory", healthNS + "populationCoverage", dpvNS + "hasPersonalData", dpvNS + "hasLegalBasis", dctNS + "conformsTo"} {
			if ds[p] == nil {
				t.Errorf("%s lacks %s", name, p)
			}
		}
		if iri(ds[dctNS+"publisher"]) != agent["@id"] {
			t.Errorf("%s: publisher %q is not the catalogue's agent", name, iri(ds[dctNS+"publisher"]))
		}
		cp := d.props(ds[dcatNS+"contactPoint"])
		if literal(cp[vcardNS+"fn"]) == "" || !strings.HasPrefix(iri(cp[vcardNS+"hasEmail"]), "mailto:") {
			t.Errorf("%s: contact point %v", name, cp)
		}
		theme := d.props(list(ds[dcatNS+"theme"])[0])
		if theme["@id"] != "http://publications.europa.eu/resource/authority/data-theme/HEAL" || literal(theme[skosNS+"prefLabel"]) == "" {
			t.Errorf("%s: theme %v", name, theme)
		}
		cat := d.props(ds[healthNS+"healthCategory"])
		if !d.isA(cat, skosNS+"Concept") || literal(cat[skosNS+"prefLabel"]) != pol.Catalog.Datasets[name].HealthCategory {
			t.Errorf("%s: health category %v", name, cat)
		}
		// Period of Time: start and end from the date columns' public years.
		if name != "population" || ds[dctNS+"temporal"] != nil {
			tp := d.props(ds[dctNS+"temporal"])
			if !d.isA(tp, dctNS+"PeriodOfTime") || literal(tp[dcatNS+"startDate"]) != "2010-01-01" || literal(tp[dcatNS+"endDate"]) != "2024-12-31" {
				t.Errorf("%s: temporal %v", name, tp)
			}
		}
		// Number of records: the data map's rounded figure, never the exact one.
		n := literal(ds[healthNS+"numberOfRecords"])
		switch name {
		case "lmr":
			if n != "330000" {
				t.Errorf("lmr numberOfRecords %q, want the rounded 330000", n)
			}
		case "cancer":
			if n != "1000" {
				t.Errorf("cancer numberOfRecords %q, want the rounded 1000", n)
			}
		case "population":
			if literal(ds[healthNS+"numberOfUniqueIndividuals"]) != "20000" {
				t.Errorf("population numberOfUniqueIndividuals %q", literal(ds[healthNS+"numberOfUniqueIndividuals"]))
			}
		}
		for _, exact := range []string{"330017", "66939", "1021", "1849"} {
			if n == exact {
				t.Errorf("%s: exact size %s published", name, exact)
			}
		}
		// The variables: one csvw:Column per policy column.
		sch := d.props(ds[dctNS+"conformsTo"])
		cols := list(sch[csvwNS+"column"])
		if !d.isA(sch, dctNS+"Standard") || len(cols) != len(pd.Columns) {
			t.Errorf("%s: schema %v with %d columns, want %d", name, sch["@type"], len(cols), len(pd.Columns))
		}
		for i, c := range cols {
			cp := d.props(c)
			if literal(cp[csvwNS+"name"]) != pd.Columns[i].Name || !absolute(iri(cp[csvwNS+"datatype"])) {
				t.Errorf("%s column %d: %v", name, i, cp)
			}
		}
		// Distribution: access URL (mandatory).
		dists := list(ds[dcatNS+"distribution"])
		if len(dists) == 0 {
			t.Errorf("%s has no distribution", name)
		}
		for _, x := range dists {
			dp := d.props(x)
			if !d.isA(dp, dcatNS+"Distribution") || !absolute(iri(dp[dcatNS+"accessURL"])) || iri(dp[dcatNS+"accessService"]) != svc["@id"] {
				t.Errorf("%s distribution %v", name, dp)
			}
		}
	}
	// The coding systems of code columns: ICD-10 on npr.
	for _, x := range datasets {
		ds := d.props(x)
		if literal(ds[dctNS+"identifier"]) == "npr" && iri(ds[healthNS+"hasCodingSystem"]) != "https://www.wikidata.org/entity/P494" {
			t.Errorf("npr coding system %v", ds[healthNS+"hasCodingSystem"])
		}
	}
}

// A policy without a catalog section still yields the mandatory properties.
func TestCatalogueWithoutPolicyCatalogSection(t *testing.T) {
	pol, err := policies.Load("../../policies/norway-synthetic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pol.Catalog = policies.Catalog{}
	b, err := json.Marshal(Build(pol, catalog.New(pol, nil).Datasets(), Options{BaseURL: "http://127.0.0.1:8080"}))
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	if literal(root["dct:title"]) == "" || literal(root["dct:description"]) == "" {
		t.Error("catalogue title or description missing")
	}
	pub, _ := root["dct:publisher"].(map[string]any)
	if pub == nil || pub["foaf:name"] == "" {
		t.Error("publisher without a name")
	}
	for _, x := range list(root["dcat:dataset"]) {
		ds := x.(map[string]any)
		if ds["healthdcatap:numberOfRecords"] != nil {
			t.Errorf("%v: a number of records without known sizes", ds["dct:identifier"])
		}
	}
}
