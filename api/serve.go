package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// DefaultShutdownTimeout bounds how long Serve waits for in-flight
// requests after its context ends; requests still running then are cut off.
const DefaultShutdownTimeout = 30 * time.Second

// ServeOptions tune ServeListener. The zero value is usable.
type ServeOptions struct {
	// Logger receives server errors and shutdown progress (nil: discard).
	Logger *slog.Logger
	// ShutdownTimeout bounds the wait for in-flight requests (0: DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// Name, when set, is the "listener" attribute of the log lines
	// (ServeWithMetrics names its second listener "metrics").
	Name string
}

// Serve listens on addr and serves h until ctx ends (the caller wires
// signals, e.g. with signal.NotifyContext), then shuts down gracefully;
// see ServeListener.
func Serve(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("api.Serve: %w", err)
	}
	return ServeListener(ctx, ln, h, &ServeOptions{Logger: logger})
}

// DefaultMetricsAddr is where `statgate serve` serves the operators'
// metrics unless told otherwise: loopback only.
const DefaultMetricsAddr = "127.0.0.1:9090"

// ServeWithMetrics serves h on addr, as Serve does, and h.Metrics() on
// metricsAddr for the operators ("" serves no metrics). Both addresses
// are bound before either serves, so a taken port fails at once. When ctx
// ends the API drains and shuts down first; the metrics keep answering
// until it has. If either server fails, the other is shut down too and
// the error returned.
func ServeWithMetrics(ctx context.Context, addr, metricsAddr string, h *Handler, logger *slog.Logger) error {
	if metricsAddr == "" {
		return Serve(ctx, addr, h, logger)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("api.Serve: %w", err)
	}
	mln, err := lc.Listen(ctx, "tcp", metricsAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("api.Serve: metrics: %w", err)
	}
	return serveBoth(ctx, ln, mln, h, &ServeOptions{Logger: logger})
}

// serveBoth serves h on ln and its metrics on mln; see ServeWithMetrics.
func serveBoth(ctx context.Context, ln, mln net.Listener, h *Handler, opts *ServeOptions) error {
	var o ServeOptions
	if opts != nil {
		o = *opts
	}
	apiCtx, stopAPI := context.WithCancel(ctx)
	defer stopAPI()
	metricsCtx, stopMetrics := context.WithCancel(context.WithoutCancel(ctx))
	defer stopMetrics()
	mo := o
	mo.Name = "metrics"
	merrc := make(chan error, 1)
	go func() {
		err := ServeListener(metricsCtx, mln, h.Metrics(), &mo)
		stopAPI() // a failed metrics server takes the API down with it
		merrc <- err
	}()
	aerr := ServeListener(apiCtx, ln, h, &o)
	stopMetrics()
	merr := <-merrc
	if merr != nil {
		merr = fmt.Errorf("metrics: %w", merr)
	}
	return errors.Join(aerr, merr)
}

// ServeListener serves h on ln until ctx ends, then shuts down gracefully:
// a handler with a Drain method (as *Handler has) is told to drain first,
// so /readyz answers 503; the server stops accepting connections, waits
// up to the shutdown timeout for in-flight requests to finish, and
// returns. It returns nil after a clean shutdown, and an error when the
// server failed or requests were still running at the timeout.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, opts *ServeOptions) error {
	var o ServeOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.Name != "" {
		o.Logger = o.Logger.With("listener", o.Name)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
		// Requests get their own context from the server, not ctx, so that
		// cancelling ctx drains rather than aborts them.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	o.Logger.Info("serving", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("api.Serve: %w", err)
	case <-ctx.Done():
	}
	if d, ok := h.(interface{ Drain() }); ok {
		d.Drain()
	}
	o.Logger.Info("shutting down; waiting for in-flight requests", "timeout", o.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("api.Serve: shutdown: requests still running after %s were cut off: %w", o.ShutdownTimeout, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api.Serve: %w", err)
	}
	o.Logger.Info("stopped")
	return nil
}
