package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/engine/dcat"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/policies"
)

var catalogExamples = []string{
	"statgate catalog export --base-url https://statgate.example.org > catalog.jsonld",
	"statgate catalog export --out catalog.jsonld   # what GET /v1/catalog.jsonld serves",
}

// runCatalog is `statgate catalog export`: the data map as a DCAT-AP 3 /
// HealthDCAT-AP catalogue in JSON-LD, as GET /v1/catalog.jsonld serves
// it, with the rounded sizes of the extracts loaded in --data (none when
// nothing is loaded there).
func runCatalog(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "export" {
		fmt.Fprintln(stderr, "Usage: statgate catalog export [--policy FILE] [--data DIR] [--base-url URL] [--out FILE]")
		writeExamples(stderr, catalogExamples)
		return helpOrUsage(args)
	}
	var policy, data, base, out string
	fs := newFlags("catalog export", "catalog export [--policy FILE] [--data DIR] [--base-url URL] [--out FILE]", stderr, catalogExamples...)
	fs.StringVar(&policy, "policy", defaultPolicy, "policy file (env STATGATE_POLICY); its catalog section says who publishes, where and on what legal basis")
	fs.StringVar(&data, "data", defaultData, "data directory whose loaded extracts give the rounded sizes (env STATGATE_DATA)")
	fs.StringVar(&base, "base-url", "http://127.0.0.1:8080", "the API's public base URL; the catalogue's IRIs hang from it")
	fs.StringVar(&out, "out", "", "file to write (default: standard output)")
	if err := parseFlagsOnly(fs, args[1:]); err != nil {
		return err
	}
	pol, err := policies.Load(policy)
	if err != nil {
		return err
	}
	var sizes map[string]int64
	if _, err := os.Stat(exec.ExtractsPath(data)); err == nil {
		db, err := exec.Open(ctx, &exec.Options{Path: exec.ExtractsPath(data), ReadOnly: true, Threads: 1})
		if err != nil {
			return err
		}
		sizes, err = db.TableRows(ctx)
		db.Close()
		if err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stderr, "statgate catalog export: no extracts in %s; the catalogue gives no number of records\n", data)
	}
	doc := dcat.Build(pol, catalog.New(pol, sizes).Datasets(), dcat.Options{BaseURL: base})
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if out == "" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
