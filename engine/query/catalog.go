package query

import (
	"strings"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// Catalog is what the checker may see: the policy's datasets, and which of
// them the asking project may read. It is immutable and safe for
// concurrent use.
type Catalog struct {
	policy *policies.Policy
	// allowed holds the names of the datasets the project may read.
	allowed map[string]bool
}

// NewCatalog returns the catalog of policy p for a project that may read
// datasets. A dataset of p not in datasets is refused with
// refusal.DatasetNotInProject; a name p does not declare with
// refusal.UnknownDataset.
func NewCatalog(p *policies.Policy, datasets []string) *Catalog {
	c := &Catalog{policy: p, allowed: make(map[string]bool, len(datasets))}
	for _, d := range datasets {
		c.allowed[d] = true
	}
	return c
}

// dataset resolves a table name (case-insensitively, as DuckDB does) to a
// dataset the project may read.
func (c *Catalog) dataset(name string) (*policies.Dataset, error) {
	var ds *policies.Dataset
	if c != nil && c.policy != nil {
		ds = c.policy.Datasets[name]
		if ds == nil {
			for n, d := range c.policy.Datasets {
				if strings.EqualFold(n, name) {
					ds = d
					break
				}
			}
		}
	}
	if ds == nil {
		return nil, refuse(refusal.UnknownDataset, "GET /v1/datasets lists the datasets",
			"%q is not a dataset", name)
	}
	if !c.allowed[ds.Name] {
		return nil, refuse(refusal.DatasetNotInProject, "ask the registry owner to add the dataset to the project, or use another project",
			"dataset %s is not part of this project", ds.Name)
	}
	return ds, nil
}

// knows reports whether the policy declares a dataset named name
// (case-insensitively), whether or not the project may read it.
func (c *Catalog) knows(name string) bool {
	if c == nil || c.policy == nil {
		return false
	}
	for n := range c.policy.Datasets {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// column returns dataset ds's column named name (case-insensitively), or nil.
func column(ds *policies.Dataset, name string) *policies.Column {
	for _, c := range ds.Columns {
		if strings.EqualFold(c.Name, name) {
			return c
		}
	}
	return nil
}

// modelType is the expression type of a policy column.
func modelType(c *policies.Column) Type {
	switch c.Type {
	case policies.TypeDate:
		return TypeDate
	case policies.TypeCode, policies.TypeCategory, policies.TypeString:
		return TypeString
	case policies.TypeInteger:
		return TypeInteger
	case policies.TypeNumber:
		return TypeNumber
	case policyBool:
		return TypeBool
	}
	return TypeUnknown
}
