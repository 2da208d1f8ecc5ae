package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/statgate/statgate/engine/refusal"
)

// AST is DuckDB's parse tree of one SELECT statement, as json_serialize_sql
// returns it. It is what Check reads; it is immutable and safe for
// concurrent reads.
type AST struct {
	// JSON is DuckDB's serialisation of the whole input (one statement).
	JSON []byte
	// stmt is the statement's "node" object.
	stmt node
	// params are the names of the statement's prepared-statement
	// parameters ($name; "1" for $1 and ?), from DuckDB's named_param_map.
	// Only a template may have them (CheckTemplate).
	params []string
}

// nonFiniteAt reports whether err is a JSON syntax error at a token DuckDB
// writes for a non-finite DOUBLE constant: a literal that overflows, such as
// 1e400, is serialised as a bare Infinity (or -Infinity), which is not JSON.
func nonFiniteAt(data []byte, err error) bool {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return false
	}
	// Offset is just past the offending byte (the I of -Infinity).
	at := int(se.Offset) - 1
	if at < 0 || at >= len(data) {
		return false
	}
	rest := data[at:]
	return bytes.HasPrefix(rest, []byte("Infinity")) || bytes.HasPrefix(rest, []byte("NaN"))
}

// node is one JSON object of DuckDB's serialisation. Its accessors never
// panic: a missing field or a field of another JSON type reads as empty.
type node map[string]any

// decodeAST decodes json_serialize_sql output into an AST. It refuses parse
// errors, statements other than SELECT, empty input and several statements.
func decodeAST(data []byte) (*AST, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		if nonFiniteAt(data, err) {
			return nil, refuse(refusal.BadLiteral, "write numbers between about -1.7e308 and 1.7e308",
				"a numeric constant is not a finite number")
		}
		return nil, fmt.Errorf("query.Parse: decoding DuckDB's parse tree: %w", err)
	}
	r := node(root)
	if b, _ := r["error"].(bool); b {
		msg := r.str("error_message")
		if strings.Contains(msg, "Only SELECT") {
			return nil, refuse(refusal.NotASelect, "ask one aggregate SELECT query",
				"only a SELECT query can be asked; commands (COPY, ATTACH, PRAGMA, SET, INSTALL, LOAD, CREATE, INSERT, EXPLAIN, ...) are not accepted")
		}
		if msg == "" {
			msg = "the query could not be parsed"
		}
		return nil, refuse(refusal.ParseError, "check the SQL syntax (DuckDB dialect)", "%s", msg)
	}
	stmts := r.list("statements")
	switch len(stmts) {
	case 0:
		return nil, refuse(refusal.EmptyQuery, "send one aggregate SELECT query", "the query is empty")
	case 1:
	default:
		return nil, refuse(refusal.MultipleStatements, "send one statement per request",
			"the text holds %d statements; only one SELECT is accepted", len(stmts))
	}
	st := asNode(stmts[0])
	params, ok := paramNames(st)
	if !ok {
		return nil, refuse(refusal.ParameterNotAllowed, "write constants into the query", "the query's parameters are not understood")
	}
	n := st.obj("node")
	if n == nil {
		return nil, fmt.Errorf("query.Parse: DuckDB's parse tree has no statement node")
	}
	return &AST{JSON: data, stmt: n, params: params}, nil
}

// paramNames reads the names of a statement's named_param_map, a list of
// {"key": name, "value": index}; ok is false when it has another shape.
func paramNames(st node) (names []string, ok bool) {
	switch m := st["named_param_map"].(type) {
	case nil:
		return nil, true
	case map[string]any:
		return nil, len(m) == 0
	case []any:
		for _, e := range m {
			name, isStr := asNode(e)["key"].(string)
			if !isStr {
				return nil, false
			}
			names = append(names, name)
		}
		return names, true
	}
	return nil, false
}

// refuseParams refuses a statement with parameters where no template
// declares them (ad-hoc SQL and cohort criteria).
func (a *AST) refuseParams() error {
	if len(a.params) > 0 {
		return refuse(refusal.ParameterNotAllowed, "write constants into the query", "query parameters are not supported")
	}
	return nil
}

// asNode returns v as a node, or nil when v is not a JSON object.
func asNode(v any) node {
	m, _ := v.(map[string]any)
	return m
}

// str returns the string field k, or "".
func (n node) str(k string) string {
	s, _ := n[k].(string)
	return s
}

// flag returns the boolean field k, or false.
func (n node) flag(k string) bool {
	b, _ := n[k].(bool)
	return b
}

// obj returns the object field k, or nil.
func (n node) obj(k string) node {
	return asNode(n[k])
}

// strictObj returns the object field k, nil when it is missing or null, and
// ok false when it holds something else.
func (n node) strictObj(k string) (node, bool) {
	v := n[k]
	if v == nil {
		return nil, true
	}
	m, ok := v.(map[string]any)
	return m, ok
}

// list returns the array field k, or nil.
func (n node) list(k string) []any {
	l, _ := n[k].([]any)
	return l
}

// nodes returns the array field k's elements that are objects; ok is false
// when some element is not an object.
func (n node) nodes(k string) (out []node, ok bool) {
	for _, v := range n.list(k) {
		c := asNode(v)
		if c == nil {
			return nil, false
		}
		out = append(out, c)
	}
	return out, true
}

// strings returns the array field k's elements that are strings; ok is
// false when some element is not a string.
func (n node) strings(k string) (out []string, ok bool) {
	for _, v := range n.list(k) {
		s, isStr := v.(string)
		if !isStr {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// set reports whether field k holds something: not missing, null, false,
// "", an empty array or an empty object.
func (n node) set(k string) bool {
	return !isEmpty(n[k])
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// int returns the integer field k; ok is false when it is not an integer.
func (n node) int(k string) (int64, bool) {
	num, isNum := n[k].(json.Number)
	if !isNum {
		return 0, false
	}
	i, err := num.Int64()
	return i, err == nil
}

// class is the expression class (COLUMN_REF, FUNCTION, ...).
func (n node) class() string { return n.str("class") }

// kind is the "type" field (COMPARE_EQUAL, BASE_TABLE, SELECT_NODE, ...).
func (n node) kind() string { return n.str("type") }
