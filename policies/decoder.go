package policies

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder walks a policy's YAML node tree, checking every field as it
// decodes it, so that errors carry the line and the field path.
type decoder struct {
	file string // as given to Parse, for errors
	dir  string // absolute directory relative paths are resolved against
	p    *Policy
}

var (
	// identRe: names that become SQL identifiers or :placeholders
	// (datasets, columns, template parameters).
	identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// nameRe: other names (code lists, roles, projects, templates,
	// principals), which may appear in URLs and command lines.
	nameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.@-]*$`)
)

// errf returns an *Error at node n (for its line) and field path.
func (d *decoder) errf(n *yaml.Node, path, format string, args ...any) error {
	e := &Error{File: d.file, Field: path, Problem: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line = n.Line
	}
	return e
}

// policy decodes the whole file. Sections are decoded in dependency order
// (code lists, datasets, roles, projects, templates) so that references
// can be checked as they are met.
func (d *decoder) policy(data []byte) (*Policy, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{File: d.file, Problem: fmt.Sprintf("not valid YAML: %v", err), Err: err}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &Error{File: d.file, Problem: "the policy file is empty"}
	}
	root := deref(doc.Content[0])
	f, err := d.fields(root, "", "code_lists", "datasets", "roles", "projects", "templates", "limits", "accounting", "data_map", "code_systems", "catalog")
	if err != nil {
		return nil, err
	}
	d.p = &Policy{
		Datasets:   map[string]*Dataset{},
		Projects:   map[string]*Project{},
		Templates:  map[string]*Template{},
		Roles:      map[string]*Role{},
		CodeLists:  map[string][]string{},
		Labels:     map[string]*LabelSet{},
		Limits:     Limits{MaxQueryCost: DefaultMaxQueryCost},
		Accounting: AccountingZCDP,
	}
	if f["accounting"] != nil {
		a, err := d.str(f["accounting"], "accounting")
		if err != nil {
			return nil, err
		}
		if a != AccountingZCDP && a != AccountingBasic {
			return nil, d.errf(f["accounting"], "accounting", "unknown accounting %q (known: %s, %s)", a, AccountingZCDP, AccountingBasic)
		}
		d.p.Accounting = a
	}
	if err := d.limits(f["limits"]); err != nil {
		return nil, err
	}
	if err := d.dataMap(f["data_map"]); err != nil {
		return nil, err
	}
	if err := d.codeLists(f["code_lists"]); err != nil {
		return nil, err
	}
	if err := d.codeSystems(f["code_systems"]); err != nil {
		return nil, err
	}
	if f["datasets"] == nil {
		return nil, d.errf(root, "datasets", "missing: a policy declares at least one dataset")
	}
	if err := d.datasets(f["datasets"]); err != nil {
		return nil, err
	}
	if err := d.catalog(f["catalog"]); err != nil {
		return nil, err
	}
	if err := d.roles(f["roles"]); err != nil {
		return nil, err
	}
	if err := d.projects(f["projects"]); err != nil {
		return nil, err
	}
	if err := d.templates(f["templates"]); err != nil {
		return nil, err
	}
	return d.p, nil
}

// limits decodes limits: {max_query_cost, max_rows_scanned}.
func (d *decoder) limits(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	f, err := d.fields(n, "limits", "max_query_cost", "max_rows_scanned")
	if err != nil {
		return err
	}
	for _, x := range []struct {
		field string
		dst   *int64
	}{{"max_query_cost", &d.p.Limits.MaxQueryCost}, {"max_rows_scanned", &d.p.Limits.MaxRowsScanned}} {
		if f[x.field] == nil {
			continue
		}
		v, err := d.integer(f[x.field], "limits."+x.field)
		if err != nil {
			return err
		}
		if v < 0 {
			return d.errf(f[x.field], "limits."+x.field, "must be at least 0 (0: no limit), not %d", v)
		}
		*x.dst = int64(v)
	}
	return nil
}

// deref follows YAML aliases.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is absent or an explicit null (`key:` with no value).
func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// join extends a field path.
func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// fields checks that n is a mapping whose keys are all in allowed, each at
// most once, and returns the value node of each key present.
func (d *decoder) fields(n *yaml.Node, path string, allowed ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		what := "a mapping of fields"
		if path == "" {
			what = "a mapping with sections " + strings.Join(allowed, ", ")
		}
		return nil, d.errf(n, path, "must be %s, not %s", what, kindName(n))
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		name := k.Value
		if k.Kind != yaml.ScalarNode || !slices.Contains(allowed, name) {
			return nil, d.errf(k, join(path, name), "unknown field %q (known fields: %s)", name, strings.Join(allowed, ", "))
		}
		if _, dup := out[name]; dup {
			return nil, d.errf(k, join(path, name), "field given twice")
		}
		out[name] = v
	}
	return out, nil
}

// entry is one named item of a mapping such as datasets or columns.
type entry struct {
	name string
	key  *yaml.Node
	val  *yaml.Node
}

// entries returns the items of a mapping of named things, in file order,
// refusing a name given twice (ignoring case when fold is set, as SQL
// identifiers do) or not matching re. A null node has no entries.
func (d *decoder) entries(n *yaml.Node, path, what string, re *regexp.Regexp, fold bool) ([]entry, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, d.errf(n, path, "must be a mapping of %s by name, not %s", what, kindName(n))
	}
	seen := map[string]bool{}
	var out []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			return nil, d.errf(k, path, "%s names must be plain text", what)
		}
		name := k.Value
		if !re.MatchString(name) {
			return nil, d.errf(k, join(path, name), "%q is not a valid %s name (allowed: %s)", name, what, describeRe(re))
		}
		key := name
		if fold {
			key = strings.ToLower(name)
		}
		if seen[key] {
			return nil, d.errf(k, join(path, name), "duplicate %s name %q", what, name)
		}
		seen[key] = true
		out = append(out, entry{name: name, key: k, val: v})
	}
	return out, nil
}

// describeRe says in words which names re allows.
func describeRe(re *regexp.Regexp) string {
	if re == identRe {
		return "letters, digits and _, not starting with a digit"
	}
	return "letters, digits and _ . @ -, starting with a letter, digit or _"
}

// kindName names a node's kind for error messages.
func kindName(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "empty"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.ShortTag() == "!!int" || n.ShortTag() == "!!float":
		return "a number"
	case n.ShortTag() == "!!bool":
		return "a boolean"
	default:
		return "text"
	}
}

// str decodes a non-empty scalar as text. Numbers and booleans are taken
// as written.
func (d *decoder) str(n *yaml.Node, path string) (string, error) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return "", d.errf(n, path, "must be text, not %s", kindName(n))
	}
	if strings.TrimSpace(n.Value) == "" {
		return "", d.errf(n, path, "must not be empty")
	}
	return n.Value, nil
}

// optStr decodes an optional text field; absent gives "".
func (d *decoder) optStr(n *yaml.Node, path string) (string, error) {
	if n == nil {
		return "", nil
	}
	return d.str(n, path)
}

// float decodes a finite number.
func (d *decoder) float(n *yaml.Node, path string) (float64, error) {
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") {
		return 0, d.errf(n, path, "must be a number, not %s", kindName(n))
	}
	var f float64
	if err := n.Decode(&f); err != nil {
		return 0, d.errf(n, path, "must be a number")
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, d.errf(n, path, "must be a finite number")
	}
	return f, nil
}

// integer decodes an integer.
func (d *decoder) integer(n *yaml.Node, path string) (int, error) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return 0, d.errf(n, path, "must be an integer, not %s", kindName(n))
	}
	var i int
	if err := n.Decode(&i); err != nil {
		return 0, d.errf(n, path, "must be an integer that fits in %d bits", strconv.IntSize)
	}
	return i, nil
}

// boolean decodes true or false.
func (d *decoder) boolean(n *yaml.Node, path string) (bool, error) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return false, d.errf(n, path, "must be true or false, not %s", kindName(n))
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		return false, d.errf(n, path, "must be true or false")
	}
	return b, nil
}

// pair checks that n is a list of exactly two items.
func (d *decoder) pair(n *yaml.Node, path, shape string) (lo, hi *yaml.Node, err error) {
	if n.Kind != yaml.SequenceNode || len(n.Content) != 2 {
		return nil, nil, d.errf(n, path, "must be a list of two numbers %s", shape)
	}
	return deref(n.Content[0]), deref(n.Content[1]), nil
}

// floatPair decodes [lo, hi] with lo <= hi.
func (d *decoder) floatPair(n *yaml.Node, path string) (*[2]float64, error) {
	ln, hn, err := d.pair(n, path, "[lo, hi]")
	if err != nil {
		return nil, err
	}
	lo, err := d.float(ln, path+"[0]")
	if err != nil {
		return nil, err
	}
	hi, err := d.float(hn, path+"[1]")
	if err != nil {
		return nil, err
	}
	if lo > hi {
		return nil, d.errf(n, path, "lo %s > hi %s", fmtNum(lo), fmtNum(hi))
	}
	return &[2]float64{lo, hi}, nil
}

// intPair decodes [lo, hi] of integers with lo <= hi.
func (d *decoder) intPair(n *yaml.Node, path, shape string) (*[2]int, error) {
	ln, hn, err := d.pair(n, path, shape)
	if err != nil {
		return nil, err
	}
	lo, err := d.integer(ln, path+"[0]")
	if err != nil {
		return nil, err
	}
	hi, err := d.integer(hn, path+"[1]")
	if err != nil {
		return nil, err
	}
	if lo > hi {
		return nil, d.errf(n, path, "lo %d > hi %d", lo, hi)
	}
	return &[2]int{lo, hi}, nil
}

// strList decodes a non-empty list of distinct, non-empty scalars.
func (d *decoder) strList(n *yaml.Node, path, what string) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, d.errf(n, path, "must be a list of %s, not %s", what, kindName(n))
	}
	if len(n.Content) == 0 {
		return nil, d.errf(n, path, "must list at least one of %s", what)
	}
	out := make([]string, 0, len(n.Content))
	seen := make(map[string]bool, len(n.Content))
	for i, c := range n.Content {
		s, err := d.str(deref(c), fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		if seen[s] {
			return nil, d.errf(c, fmt.Sprintf("%s[%d]", path, i), "%q is listed twice", s)
		}
		seen[s] = true
		out = append(out, s)
	}
	return out, nil
}

// fmtNum formats a number the shortest way that reads it back exactly.
func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
