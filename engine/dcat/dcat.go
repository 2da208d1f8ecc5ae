// Package dcat describes the data map as a DCAT-AP 3 catalogue with the
// HealthDCAT-AP properties that apply, in JSON-LD: a dcat:Catalog of one
// dcat:Dataset per policy dataset (title, description, publisher, contact
// point, theme, temporal and spatial coverage, health category, population
// coverage, number of records as a rounded figure, personal data, legal
// basis, its columns as a CSVW table schema under dct:conformsTo, and a
// distribution through the API) and a dcat:DataService for the statgate
// API. It reads only the policy and the data map (engine/catalog), whose
// sizes are already rounded: nothing in it depends on any one person.
package dcat

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/policies"
)

// MediaType is the media type of the JSON-LD document.
const MediaType = "application/ld+json"

// Context is the document's @context: the vocabularies' prefixes.
var Context = map[string]string{
	"dcat":         "http://www.w3.org/ns/dcat#",
	"dct":          "http://purl.org/dc/terms/",
	"foaf":         "http://xmlns.com/foaf/0.1/",
	"vcard":        "http://www.w3.org/2006/vcard/ns#",
	"skos":         "http://www.w3.org/2004/02/skos/core#",
	"xsd":          "http://www.w3.org/2001/XMLSchema#",
	"rdfs":         "http://www.w3.org/2000/01/rdf-schema#",
	"csvw":         "http://www.w3.org/ns/csvw#",
	"dpv":          "https://w3id.org/dpv#",
	"dpv-pd":       "https://w3id.org/dpv/pd#",
	"healthdcatap": "http://healthdataportal.eu/ns/health#",
}

// EU vocabularies the catalogue uses.
const (
	themeHealth = "http://publications.europa.eu/resource/authority/data-theme/HEAL"
	nonPublic   = "http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC"
	formatJSON  = "http://publications.europa.eu/resource/authority/file-type/JSON"
	countryNOR  = "http://publications.europa.eu/resource/authority/country/NOR"
)

// codingSystems maps a policy code system to its Wikidata property (how
// HealthDCAT-AP names coding systems).
var codingSystems = map[string]string{
	"ICD-10": "https://www.wikidata.org/entity/P494",
	"ATC":    "https://www.wikidata.org/entity/P267",
}

// Options say where the catalogue's resources live.
type Options struct {
	// BaseURL is the API's base, e.g. https://statgate.example.org (no
	// trailing slash); the IRIs of datasets and the service hang from it.
	BaseURL string
}

// node is a JSON-LD node object.
type node = map[string]any

func text(s string) node     { return node{"@value": s, "@language": "en"} }
func ref(iri string) node    { return node{"@id": iri} }
func typed(v, t string) node { return node{"@value": v, "@type": t} }

// Build returns the JSON-LD document of the catalogue of pol's datasets
// as the data map describes them.
func Build(pol *policies.Policy, datasets []catalog.Dataset, o Options) node {
	base := strings.TrimRight(o.BaseURL, "/")
	c := pol.Catalog
	publisher := node{
		"@id":       base + "/#publisher",
		"@type":     "foaf:Agent",
		"foaf:name": orDefault(c.Publisher.Name, "statgate operator"),
	}
	if c.Publisher.Homepage != "" {
		publisher["foaf:homepage"] = ref(c.Publisher.Homepage)
	}
	spatial := orDefault(c.Spatial, countryNOR)
	service := node{
		"@id":                      base + "/v1",
		"@type":                    "dcat:DataService",
		"dct:title":                text("statgate API: differentially private aggregate statistics"),
		"dct:description":          text("Aggregate SQL, approved templates and cohort estimates over the datasets, answered with per-person contribution bounds, differential-privacy noise, minimum cell counts and a durable privacy budget; no row-level data leaves."),
		"dcat:endpointURL":         ref(base + "/v1"),
		"dcat:endpointDescription": ref(base + "/v1/openapi.json"),
		"dct:accessRights":         ref(nonPublic),
		"dct:publisher":            ref(publisher["@id"].(string)),
	}
	var served []any
	var ds []any
	for _, d := range datasets {
		n := dataset(pol, d, base, publisher["@id"].(string), spatial, service["@id"].(string))
		ds = append(ds, n)
		served = append(served, ref(n["@id"].(string)))
	}
	service["dcat:servesDataset"] = served
	cat := node{
		"@context":           Context,
		"@id":                base + "/v1/catalog.jsonld",
		"@type":              "dcat:Catalog",
		"dct:title":          text(orDefault(c.Title, "statgate catalogue")),
		"dct:description":    text(orDefault(c.Description, "Datasets answered through statgate as differentially private aggregates.")),
		"dct:publisher":      publisher,
		"dct:spatial":        ref(spatial),
		"dcat:themeTaxonomy": ref("http://publications.europa.eu/resource/authority/data-theme"),
		"dcat:service":       []any{service},
		"dcat:dataset":       ds,
	}
	if c.Language != "" {
		cat["dct:language"] = ref(c.Language)
	}
	return cat
}

