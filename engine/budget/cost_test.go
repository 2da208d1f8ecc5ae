package budget

import (
	"errors"
	"math"
	"testing"
)

func TestUnits(t *testing.T) {
	tests := []struct {
		desc      string
		x, scale  float64
		cost, lim int64
	}{
		{"hundredth of ε", 0.01, epsilonScale, 10_000_000, 10_000_000},
		{"tenth of ε", 0.1, epsilonScale, 100_000_000, 100_000_000},
		{"ε budget of 10", 10, epsilonScale, 10_000_000_000, 10_000_000_000},
		{"third of ε rounds cost up, limit down", 1.0 / 3, epsilonScale, 333_333_334, 333_333_333},
		{"ε below one unit costs one unit", 1e-12, epsilonScale, 1, 0},
		{"δ 1e-6", 1e-6, deltaScale, 1_000_000_000, 1_000_000_000},
		{"δ 1e-8", 1e-8, deltaScale, 10_000_000, 10_000_000},
		{"zero δ", 0, deltaScale, 0, 0},
		{"large ε", 123456.789, epsilonScale, 123_456_789_000_000, 123_456_789_000_000},
		{"ρ of ε 0.01 under Laplace", 0.01 * 0.01 / 2, rhoScale, 50_000_000, 50_000_000},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got := costUnits(tc.x, tc.scale); got != tc.cost {
				t.Errorf("costUnits(%v) = %d, want %d", tc.x, got, tc.cost)
			}
			if got := limitUnits(tc.x, tc.scale); got != tc.lim {
				t.Errorf("limitUnits(%v) = %d, want %d", tc.x, got, tc.lim)
			}
		})
	}
}

func TestNewCost(t *testing.T) {
	tests := []struct {
		desc           string
		eps, del, rho  float64
		wantErr        bool
		wantEps, wantD float64
	}{
		{desc: "ε and δ", eps: 0.5, del: 1e-7, wantEps: 0.5, wantD: 1e-7},
		{desc: "zero is free", wantEps: 0, wantD: 0},
		{desc: "a third rounds up", eps: 1.0 / 3, wantEps: 0.333333334},
		{desc: "NaN ε", eps: math.NaN(), wantErr: true},
		{desc: "infinite ε", eps: math.Inf(1), wantErr: true},
		{desc: "negative ε", eps: -0.5, wantErr: true},
		{desc: "absurd ε", eps: 1e12, wantErr: true},
		{desc: "NaN δ", eps: 1, del: math.NaN(), wantErr: true},
		{desc: "negative δ", eps: 1, del: -1e-9, wantErr: true},
		{desc: "δ above 1", eps: 1, del: 2, wantErr: true},
		{desc: "negative ρ", eps: 1, rho: -1, wantErr: true},
		{desc: "infinite ρ", eps: 1, rho: math.Inf(1), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			c, err := NewCost(tc.eps, tc.del, tc.rho)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidCost) {
					t.Fatalf("NewCost = %v, %v; want ErrInvalidCost", c, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Epsilon() != tc.wantEps || c.Delta() != tc.wantD {
				t.Errorf("NewCost = %v, want ε %v δ %v", c, tc.wantEps, tc.wantD)
			}
		})
	}
}

// TestCostSumsAreExact: a thousand costs of ε 0.01 add up to exactly 10,
// and what a store records (Units) reads back as the same Cost.
func TestCostSumsAreExact(t *testing.T) {
	c := mustCost(t, 0.01, 1e-9, 5e-5)
	var sum Cost
	for range 1000 {
		var ok bool
		if sum, ok = sum.Add(c); !ok {
			t.Fatal("Add overflowed")
		}
	}
	if want := mustCost(t, 10, 1e-6, 0.05); sum != want {
		t.Errorf("sum = %v, want %v", sum, want)
	}
	back, err := CostOfUnits(sum.Units())
	if err != nil || back != sum {
		t.Errorf("CostOfUnits(Units()) = %v, %v; want %v", back, err, sum)
	}
	if _, err := CostOfUnits(-1, 0, 0, 0); !errors.Is(err, ErrInvalidCost) {
		t.Errorf("CostOfUnits(negative) = %v, want ErrInvalidCost", err)
	}
	if _, ok := (Cost{eps: maxUnits}).Add(c); ok {
		t.Error("Add past maxUnits reported a representable sum")
	}
}

func TestSpendNormalize(t *testing.T) {
	ok := Spend{QueryID: "q", Project: "p", Principal: "ingrid", Datasets: []string{"b", "a", "b"}, Cost: Cost{eps: 1}}
	got, err := ok.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Datasets) != 2 || got.Datasets[0] != "a" || got.Datasets[1] != "b" {
		t.Errorf("Datasets = %v, want [a b]", got.Datasets)
	}
	if ok.Datasets[0] != "b" {
		t.Error("Normalize changed the caller's slice")
	}
	tests := []struct {
		desc   string
		modify func(*Spend)
	}{
		{"no project", func(s *Spend) { s.Project = "" }},
		{"no datasets", func(s *Spend) { s.Datasets = nil }},
		{"empty dataset name", func(s *Spend) { s.Datasets = []string{"a", ""} }},
		{"no ε", func(s *Spend) { s.Cost = Cost{del: 5} }},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			s := ok
			tc.modify(&s)
			if _, err := s.Normalize(); !errors.Is(err, ErrInvalidSpend) {
				t.Errorf("Normalize = %v, want ErrInvalidSpend", err)
			}
		})
	}
}

func mustCost(t testing.TB, eps, del, rho float64) Cost {
	t.Helper()
	c, err := NewCost(eps, del, rho)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
