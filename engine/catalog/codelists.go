package catalog

import (
	"slices"
	"sort"
	"strings"

	"github.com/statgate/statgate/policies"
)

// CodeList is a code list or code system of the data map: the public
// code lists of the policy (column domains) and the label sets of code
// systems, with the columns that use each.
type CodeList struct {
	Name string `json:"name"`
	// Kind is "code_list" (a public domain: every code is listed in
	// results, empty ones too) or "code_system" (names of codes, for
	// reading and search only).
	Kind    string `json:"kind"`
	Source  string `json:"source,omitempty"`
	Licence string `json:"licence,omitempty"`
	// Count is the number of codes.
	Count int `json:"count"`
	// UsedBy lists the columns ("dataset.column") whose domain, prefix
	// domain or code system this is.
	UsedBy []string `json:"used_by"`
	// Codes are the codes with their names (CodeList only; nil in the list).
	Codes []Code `json:"codes,omitempty"`
}

// Code is one code of a code list.
type Code struct {
	Code  string `json:"code"`
	Name  string `json:"name,omitempty"`
	Level string `json:"level,omitempty"`
}

// buildCodeLists collects the code lists and label sets of a policy, by name.
func buildCodeLists(p *policies.Policy) []CodeList {
	by := map[string]*CodeList{}
	for name, codes := range p.CodeLists {
		cl := &CodeList{Name: name, Kind: "code_list", Count: len(codes), UsedBy: []string{}}
		names := map[string]policies.Label{}
		if ls := p.Labels[name]; ls != nil {
			cl.Source, cl.Licence = ls.Source, ls.Licence
			for _, l := range ls.Labels {
				names[l.Code] = l
			}
		}
		for _, c := range codes {
			l := names[c]
			cl.Codes = append(cl.Codes, Code{Code: c, Name: l.Name, Level: l.Level})
		}
		by[name] = cl
	}
	for name, ls := range p.Labels {
		if ls.Kind != "code_system" {
			continue
		}
		cl := &CodeList{Name: name, Kind: "code_system", Source: ls.Source, Licence: ls.Licence, Count: len(ls.Labels), UsedBy: []string{}}
		for _, l := range ls.Labels {
			cl.Codes = append(cl.Codes, Code{Code: l.Code, Name: l.Name, Level: l.Level})
		}
		by[name] = cl
	}
	for _, dn := range sortedNames(p.Datasets) {
		ds := p.Datasets[dn]
		for _, c := range ds.Columns {
			var uses []string
			if c.Domain != nil && c.Domain.CodeList != "" {
				uses = append(uses, c.Domain.CodeList)
			}
			for _, n := range sortedKeys(c.PrefixDomains) {
				if cl := c.PrefixDomains[n].CodeList; cl != "" {
					uses = append(uses, cl)
				}
			}
			if c.CodeSystem != "" {
				uses = append(uses, c.CodeSystem)
			}
			for _, u := range uses {
				if cl := by[u]; cl != nil && !slices.Contains(cl.UsedBy, dn+"."+c.Name) {
					cl.UsedBy = append(cl.UsedBy, dn+"."+c.Name)
				}
			}
		}
	}
	out := make([]CodeList, 0, len(by))
	for _, cl := range by {
		out = append(out, *cl)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

func sortedNames[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// CodeLists returns every code list and code system, by name, without
// their codes.
func (c *Catalog) CodeLists() []CodeList {
	out := make([]CodeList, len(c.codeLists))
	for i, cl := range c.codeLists {
		cl.Codes = nil
		out[i] = cl
	}
	return out
}

// CodeList returns one code list or code system by name (ignoring case)
// with its codes; q, when not empty, keeps the codes whose code or name
// matches its words (as Search matches, synonyms included).
func (c *Catalog) CodeList(name, q string) (CodeList, bool) {
	for _, cl := range c.codeLists {
		if !strings.EqualFold(cl.Name, name) {
			continue
		}
		ws := queryWords(q)
		if len(ws) == 0 {
			cl.Codes = append([]Code(nil), cl.Codes...)
			return cl, true
		}
		var keep []Code
		for _, code := range cl.Codes {
			fw := words(code.Code + " " + code.Name)
			for _, w := range ws {
				if _, ok := matchField(fw, w); ok {
					keep = append(keep, code)
					break
				}
			}
		}
		if keep == nil {
			keep = []Code{}
		}
		cl.Codes = keep
		return cl, true
	}
	return CodeList{}, false
}
