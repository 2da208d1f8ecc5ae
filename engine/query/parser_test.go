package query

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
)

func TestParserLockedDown(t *testing.T) {
	ctx := t.Context()
	for _, stmt := range []string{
		"SET enable_external_access = true",
		"SET autoload_known_extensions = true",
		"SET lock_configuration = false",
	} {
		t.Run(stmt, func(t *testing.T) {
			if _, err := testParser.db.ExecContext(ctx, stmt); err == nil {
				t.Fatalf("%s succeeded on the parser's DuckDB; the configuration must be locked", stmt)
			}
		})
	}
	var access string
	if err := testParser.db.QueryRowContext(ctx, "SELECT current_setting('enable_external_access')::VARCHAR").Scan(&access); err != nil {
		t.Fatal(err)
	}
	if access != "false" {
		t.Errorf("enable_external_access = %s, want false", access)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		desc     string
		sql      string
		wantCode refusal.Code // zero = success
	}{
		{"select", "SELECT count(*) FROM npr", refusal.Code{}},
		{"trailing semicolon", "SELECT count(*) FROM npr;", refusal.Code{}},
		{"at the length limit", "SELECT count(*) FROM npr " + strings.Repeat(" ", MaxQueryLength-len("SELECT count(*) FROM npr ")), refusal.Code{}},
		{"one past the length limit", "SELECT count(*) FROM npr " + strings.Repeat(" ", MaxQueryLength-len("SELECT count(*) FROM npr ")+1), refusal.QueryTooLong},
		{"limit counts characters, not bytes", "SELECT count(*) FROM npr WHERE hospital = '" + strings.Repeat("ø", MaxQueryLength-60) + "'", refusal.Code{}},
		{"invalid UTF-8", "SELECT count(*) FROM npr WHERE icd10 = '\xff'", refusal.ParseError},
		{"NUL", "SELECT count(*) FROM npr WHERE icd10 = '\x00'", refusal.ParseError},
		{"blank", "   \n\t", refusal.EmptyQuery},
		{"syntax error", "SELECT FROM WHERE", refusal.ParseError},
		{"two selects", "SELECT 1; SELECT 2", refusal.MultipleStatements},
		{"copy", "COPY npr TO 'x.csv'", refusal.NotASelect},
		{"attach", "ATTACH 'x.db'", refusal.NotASelect},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ast, err := testParser.Parse(t.Context(), tc.sql)
			if tc.wantCode == (refusal.Code{}) {
				if err != nil {
					t.Fatal(err)
				}
				if ast.stmt.kind() != "SELECT_NODE" || len(ast.JSON) == 0 {
					t.Fatalf("AST = %s", ast.JSON)
				}
				return
			}
			if got := refusal.CodeOf(err); got != tc.wantCode {
				t.Fatalf("error %v (code %q), want code %s", err, got, tc.wantCode)
			}
		})
	}
}

func TestParseCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := testParser.Parse(ctx, "SELECT count(*) FROM npr")
	if err == nil || refusal.CodeOf(err).String() != "" || !errors.Is(err, context.Canceled) {
		t.Fatalf("Parse with a canceled context: %v, want a wrapped context.Canceled", err)
	}
}

func TestParserConcurrent(t *testing.T) {
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	want, err := testParser.Compile(t.Context(), "SELECT hospital, count(*) FROM npr GROUP BY hospital", allDatasets())
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		wg.Go(func() {
			for range 20 {
				q, err := testParser.Compile(t.Context(), "SELECT hospital, count(*) FROM npr GROUP BY hospital", allDatasets())
				if err != nil {
					errs <- err
					return
				}
				if !reflect.DeepEqual(q, want) {
					errs <- errors.New("concurrent Compile returned a different model")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCompileWhere(t *testing.T) {
	icd10 := &ColumnRef{Table: "npr", Dataset: "npr", Column: "icd10", Type: TypeString}
	tests := []struct {
		desc     string
		dataset  string
		where    string
		project  string
		want     Expr
		wantCode refusal.Code
	}{
		{desc: "like", dataset: "npr", where: "icd10 LIKE 'E11%'",
			want: &Like{X: icd10, Pattern: &Literal{Value: "E11%", Type: TypeString}}},
		{desc: "blank is no condition", dataset: "npr", where: "  ", want: nil},
		{desc: "dataset name is case-insensitive", dataset: "NPR", where: "icd10 = 'E11'",
			want: &Compare{Op: "=", L: icd10, R: &Literal{Value: "E11", Type: TypeString}}},
		{desc: "trailing comment", dataset: "npr", where: "icd10 = 'E11' -- diabetes",
			want: &Compare{Op: "=", L: icd10, R: &Literal{Value: "E11", Type: TypeString}}},
		{desc: "qualified with the dataset", dataset: "npr", where: "npr.icd10 = 'E11'",
			want: &Compare{Op: "=", L: icd10, R: &Literal{Value: "E11", Type: TypeString}}},
		{desc: "not a condition", dataset: "npr", where: "icd10", wantCode: refusal.TypeMismatch},
		{desc: "union injection", dataset: "npr", where: "true UNION ALL SELECT count(*) FROM lmr", wantCode: refusal.WhereNotACondition},
		{desc: "group by injection", dataset: "npr", where: "true GROUP BY pid", wantCode: refusal.WhereNotACondition},
		{desc: "order by injection", dataset: "npr", where: "true ORDER BY icd10", wantCode: refusal.WhereNotACondition},
		{desc: "second statement", dataset: "npr", where: "true; COPY npr TO 'x'", wantCode: refusal.WhereNotACondition},
		{desc: "other dataset's column", dataset: "npr", where: "lmr.atc = 'A10'", wantCode: refusal.UnknownColumn},
		{desc: "person key", dataset: "lmr", where: "pid < 10", wantCode: refusal.PersonKeyInWhere},
		{desc: "unknown dataset", dataset: "kpr", where: "true", wantCode: refusal.UnknownDataset},
		{desc: "dataset outside the project", dataset: "cancer", where: "true", project: "diabetes-2026", wantCode: refusal.DatasetNotInProject},
		{desc: "quote in dataset name", dataset: `npr" WHERE true UNION SELECT 1 --`, where: "true", wantCode: refusal.UnknownDataset},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			cat := allDatasets()
			if tc.project != "" {
				cat = projectCatalog(t, tc.project)
			}
			got, err := testParser.CompileWhere(t.Context(), tc.dataset, tc.where, cat)
			if tc.wantCode != (refusal.Code{}) {
				if code := refusal.CodeOf(err); code != tc.wantCode {
					t.Fatalf("got (%#v, %v), want refusal %s", got, err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}
