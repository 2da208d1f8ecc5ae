package exec

import (
	"context"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"2.5GB": 2_500_000_000, "2.5 GiB": 5 << 29, "300.0 MiB": 300 << 20,
		"512 bytes": 512, "4gb": 4_000_000_000, "100KB": 100_000, "0 bytes": 0,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GB", "2.5 parsecs", "-1GB", "1..2GB"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	db := openMemory(t, &Options{MemoryLimit: "300MiB"})
	got, err := db.MemoryLimit(context.Background())
	if err != nil || got != 300<<20 {
		t.Errorf("MemoryLimit = %d, %v; want %d", got, err, 300<<20)
	}
}
