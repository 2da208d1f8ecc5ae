package testkit

import (
	"reflect"
	"strings"
	"testing"
)

// The corpora the engine's tests read.
var corpora = []string{
	"../../../testdata/queries/accepted.txt",
	"../../../testdata/queries/rejected.txt",
	"../../../testdata/queries/cohorts.txt",
}

const sample = `# A comment before the first block.
accept by_sex
SELECT sex, count(*) AS n
FROM population GROUP BY sex

# A comment between blocks.
reject person_key_in_output in diabetes-2026
SELECT pid FROM npr

reject query_empty

accept-where npr in diabetes-2026
icd10 LIKE 'E11%'

reject-where unknown_column lmr
# not a comment inside a block
nope = 1
`

func TestParseQueries(t *testing.T) {
	got, err := ParseQueries("sample", strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := []Query{
		{Line: 2, Verb: "accept", Name: "by_sex", Text: "SELECT sex, count(*) AS n\nFROM population GROUP BY sex"},
		{Line: 7, Verb: "reject", Code: "person_key_in_output", Project: "diabetes-2026", Text: "SELECT pid FROM npr"},
		{Line: 10, Verb: "reject", Code: "query_empty"},
		{Line: 12, Verb: "accept-where", Dataset: "npr", Project: "diabetes-2026", Text: "icd10 LIKE 'E11%'"},
		{Line: 15, Verb: "reject-where", Code: "unknown_column", Dataset: "lmr", Text: "# not a comment inside a block\nnope = 1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseQueries:\n got %+v\nwant %+v", got, want)
	}
	names := []string{"by_sex", "line7_person_key_in_output", "line10_query_empty", "line12_where_npr", "line15_unknown_column"}
	sqls := []string{want[0].Text, want[1].Text, "", "SELECT count(*) FROM npr WHERE icd10 LIKE 'E11%'",
		"SELECT count(*) FROM lmr WHERE # not a comment inside a block\nnope = 1"}
	for i, q := range got {
		if q.String() != names[i] || q.SQL() != sqls[i] {
			t.Errorf("block %d: String %q, SQL %q; want %q, %q", i, q.String(), q.SQL(), names[i], sqls[i])
		}
	}
}

func TestParseQueriesErrors(t *testing.T) {
	tests := []struct {
		desc, text, want string
	}{
		{"unknown verb", "allow x\nSELECT 1\n", `sample:1: bad directive "allow x"`},
		{"missing name", "# c\n\naccept\nSELECT 1\n", `sample:3: bad directive "accept"`},
		{"too many arguments", "reject a b\nSELECT 1\n", `sample:1: bad directive "reject a b"`},
		{"in without project name", "accept in x\nSELECT 1\n", `sample:1: bad directive "accept in x"`},
		{"accept without SQL", "accept x\n\n", "sample:1: block without SQL"},
		{"criterion without text", "reject-where c npr\n   \n", "sample:1: block without SQL"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := ParseQueries("sample", strings.NewReader(tc.text))
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %s", err, tc.want)
			}
		})
	}
}

func TestParseBlocks(t *testing.T) {
	text := "cohort a\n{\"include\": []}\n----\nSELECT 1 AS n\n\n\ncohort b in p\nx\n"
	got, err := ParseBlocks("sample", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{Line: 1, Head: "cohort a", Directive: []string{"cohort", "a"}, Body: []string{`{"include": []}`, "----", "SELECT 1 AS n"}},
		{Line: 7, Head: "cohort b in p", Directive: []string{"cohort", "b"}, Project: "p", Body: []string{"x"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseBlocks:\n got %+v\nwant %+v", got, want)
	}
}

// TestCorpora reads the checked-in corpora; the tests that run them are
// in engine and engine/query.
func TestCorpora(t *testing.T) {
	for _, path := range corpora {
		if blocks := ReadBlocks(t, path); len(blocks) < 10 {
			t.Errorf("%s: %d blocks", path, len(blocks))
		}
	}
	for _, path := range corpora[:2] {
		ReadQueries(t, path)
	}
}
