package policies

import (
	"net/url"

	"gopkg.in/yaml.v3"
)

// Catalog is what a registry owner says about its data for metadata
// catalogues (DCAT-AP / HealthDCAT-AP, engine/dcat): who publishes it,
// where, on what legal basis, and per dataset its health category and the
// population it covers. Every field is optional; the export fills in what
// is missing from the datasets themselves.
type Catalog struct {
	// Title and Description of the catalogue.
	Title, Description string
	// Publisher is the organisation that publishes the data.
	Publisher Publisher
	// Spatial is the geographical coverage, an IRI (e.g. the EU country
	// authority's http://publications.europa.eu/resource/authority/country/NOR).
	Spatial string
	// LegalBasis names the legal basis of the processing (dpv:hasLegalBasis).
	LegalBasis string
	// Language is the IRI of the metadata's language.
	Language string
	// Datasets hold per-dataset catalogue facts, by dataset name.
	Datasets map[string]CatalogDataset
}

// Publisher is a catalogue's publishing organisation.
type Publisher struct {
	Name, Homepage, Email string
}

// CatalogDataset is what a catalogue says of one dataset beyond its
// title and description.
type CatalogDataset struct {
	// HealthCategory is the dataset's category of health data (the EHDS's
	// categories for secondary use, e.g. "population-based health data registries").
	HealthCategory string
	// PopulationCoverage describes the population the dataset covers.
	PopulationCoverage string
}

// catalog decodes the optional catalog section; it must follow datasets.
func (d *decoder) catalog(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	f, err := d.fields(n, "catalog", "title", "description", "publisher", "spatial", "legal_basis", "language", "datasets")
	if err != nil {
		return err
	}
	c := &d.p.Catalog
	for _, x := range []struct {
		field string
		dst   *string
		iri   bool
	}{{"title", &c.Title, false}, {"description", &c.Description, false}, {"spatial", &c.Spatial, true},
		{"legal_basis", &c.LegalBasis, false}, {"language", &c.Language, true}} {
		if *x.dst, err = d.optStr(f[x.field], "catalog."+x.field); err != nil {
			return err
		}
		if x.iri && *x.dst != "" {
			if err := d.iri(f[x.field], "catalog."+x.field, *x.dst); err != nil {
				return err
			}
		}
	}
	if p := f["publisher"]; !isNull(p) {
		pf, err := d.fields(p, "catalog.publisher", "name", "homepage", "email")
		if err != nil {
			return err
		}
		if c.Publisher.Name, err = d.str(pf["name"], "catalog.publisher.name"); pf["name"] == nil || err != nil {
			if err == nil {
				err = d.errf(p, "catalog.publisher.name", "missing: a publisher has a name")
			}
			return err
		}
		if c.Publisher.Homepage, err = d.optStr(pf["homepage"], "catalog.publisher.homepage"); err != nil {
			return err
		}
		if c.Publisher.Homepage != "" {
			if err := d.iri(pf["homepage"], "catalog.publisher.homepage", c.Publisher.Homepage); err != nil {
				return err
			}
		}
		if c.Publisher.Email, err = d.optStr(pf["email"], "catalog.publisher.email"); err != nil {
			return err
		}
	}
	es, err := d.entries(f["datasets"], "catalog.datasets", "dataset", nameRe, false)
	if err != nil {
		return err
	}
	for _, e := range es {
		path := join("catalog.datasets", e.name)
		if d.p.Datasets[e.name] == nil {
			return d.errf(e.key, path, "no dataset %q is declared under datasets", e.name)
		}
		df, err := d.fields(e.val, path, "health_category", "population_coverage")
		if err != nil {
			return err
		}
		var cd CatalogDataset
		if cd.HealthCategory, err = d.optStr(df["health_category"], path+".health_category"); err != nil {
			return err
		}
		if cd.PopulationCoverage, err = d.optStr(df["population_coverage"], path+".population_coverage"); err != nil {
			return err
		}
		if c.Datasets == nil {
			c.Datasets = map[string]CatalogDataset{}
		}
		c.Datasets[e.name] = cd
	}
	return nil
}

// iri checks that s is an absolute http(s) IRI.
func (d *decoder) iri(n *yaml.Node, path, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return d.errf(n, path, "must be an absolute http(s) IRI, not %q", s)
	}
	return nil
}
