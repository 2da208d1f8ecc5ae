// Package cli holds what the benchmark commands (compare, flood, load,
// state) parse, look up and do alike: row counts written 1M or 100k, the
// repository root, and the shape of their main.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
)

// ParseCount parses a positive count: 1000000, 1e6, 1M, 100k.
func ParseCount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f*mult < 1 || f*mult > 1e12 {
		return 0, fmt.Errorf("%q is not a count", s)
	}
	return int64(f * mult), nil
}

// RepoRoot is the statgate module's directory at or above the working
// directory; command names the command in the error when there is none.
func RepoRoot(command string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/statgate/statgate\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run " + command + " inside the statgate repository (no go.mod of github.com/statgate/statgate above the working directory)")
		}
		dir = parent
	}
}

// Main runs a benchmark command as its process: Run on os.Args under a
// context that SIGINT cancels, then exits with Run's code when it is not 0.
func Main[O any](name string, parse func([]string, io.Writer) (O, error), run func(context.Context, O, io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if code := Run(ctx, name, os.Args[1:], os.Stderr, parse, run); code != 0 {
		stop()
		os.Exit(code)
	}
}

// Run is the benchmark commands' main: it parses args with parse and runs
// the result under ctx, and returns the exit code: 0 after -h, 2 for a
// flag error, 1 for a failed run, each error printed to stderr after
// "name: ".
func Run[O any](ctx context.Context, name string, args []string, stderr io.Writer,
	parse func([]string, io.Writer) (O, error), run func(context.Context, O, io.Writer) error) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 2
	}
	if err := run(ctx, o, stderr); err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 1
	}
	return 0
}
