package query

import (
	"context"
	"testing"

	"github.com/statgate/statgate/engine/internal/testkit"
	"github.com/statgate/statgate/engine/refusal"
)

// corpusSQL returns the SQL of both corpora; a cohort condition becomes
// the query CompileWhere would parse.
func corpusSQL(t testing.TB) []string {
	var out []string
	for _, path := range []string{acceptedFile, rejectedFile} {
		for _, c := range testkit.ReadQueries(t, path) {
			out = append(out, c.SQL())
		}
	}
	return out
}

// checkOutcome fails the fuzz run unless err is a refusal or q is a
// consistent model.
func checkOutcome(t *testing.T, q *Query, err error, cat *Catalog) {
	t.Helper()
	if err != nil {
		if _, ok := refusal.As(err); !ok {
			t.Fatalf("non-refusal error: %v", err)
		}
		return
	}
	if verr := validate(q, cat); verr != nil {
		t.Fatalf("accepted an inconsistent model: %v", verr)
	}
}

// FuzzCheck compiles arbitrary SQL (through DuckDB's parser) and cohort
// conditions: the checker must never panic, must refuse with a
// *refusal.Error, and must accept only consistent models.
func FuzzCheck(f *testing.F) {
	for _, s := range corpusSQL(f) {
		f.Add(s)
	}
	cat := allDatasets()
	f.Fuzz(func(t *testing.T, sql string) {
		ctx := context.Background()
		q, err := testParser.Compile(ctx, sql, cat)
		checkOutcome(t, q, err, cat)
		e, err := testParser.CompileWhere(ctx, "npr", sql, cat)
		if err != nil {
			if _, ok := refusal.As(err); !ok {
				t.Fatalf("CompileWhere: non-refusal error: %v", err)
			}
			return
		}
		if e != nil && e.ExprType() != TypeBool && !loose(e.ExprType()) {
			t.Fatalf("CompileWhere accepted a non-condition of type %s", e.ExprType())
		}
	})
}

// FuzzCheckJSON feeds mutated parse trees straight to the checker: odd
// JSON must be refused, never panic.
func FuzzCheckJSON(f *testing.F) {
	ctx := context.Background()
	for _, s := range corpusSQL(f) {
		var out string
		if err := testParser.db.QueryRowContext(ctx, "SELECT json_serialize_sql($1::VARCHAR)::VARCHAR", s).Scan(&out); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(out))
	}
	cat := allDatasets()
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := decodeAST(data)
		if err != nil {
			return
		}
		q, err := Check(a, cat)
		if err != nil {
			return
		}
		if verr := validate(q, cat); verr != nil {
			t.Fatalf("accepted an inconsistent model: %v", verr)
		}
	})
}