func dataset(pol *policies.Policy, d catalog.Dataset, base, publisher, spatial, service string) node {
	c := pol.Catalog
	cd := c.Datasets[d.Name]
	id := base + "/v1/datasets/" + d.Name
	n := node{
		"@id":                 id,
		"@type":               "dcat:Dataset",
		"dct:identifier":      d.Name,
		"dct:title":           text(d.Title),
		"dct:description":     text(orDefault(d.Description, d.Title)),
		"dct:publisher":       ref(publisher),
		"dcat:theme":          node{"@id": themeHealth, "@type": "skos:Concept", "skos:prefLabel": text("Health")},
		"dct:spatial":         ref(spatial),
		"dct:accessRights":    ref(nonPublic),
		"dpv:hasPersonalData": []any{ref("https://w3id.org/dpv/pd#Health")},
		"dct:conformsTo":      schema(d, id),
		"dcat:distribution": []any{node{
			"@id":                id + "#api",
			"@type":              "dcat:Distribution",
			"dct:title":          text("Differentially private aggregates through the statgate API"),
			"dcat:accessURL":     ref(base + "/v1"),
			"dcat:accessService": ref(service),
			"dct:format":         ref(formatJSON),
			"dcat:mediaType":     ref("https://www.iana.org/assignments/media-types/application/json"),
			"dct:accessRights":   ref(nonPublic),
		}},
	}
	if c.Publisher.Email != "" || c.Publisher.Name != "" {
		cp := node{"@type": "vcard:Organization", "vcard:fn": orDefault(c.Publisher.Name, "statgate operator")}
		if c.Publisher.Email != "" {
			cp["vcard:hasEmail"] = ref("mailto:" + c.Publisher.Email)
		}
		n["dcat:contactPoint"] = cp
	}
	if lo, hi, ok := years(pol.Datasets[d.Name]); ok {
		n["dct:temporal"] = node{
			"@type":          "dct:PeriodOfTime",
			"dcat:startDate": typed(fmt.Sprintf("%d-01-01", lo), "xsd:date"),
			"dcat:endDate":   typed(fmt.Sprintf("%d-12-31", hi), "xsd:date"),
		}
	}
	if cd.HealthCategory != "" {
		n["healthdcatap:healthCategory"] = node{"@type": "skos:Concept", "skos:prefLabel": text(cd.HealthCategory)}
	}
	if cd.PopulationCoverage != "" {
		n["healthdcatap:populationCoverage"] = text(cd.PopulationCoverage)
	}
	if d.ApproxRows > 0 {
		// Rounded to two significant figures (the data map's size), never exact.
		n["healthdcatap:numberOfRecords"] = typed(strconv.FormatInt(d.ApproxRows, 10), "xsd:nonNegativeInteger")
		if d.OneRowPerPerson {
			n["healthdcatap:numberOfUniqueIndividuals"] = typed(strconv.FormatInt(d.ApproxRows, 10), "xsd:nonNegativeInteger")
		}
	}
	n["rdfs:comment"] = text("Number of records: " + d.Size + " (rounded to two significant figures). Only aggregates are released, each with differential-privacy noise; cells under " + strconv.Itoa(d.Bounding.MinCellCount) + " persons are suppressed.")
	if c.LegalBasis != "" {
		n["dpv:hasLegalBasis"] = node{"@type": "dpv:LegalBasis", "dct:description": text(c.LegalBasis)}
	}
	var coding []any
	seen := map[string]bool{}
	for _, col := range d.Columns {
		if iri, ok := codingSystems[col.CodeSystem]; ok && !seen[iri] {
			seen[iri] = true
			coding = append(coding, ref(iri))
		}
	}
	if coding != nil {
		n["healthdcatap:hasCodingSystem"] = coding
	}
	return n
}

// schema describes a dataset's columns as a CSVW table schema.
func schema(d catalog.Dataset, id string) node {
	cols := make([]any, 0, len(d.Columns))
	for _, c := range d.Columns {
		col := node{
			"@type":         "csvw:Column",
			"csvw:name":     c.Name,
			"csvw:datatype": ref(xsdType(c.Type)),
		}
		if c.Description != "" {
			col["dct:description"] = text(c.Description)
		}
		if c.PublicDomain != nil {
			col["rdfs:comment"] = text("public domain: " + c.PublicDomain.Summary)
		}
		if c.CodeSystem != "" {
			col["dct:conformsTo"] = c.CodeSystem
		}
		cols = append(cols, col)
	}
	return node{
		"@id":         id + "#schema",
		"@type":       []any{"dct:Standard", "csvw:Schema"},
		"dct:title":   text("Columns of " + d.Name),
		"csvw:column": cols,
	}
}

// xsdType maps a policy column type to an XML Schema datatype.
func xsdType(t string) string {
	switch t {
	case "integer":
		return "http://www.w3.org/2001/XMLSchema#integer"
	case "number":
		return "http://www.w3.org/2001/XMLSchema#decimal"
	case "date":
		return "http://www.w3.org/2001/XMLSchema#date"
	}
	return "http://www.w3.org/2001/XMLSchema#string"
}

// years is the range of the years declared on a dataset's date columns.
func years(d *policies.Dataset) (lo, hi int, ok bool) {
	if d == nil {
		return 0, 0, false
	}
	for _, c := range d.Columns {
		if c.Years == nil {
			continue
		}
		if !ok || c.Years[0] < lo {
			lo = c.Years[0]
		}
		if !ok || c.Years[1] > hi {
			hi = c.Years[1]
		}
		ok = true
	}
	return lo, hi, ok
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
