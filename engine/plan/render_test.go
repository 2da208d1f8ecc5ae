package plan

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/statgate/statgate/engine/query"
)

func TestRenderExpr(t *testing.T) {
	tests := []struct {
		desc string
		e    query.Expr
		want string
	}{
		{"qualified column", ref("n", "npr", "icd10", query.TypeString), `"n"."icd10"`},
		{"quotes in identifiers are doubled", ref(`a"b`, "npr", `c"d`, query.TypeString), `"a""b"."c""d"`},
		{"unqualified column", &query.ColumnRef{Column: "pid"}, `"pid"`},
		{"string with a quote", lit("O'Brien"), `'O''Brien'`},
		{"injection attempt stays a string", lit("x' OR 1=1 --"), `'x'' OR 1=1 --'`},
		{"date", dateLit("2020-02-29"), `DATE '2020-02-29'`},
		{"interval", &query.Literal{Value: "1 year", Type: query.TypeInterval}, `INTERVAL '1 year'`},
		{"null", &query.Literal{Type: query.TypeNull}, `NULL`},
		{"booleans", and(lit(true), lit(false)), `(TRUE AND FALSE)`},
		{"negative integer", lit(int64(-3)), `(-3)`},
		{"whole float", lit(90.0), `90::DOUBLE`},
		{"negative whole float", lit(-5.0), `(-5::DOUBLE)`},
		{"fractional float", lit(0.1), `CAST('0.1' AS DOUBLE)`},
		{"tiny float", lit(5e-324), `CAST('5e-324' AS DOUBLE)`},
		{"negative zero", lit(math.Copysign(0, -1)), `CAST('-0' AS DOUBLE)`},
		{"infinity", lit(math.Inf(1)), `CAST('inf' AS DOUBLE)`},
		{"function", call("left", query.TypeString, nprICD, lit(int64(3))), `left("npr"."icd10", 3)`},
		{"odd function name is quoted", call("evil(1); --", query.TypeString), `"evil(1); --"()`},
		{"comparison", cmp(nprLOS, "<>", lit(int64(2))), `("npr"."length_of_stay_days" <> 2)`},
		{"not", &query.Logical{Op: "NOT", Args: []query.Expr{lit(true)}}, `(NOT TRUE)`},
		{"or of three", &query.Logical{Op: "OR", Args: []query.Expr{lit(true), lit(false), lit(true)}}, `(TRUE OR FALSE OR TRUE)`},
		{"in", &query.In{X: nprType, List: []query.Expr{lit("day"), lit("inpatient")}}, `("npr"."contact_type" IN ('day', 'inpatient'))`},
		{"not in", &query.In{X: nprType, List: []query.Expr{lit("day")}, Not: true}, `("npr"."contact_type" NOT IN ('day'))`},
		{"in an empty list", &query.In{X: nprType}, `FALSE`},
		{"not in an empty list", &query.In{X: nprType, Not: true}, `TRUE`},
		{"between", &query.Between{X: nprYear, Lo: lit(int64(2010)), Hi: lit(int64(2012))}, `(year("npr"."contact_date") BETWEEN 2010 AND 2012)`},
		{"not between", &query.Between{X: nprLOS, Lo: lit(int64(1)), Hi: lit(int64(2)), Not: true}, `("npr"."length_of_stay_days" NOT BETWEEN 1 AND 2)`},
		{"like", &query.Like{X: nprICD, Pattern: lit("E11%")}, `("npr"."icd10" LIKE 'E11%')`},
		{"not ilike", &query.Like{X: nprICD, Pattern: lit("e11%"), Not: true, CaseInsensitive: true}, `("npr"."icd10" NOT ILIKE 'e11%')`},
		{"is null", &query.IsNull{X: nprICD}, `("npr"."icd10" IS NULL)`},
		{"is not null", &query.IsNull{X: nprICD, Not: true}, `("npr"."icd10" IS NOT NULL)`},
		{"arithmetic nests", &query.Arith{Op: "-", L: lit(int64(0)), R: &query.Arith{Op: "*", L: nprLOS, R: lit(int64(2))}}, `(0 - ("npr"."length_of_stay_days" * 2))`},
		{"case", &query.Case{Whens: []query.When{{Cond: lit(true), Then: lit("a")}}, Else: lit("b")}, `CASE WHEN TRUE THEN 'a' ELSE 'b' END`},
		{"case without else", &query.Case{Whens: []query.When{{Cond: lit(true), Then: lit("a")}}}, `CASE WHEN TRUE THEN 'a' END`},
		{"casts", &query.Cast{X: &query.Cast{X: nprLOS, To: query.TypeInteger}, To: query.TypeString}, `CAST(CAST("npr"."length_of_stay_days" AS BIGINT) AS VARCHAR)`},
		{"nil renders as an error", nil, unsupportedSQL},
		{"output reference renders as an error", &query.OutputRef{Column: 0}, unsupportedSQL},
		{"unknown operator renders as an error", cmp(nprLOS, "||", lit(int64(1))), unsupportedSQL},
		{"cast to an unknown type renders as an error", &query.Cast{X: nprLOS, To: "blob"}, unsupportedSQL},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got := RenderExpr(tc.e); got != tc.want {
				t.Errorf("RenderExpr = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestRenderLiteralsInDuckDB runs rendered literals and checks that DuckDB
// reads back exactly the Go value.
func TestRenderLiteralsInDuckDB(t *testing.T) {
	db := openDB(t, testPolicy())
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	floats := []float64{0, 0.1, 0.30000000000000004, -0.00011847316302221379, 1e300, 5e-324, -1e-7, 123456789.123456789, 1 << 53, -(1 << 52), 90, math.MaxFloat64}
	for range 200 {
		floats = append(floats, math.Float64frombits(r.Uint64()), r.NormFloat64()*1e6, float64(r.IntN(1e6))/1000)
	}
	t.Run("floats round-trip", func(t *testing.T) {
		for _, v := range floats {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			var got float64
			s := RenderExpr(lit(v))
			if err := db.QueryRowContext(ctx, "SELECT "+s).Scan(&got); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			if math.Float64bits(got) != math.Float64bits(v) {
				t.Errorf("%s read back as %v, want %v", s, got, v)
			}
		}
	})
	t.Run("float literals are DOUBLE", func(t *testing.T) {
		var typ string
		if err := db.QueryRowContext(ctx, "SELECT typeof("+RenderExpr(lit(0.5))+") || typeof("+RenderExpr(lit(2.0))+")").Scan(&typ); err != nil {
			t.Fatal(err)
		}
		if typ != "DOUBLEDOUBLE" {
			t.Errorf("types = %s, want DOUBLE twice", typ)
		}
	})
	t.Run("strings and integers round-trip", func(t *testing.T) {
		for _, s := range []string{"", "O'Brien", "''", `"`, "ø æ å", "x' OR 1=1 --", "\\n"} {
			var got string
			if err := db.QueryRowContext(ctx, "SELECT "+RenderExpr(lit(s))).Scan(&got); err != nil {
				t.Fatalf("%q: %v", s, err)
			}
			if got != s {
				t.Errorf("read back %q, want %q", got, s)
			}
		}
		for _, v := range []int64{0, -1, math.MaxInt64, math.MinInt64 + 1} {
			var got int64
			if err := db.QueryRowContext(ctx, "SELECT "+RenderExpr(lit(v))).Scan(&got); err != nil {
				t.Fatalf("%d: %v", v, err)
			}
			if got != v {
				t.Errorf("read back %d, want %d", got, v)
			}
		}
	})
	t.Run("unsupported expressions fail", func(t *testing.T) {
		var v any
		if err := db.QueryRowContext(ctx, "SELECT "+RenderExpr(nil)).Scan(&v); err == nil {
			t.Error("an unsupported expression ran")
		}
	})
}

func TestICD10Chapter(t *testing.T) {
	db := openDB(t, testPolicy())
	tests := []struct {
		code string
		want any // nil: no chapter
	}{
		{"A00", "I"}, {"B99.9", "I"}, {"C50", "II"}, {"D48", "II"}, {"D49", nil}, {"D50", "III"},
		{"D89", "III"}, {"D90", nil}, {"E11", "IV"}, {"E119", "IV"}, {"E90", "IV"}, {"E91", nil},
		{"F32", "V"}, {"G40", "VI"}, {"H59", "VII"}, {"H60", "VIII"}, {"H95", "VIII"}, {"H96", nil},
		{"I21", "IX"}, {"J45", "X"}, {"K35", "XI"}, {"L40", "XII"}, {"M54", "XIII"}, {"N18", "XIV"},
		{"O80", "XV"}, {"P07", "XVI"}, {"Q21", "XVII"}, {"R51", "XVIII"}, {"S72", "XIX"}, {"T78", "XIX"},
		{"V01", "XX"}, {"X60", "XX"}, {"Y98", "XX"}, {"Z00", "XXI"}, {"U07.1", "XXII"}, {"e11", "IV"},
		{"E1", nil}, {"E1X", nil}, {"E1.1", nil}, {"", nil}, {"W", nil}, {"ÆØÅ", nil},
	}
	chapter := call("icd10_chapter", query.TypeString, &query.Literal{Value: "?", Type: query.TypeString})
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			chapter.Args[0] = lit(tc.code)
			var got any
			if err := db.QueryRowContext(context.Background(), "SELECT "+RenderExpr(chapter)).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("icd10_chapter(%q) = %v, want %v", tc.code, got, tc.want)
			}
		})
	}
	if got := len(ICD10Chapters()); got != 22 {
		t.Errorf("%d chapters, want 22", got)
	}
}

