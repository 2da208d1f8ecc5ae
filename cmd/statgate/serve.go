package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/statgate/statgate/api"
	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/extract"
	"github.com/statgate/statgate/engine/state"
	"github.com/statgate/statgate/policies"
)

// serveOptions are the flags of `statgate serve`.
type serveOptions struct {
	repeats      bool // free repeats from the result cache (engine.Options.NoRepeats off)
	addr         string
	baseURL      string // --base-url; "" derives it from addr (publicBaseURL)
	metricsAddr  string // operators' /metrics listener; "" serves none
	policy       string
	data         string
	state        string // --state: a postgres:// URL, or "" for state.db under data
	memoryLimit  string
	threads      int
	queryTimeout time.Duration
	// watchExtracts is how often the extracts file is checked for a new
	// load (0: only on SIGHUP).
	watchExtracts time.Duration
	maxBody       int64
	// maxConcurrent and maxPerPrincipal are the API's execution limits
	// (api.Options.MaxConcurrentQueries and MaxQueriesPerPrincipal).
	maxConcurrent   int
	maxPerPrincipal int
}

func (o *serveOptions) register(fs interface {
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
	DurationVar(*time.Duration, string, time.Duration, string)
	Int64Var(*int64, string, int64, string)
	BoolVar(*bool, string, bool, string)
}) {
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&o.baseURL, "base-url", "",
		"public address clients reach the API at, e.g. https://statgate.example.org; the DCAT catalogue's IRIs hang from it (default: http:// and --addr)")
	fs.BoolVar(&o.repeats, "repeats", true, "answer an identical question in the same project from its stored release, at no cost (false: every question is answered and paid anew)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", api.DefaultMetricsAddr,
		`address of the operators' Prometheus /metrics listener, kept off the public one ("" serves no metrics)`)
	fs.StringVar(&o.policy, "policy", defaultPolicy, "policy file (env STATGATE_POLICY)")
	fs.StringVar(&o.data, "data", defaultData, "data directory with extracts.duckdb and state.db (env STATGATE_DATA)")
	stateFlag(fs, &o.state)
	fs.StringVar(&o.memoryLimit, "memory-limit", "", "DuckDB memory limit, e.g. 4GB (default: DuckDB's)")
	fs.IntVar(&o.threads, "threads", 0, "DuckDB threads (default: all cores)")
	fs.DurationVar(&o.queryTimeout, "query-timeout", 60*time.Second, "per-query execution timeout")
	fs.Int64Var(&o.maxBody, "max-body", 1<<20, "largest request body in bytes")
	fs.DurationVar(&o.watchExtracts, "watch-extracts", 2*time.Second,
		"how often to check whether `statgate load` replaced the extracts, and switch to them (0: only on SIGHUP)")
	fs.IntVar(&o.maxConcurrent, "max-concurrent", 0,
		"queries executing at once, all principals together; more get 429 (default: --threads or all cores, at least 2)")
	fs.IntVar(&o.maxPerPrincipal, "max-per-principal", api.DefaultMaxQueriesPerPrincipal,
		"queries one principal may execute at once; more get 429")
}

// maxConcurrentQueries is the global execution limit: --max-concurrent,
// else one per DuckDB thread (--threads, or all cores) and at least 2.
func (o serveOptions) maxConcurrentQueries() int {
	if o.maxConcurrent > 0 {
		return o.maxConcurrent
	}
	return api.DefaultMaxConcurrentQueries(o.threads)
}

// publicBaseURL is --base-url, else http:// and the listen address, with
// an unspecified host (":8080", "0.0.0.0:8080", "[::]:8080") read as
// localhost. A port chosen at listen time (":0") gives "": the API then
// builds the catalogue's IRIs from each request and keeps them out of
// shared caches.
func (o serveOptions) publicBaseURL() string {
	if o.baseURL != "" {
		return o.baseURL
	}
	host, port, err := net.SplitHostPort(o.addr)
	if err != nil || port == "0" || port == "" {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o serveOptions
	fs := newFlags("serve", "serve [--addr HOST:PORT] [--policy FILE] [--data DIR] [--state URL]", stderr,
		"statgate serve --addr 127.0.0.1:8080 --policy policies/norway-synthetic.yaml --data "+defaultData)
	o.register(fs)
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	return serve(ctx, o, nil, stdout, stderr)
}

// serve opens the state store (state.db under --data, or --state) and the engine and
// serves until ctx is cancelled. ready, if not nil, is called with the
// token store once the engine is open, before listening.
func serve(ctx context.Context, o serveOptions, ready func(state.Tokens) error, stdout, stderr io.Writer) error {
	pol, err := policies.Load(o.policy)
	if err != nil {
		return err
	}
	store, err := openState(ctx, o.state, o.data)
	if err != nil {
		return err
	}
	defer store.Close()
	eng, err := engine.New(ctx, &engine.Options{
		Policy: pol, DataDir: o.data, State: store,
		MemoryLimit: o.memoryLimit, Threads: o.threads, QueryTimeout: o.queryTimeout,
		NoRepeats: !o.repeats,
	})
	if err != nil {
		return err
	}
	defer eng.Close()
	log := logger(stderr)
	h, err := api.New(&api.Options{
		Engine: eng, Auth: store.Tokens(), Logger: log, MaxBodyBytes: o.maxBody, RequestTimeout: o.queryTimeout + 5*time.Second,
		MaxConcurrentQueries: o.maxConcurrentQueries(), MaxQueriesPerPrincipal: o.maxPerPrincipal,
		BaseURL: o.publicBaseURL(),
	})
	if err != nil {
		return err
	}
	if ready != nil {
		if err := ready(store.Tokens()); err != nil {
			return err
		}
	}
	global, perPrincipal := h.Limits()
	log.Info("serving", "addr", o.addr, "policy", pol.Path, "data", o.data, "state", describeState(o.state, o.data),
		"extract", eng.ExtractVersion().ID, "fingerprint", eng.ExtractVersion().Fingerprint, "max_concurrent", global, "max_per_principal", perPrincipal)
	reloads(ctx, eng, o.watchExtracts, log)
	return api.ServeWithMetrics(ctx, o.addr, o.metricsAddr, h, log)
}

// reloads switches the engine to new extracts after `statgate load`
// replaced the file: on SIGHUP, and (every > 0) whenever a check every
// that often sees a new file. Requests under way finish on the old
// extracts; a new file that cannot be opened or lacks a dataset is logged
// and the old one keeps serving. It returns at once; the work stops with
// ctx.
func reloads(ctx context.Context, eng *engine.Engine, every time.Duration, log *slog.Logger) {
	report := func(how string) func(extract.Version, bool, error) {
		return func(v extract.Version, changed bool, err error) {
			switch {
			case err != nil:
				log.Error("extracts not reloaded; the previous ones keep serving", "trigger", how, "error", err)
			case changed:
				log.Info("extracts reloaded", "trigger", how, "extract", v.ID)
			default:
				log.Info("extracts unchanged", "trigger", how, "extract", v.ID)
			}
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				v, changed, err := eng.Reload(ctx)
				report("SIGHUP")(v, changed, err)
			}
		}
	}()
	if every > 0 {
		go eng.WatchExtracts(ctx, every, report("new file"))
	}
}
