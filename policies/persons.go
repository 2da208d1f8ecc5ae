package policies

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// DatasetRole says what a dataset is for beyond being queried; "" for an
// ordinary dataset.
type DatasetRole string

// The dataset roles a policy may declare.
const (
	// RolePersons marks the persons register: the one-row-per-person
	// dataset (the population register) that cohort estimates count their
	// persons in and take their breakdown keys from. A policy declares at
	// most one; it must be one_row_per_person.
	RolePersons DatasetRole = "persons"
)

var datasetRoles = []DatasetRole{RolePersons}

// Persons returns the policy's persons register (the dataset with role
// persons), if it declares one.
func (p *Policy) Persons() (*Dataset, bool) {
	for _, ds := range p.Datasets {
		if ds.Role == RolePersons {
			return ds, true
		}
	}
	return nil, false
}

// AgeReferenceYear is the year a cohort's age_band measures age at: the
// last year of the persons register's date_column years (the end of the
// register's date range). ok is false when the dataset declares no birth
// year column, no date column or no years for it.
func (d *Dataset) AgeReferenceYear() (year int, ok bool) {
	if d.BirthYearColumn == "" || d.DateColumn == "" {
		return 0, false
	}
	c, found := d.Column(d.DateColumn)
	if !found || c.Years == nil {
		return 0, false
	}
	return c.Years[1], true
}

// cohortFields decodes and checks the fields cohort estimates read: role,
// birth_year_column and date_column. It runs after the columns and the
// person key are decoded, and after the datasets declared before this one
// (so a second persons register is refused at its own role field).
func (d *decoder) cohortFields(ds *Dataset, f map[string]*yaml.Node, path string) error {
	if n := f["role"]; n != nil {
		r, err := d.str(n, path+".role")
		if err != nil {
			return err
		}
		ds.Role = DatasetRole(r)
		if !slices.Contains(datasetRoles, ds.Role) {
			return d.errf(n, path+".role", "unknown role %q (known: %s)", r, roleList())
		}
		if !ds.OneRowPerPerson {
			return d.errf(n, path+".role", "the persons register must declare one_row_per_person: true (cohorts count each of its rows as one person)")
		}
		if other, ok := d.p.Persons(); ok {
			return d.errf(n, path+".role", "dataset %q already has role persons; a policy declares at most one persons register", other.Name)
		}
	}
	col := func(field string, want ColumnType) (string, error) {
		n := f[field]
		if n == nil {
			return "", nil
		}
		name, err := d.str(n, path+"."+field)
		if err != nil {
			return "", err
		}
		c, ok := ds.Column(name)
		if !ok {
			return "", d.errf(n, path+"."+field, "names no declared column: %q is not in columns", name)
		}
		if c.Type != want {
			return "", d.errf(n, path+"."+field, "column %q has type %s; %s must name a column of type %s", c.Name, c.Type, field, want)
		}
		return c.Name, nil
	}
	var err error
	if ds.DateColumn, err = col("date_column", TypeDate); err != nil {
		return err
	}
	if ds.BirthYearColumn, err = col("birth_year_column", TypeInteger); err != nil {
		return err
	}
	if n := f["birth_year_column"]; n != nil {
		if ds.Role != RolePersons {
			return d.errf(n, path+".birth_year_column", "applies to the persons register only; declare role: persons on this dataset or remove the field")
		}
		if _, ok := ds.AgeReferenceYear(); !ok {
			return d.errf(n, path+".birth_year_column", "age_band is the age at the end of the register's date range: "+
				"name a date column with years: [from, to] in date_column")
		}
	}
	return nil
}

func roleList() string {
	s := make([]string, len(datasetRoles))
	for i, r := range datasetRoles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}