// TestRenderKeyMakesNonFiniteNull: a number key that evaluates to NaN or
// ±Infinity is NULL in DuckDB; finite values and other types pass as they are.
func TestRenderKeyMakesNonFiniteNull(t *testing.T) {
	db := openDB(t, testPolicy())
	div := func(l, r query.Expr) query.Expr {
		return &query.Arith{Op: "/", L: l, R: r, Type: query.TypeNumber}
	}
	tests := []struct {
		desc string
		e    query.Expr
		want any // nil: NULL
	}{
		{"x / 0", div(lit(5.0), lit(0.0)), nil},
		{"-x / 0", div(lit(-5.0), lit(0.0)), nil},
		{"0 / 0", div(lit(0.0), lit(0.0)), nil},
		{"finite", div(lit(5.0), lit(2.0)), 2.5},
		{"other types untouched", lit("x"), "x"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			var got any
			if err := db.QueryRowContext(context.Background(), "SELECT "+RenderKey(tc.e)).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if tc.e.ExprType() != query.TypeNumber && RenderKey(tc.e) != RenderValue(tc.e) {
				t.Errorf("RenderKey = %s, want RenderValue's %s", RenderKey(tc.e), RenderValue(tc.e))
			}
			if got != tc.want {
				t.Errorf("%s = %v (%T), want %v", RenderKey(tc.e), got, got, tc.want)
			}
		})
	}
}
