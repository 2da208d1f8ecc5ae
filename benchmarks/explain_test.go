package benchmarks

import (
	"strings"
	"testing"
)

func TestParseProfile(t *testing.T) {
	profile := `{"latency": 1.5, "cpu_time": 2.75, "system_peak_buffer_memory": 1048576, "children": [
	  {"operator_name": "EXPLAIN_ANALYZE", "operator_timing": 0, "children": [
	    {"operator_name": "HASH_GROUP_BY", "operator_timing": 0.5, "operator_cardinality": 200,
	     "extra_info": {"Groups": "#0", "Aggregates": ["count_star()", "sum(#1)"], "Estimated Cardinality": "10"},
	     "children": [
	       {"operator_name": "HASH_JOIN", "operator_timing": 1.25, "operator_cardinality": 900,
	        "extra_info": {"Join Type": "LEFT", "Conditions": "person = person"}, "children": []},
	       {"operator_name": "TABLE_SCAN", "operator_timing": 0.25, "operator_cardinality": 1000,
	        "extra_info": {"Table": "npr", "Projections": "` + strings.Repeat("column, ", 40) + `"}, "children": []}
	     ]}
	  ]}
	]}`
	p, err := parseProfile([]byte(profile))
	if err != nil {
		t.Fatal(err)
	}
	if p.Latency != 1.5 || p.CPU != 2.75 || p.PeakBuffer != 1<<20 {
		t.Errorf("totals %+v", p)
	}
	want := []struct {
		name  string
		depth int
		rows  int64
	}{{"HASH_GROUP_BY", 0, 200}, {"HASH_JOIN", 1, 900}, {"TABLE_SCAN", 1, 1000}}
	if len(p.Operators) != len(want) {
		t.Fatalf("operators %+v, want %d (EXPLAIN_ANALYZE left out)", p.Operators, len(want))
	}
	for i, w := range want {
		if o := p.Operators[i]; o.Name != w.name || o.Depth != w.depth || o.Rows != w.rows {
			t.Errorf("operator %d = %+v, want %+v", i, o, w)
		}
	}
	if got := p.Operators[0].Detail; got != "groups: #0; aggregates: count_star(), sum(#1)" {
		t.Errorf("detail %q", got)
	}
	if got := []rune(p.Operators[2].Detail); len(got) != 110 || got[len(got)-1] != '…' {
		t.Errorf("long detail not shortened to 110 characters: %q", string(got))
	}
	if top := p.Top(2); len(top) != 2 || top[0].Name != "HASH_JOIN" || top[1].Name != "HASH_GROUP_BY" {
		t.Errorf("Top(2) = %+v", top)
	}
	// Operators with the same name and detail merge, as the branches of a bucketed plan.
	p.Operators = append(p.Operators, Operator{Name: "TABLE_SCAN", Seconds: 1.5, Rows: 10, Detail: p.Operators[2].Detail, Count: 1})
	if top := p.Top(1); len(top) != 1 || top[0].Name != "TABLE_SCAN" || top[0].Seconds != 1.75 || top[0].Rows != 1010 || top[0].Count != 2 {
		t.Errorf("Top(1) after a second scan = %+v, want the two scans merged", top)
	}
	p.Operators = p.Operators[:3]
	if got := p.OperatorSeconds(); got != 2 {
		t.Errorf("OperatorSeconds() = %g, want 2", got)
	}
	if _, err := parseProfile([]byte("not json")); err == nil {
		t.Error("parseProfile accepted text that is not JSON")
	}
}
