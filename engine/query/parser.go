package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/statgate/statgate/engine/refusal"
)

// parserDSN configures the parser's in-memory DuckDB: no file or network
// access, no extension loading, one thread and little memory (it only ever
// runs json_serialize_sql).
const parserDSN = "?enable_external_access=false&autoload_known_extensions=false" +
	"&autoinstall_known_extensions=false&threads=1&memory_limit=64MB"

// Parser parses SQL with DuckDB's own parser. It owns a locked-down
// in-memory DuckDB that holds no data and only serialises parse trees. It
// is safe for concurrent use.
type Parser struct {
	db *sql.DB
	// serialize is json_serialize_sql prepared once (database/sql prepares
	// it again on each pooled connection that first runs it, then reuses it).
	serialize *sql.Stmt
}

// NewParser opens the parser's in-memory DuckDB and locks its
// configuration. Close releases it.
func NewParser(ctx context.Context) (*Parser, error) {
	conn, err := duckdb.NewConnector(parserDSN, nil)
	if err != nil {
		return nil, fmt.Errorf("query.NewParser: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	if _, err := db.ExecContext(ctx, "SET lock_configuration = true"); err != nil {
		return nil, errors.Join(fmt.Errorf("query.NewParser: locking the configuration: %w", err), db.Close())
	}
	stmt, err := db.PrepareContext(ctx, serializeSQL)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("query.NewParser: preparing the parser call: %w", err), db.Close())
	}
	return &Parser{db: db, serialize: stmt}, nil
}

// serializeSQL is the one statement the parser's DuckDB runs.
const serializeSQL = "SELECT json_serialize_sql($1::VARCHAR)::VARCHAR"

// Close releases the parser's DuckDB.
func (p *Parser) Close() error {
	if err := errors.Join(p.serialize.Close(), p.db.Close()); err != nil {
		return fmt.Errorf("query.Parser.Close: %w", err)
	}
	return nil
}

// Parse parses text into an AST with DuckDB's parser. It refuses (with a
// *refusal.Error) text longer than MaxQueryLength characters, text that
// does not parse, statements other than SELECT, and several statements.
// Parse executes nothing: json_serialize_sql only parses.
func (p *Parser) Parse(ctx context.Context, text string) (*AST, error) {
	if !utf8.ValidString(text) {
		return nil, refuse(refusal.ParseError, "send the query as UTF-8 text", "the query is not valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(text); n > MaxQueryLength {
		return nil, refuse(refusal.QueryTooLong, "shorten the query (long IN lists can often be written with LIKE or BETWEEN)",
			"the query is %d characters long; at most %d are accepted", n, MaxQueryLength)
	}
	if strings.ContainsRune(text, 0) {
		return nil, refuse(refusal.ParseError, "remove the NUL character", "the query contains a NUL character")
	}
	var out string
	if err := p.serialize.QueryRowContext(ctx, text).Scan(&out); err != nil {
		return nil, fmt.Errorf("query.Parse: %w", err)
	}
	return decodeAST([]byte(out))
}

// Compile parses text and checks it against the catalog: Parse + Check.
func (p *Parser) Compile(ctx context.Context, text string, c *Catalog) (*Query, error) {
	ast, err := p.Parse(ctx, text)
	if err != nil {
		return nil, err
	}
	return Check(ast, c)
}

// CompileTemplate parses a template's SQL, written with DuckDB's $name
// parameters, and checks it with the parameters params declares:
// Parse + CheckTemplate. It runs once per template, when the engine
// starts; each run binds its values with Bind.
func (p *Parser) CompileTemplate(ctx context.Context, text string, c *Catalog, params map[string]Type) (*Query, error) {
	ast, err := p.Parse(ctx, text)
	if err != nil {
		return nil, err
	}
	return CheckTemplate(ast, c, params)
}

// CompileWhere checks a row condition over one dataset, as cohort criteria
// give it: the text that may follow WHERE in
//
//	SELECT count(*) FROM <dataset> WHERE <where>
//
// Anything that makes that query more than one SELECT with one WHERE
// condition (a closing parenthesis and a UNION, a GROUP BY, a LIMIT, a
// second statement, ...) is refused with refusal.WhereNotACondition. Column
// references in the result are qualified with the dataset's name. A blank
// where returns (nil, nil): no condition.
func (p *Parser) CompileWhere(ctx context.Context, dataset, where string, c *Catalog) (Expr, error) {
	ds, err := c.dataset(dataset)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(where) == "" {
		return nil, nil
	}
	ast, err := p.Parse(ctx, "SELECT count(*) FROM "+quoteIdent(ds.Name)+" WHERE "+where)
	if err != nil {
		if code := refusal.CodeOf(err); code == refusal.MultipleStatements || code == refusal.NotASelect {
			return nil, whereNotCondition(ds.Name)
		}
		return nil, err
	}
	if err := ast.refuseParams(); err != nil {
		return nil, err
	}
	if !isCountWhereShape(ast.stmt, ds.Name) {
		return nil, whereNotCondition(ds.Name)
	}
	ck := newChecker(c)
	if err := ck.addTable(ds, ds.Name); err != nil {
		return nil, err
	}
	return ck.where(ast.stmt.obj("where_clause"))
}

func whereNotCondition(dataset string) error {
	return refuse(refusal.WhereNotACondition, "write only a row condition, e.g. icd10 LIKE 'E11%' AND contact_type = 'inpatient'",
		"the criterion on %s must be a single WHERE condition over its columns", dataset)
}

// isCountWhereShape reports whether n is exactly
// SELECT count(*) FROM <dataset> WHERE <condition>.
func isCountWhereShape(n node, dataset string) bool {
	if n.kind() != "SELECT_NODE" || n.set("modifiers") || len(n.obj("cte_map").list("map")) > 0 ||
		n.set("group_expressions") || n.set("group_sets") || n.set("having") || n.set("qualify") ||
		n.set("sample") || n.obj("where_clause") == nil {
		return false
	}
	if h := n.str("aggregate_handling"); h != "" && h != "STANDARD_HANDLING" {
		return false
	}
	sel, ok := n.nodes("select_list")
	if !ok || len(sel) != 1 {
		return false
	}
	f := sel[0]
	if f.class() != "FUNCTION" || f.str("function_name") != "count_star" || f.set("alias") ||
		f.set("children") || f.set("filter") || f.flag("distinct") || len(f.obj("order_bys").list("orders")) > 0 {
		return false
	}
	t := n.obj("from_table")
	return t.kind() == "BASE_TABLE" && t.str("table_name") == dataset && !t.set("alias") &&
		!t.set("schema_name") && !t.set("catalog_name") && !t.set("sample") && !t.set("at_clause") &&
		!t.set("column_name_alias")
}

// quoteIdent quotes a SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
