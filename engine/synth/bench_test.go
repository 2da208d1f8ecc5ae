package synth

import (
	"context"
	"flag"
	"fmt"
	"testing"
)

var benchPersons = flag.Int("bench-persons", 100_000, "population size of BenchmarkGenerate (the target is 1,000,000 in under 60 s on 2 cores)")

func BenchmarkGenerate(b *testing.B) {
	b.Run(fmt.Sprintf("persons=%d", *benchPersons), func(b *testing.B) {
		dir := b.TempDir()
		var rows int64
		for b.Loop() {
			sum, err := Generate(context.Background(), &Options{Persons: *benchPersons, Seed: 1, OutDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			rows = 0
			for _, t := range sum.Tables {
				rows += t.Rows
			}
		}
		b.ReportMetric(float64(rows), "rows")
	})
}
