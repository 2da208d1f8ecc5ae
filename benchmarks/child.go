package benchmarks

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// Each variant runs in a child process so that its peak memory (the
// kernel's max RSS of the process) is its own. The child is the harness
// binary itself, started with ChildEnv set to a JSON ChildSpec; it opens
// the variant's runner and then answers one line per request on stdin:
//
//	run   → one JSON Outcome line (or {"error": "..."}) on stdout
//	quit  → one line {"peak_rss": bytes}, then exits (end of input exits too)

// ChildEnv is the environment variable that makes the harness binary (or
// the test binary of this package) a child; see IsChild and ChildMain.
const ChildEnv = "STATGATE_BENCH_CHILD"

// ChildSpec is what a child runs.
type ChildSpec struct {
	Variant Variant       `json:"variant"`
	Options RunnerOptions `json:"options"`
}

// childReply is one line a child writes.
type childReply struct {
	Outcome
	Error string `json:"error,omitempty"`
	// Ready is set on the first line, once the runner is open.
	Ready bool `json:"ready,omitempty"`
	// PeakRSS is the child's peak memory (VmHWM), on the line answering quit.
	PeakRSS int64 `json:"peak_rss,omitempty"`
}

// IsChild reports whether this process was started as a child.
func IsChild() bool { return os.Getenv(ChildEnv) != "" }

// ChildMain runs the child side: it reads the ChildSpec from ChildEnv,
// opens the runner and serves requests on stdin and stdout until quit or
// end of input. It returns the process exit code.
func ChildMain(ctx context.Context) int {
	var spec ChildSpec
	if err := json.Unmarshal([]byte(os.Getenv(ChildEnv)), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "benchmark child: %s: %v\n", ChildEnv, err)
		return 2
	}
	if err := ServeChild(ctx, spec, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "benchmark child %s: %v\n", spec.Variant, err)
		return 1
	}
	return 0
}

// ServeChild opens the runner of spec and answers the requests read from
// in on out (see the protocol above). A failed run is reported on out and
// does not end the loop; a runner that cannot be opened is.
func ServeChild(ctx context.Context, spec ChildSpec, in io.Reader, out io.Writer) error {
	enc := json.NewEncoder(out)
	r, err := NewRunner(ctx, spec.Variant, &spec.Options)
	if err != nil {
		_ = enc.Encode(childReply{Error: err.Error()})
		return err
	}
	closed := false
	defer func() {
		if !closed {
			r.Close()
		}
	}()
	if err := enc.Encode(childReply{Ready: true}); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "run":
			o, err := r.Run(ctx)
			rep := childReply{Outcome: o}
			if err != nil {
				rep = childReply{Error: err.Error()}
			}
			if err := enc.Encode(rep); err != nil {
				return err
			}
		case "quit":
			// Close first: the peak includes everything the runner held.
			closed = true
			err := r.Close()
			if eerr := enc.Encode(childReply{PeakRSS: procPeakRSS("self")}); err == nil {
				err = eerr
			}
			return err
		default:
			if err := enc.Encode(childReply{Error: fmt.Sprintf("unknown request %q", sc.Text())}); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}

// Child is the parent's handle on a running child.
type Child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Scanner
	stderr *strings.Builder
}

// StartChild starts exe (the harness binary; args are passed through,
// e.g. a test binary's -test.run) as the child of spec and waits until its
// runner is open.
func StartChild(ctx context.Context, exe string, args []string, spec ChildSpec) (*Child, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("benchmarks.StartChild: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(b))
	c := &Child{cmd: cmd, stderr: &strings.Builder{}}
	cmd.Stderr = c.stderr
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("benchmarks.StartChild: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("benchmarks.StartChild: %w", err)
	}
	c.out = bufio.NewScanner(stdout)
	c.out.Buffer(make([]byte, 64<<10), 1<<20)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("benchmarks.StartChild: %w", err)
	}
	rep, err := c.read()
	if err == nil && !rep.Ready {
		err = errors.New("no ready line")
	}
	if err != nil {
		c.stdin.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("benchmarks.StartChild %s: %w", spec.Variant, err)
	}
	return c, nil
}

// read reads one reply line.
func (c *Child) read() (childReply, error) {
	if !c.out.Scan() {
		err := c.out.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return childReply{}, fmt.Errorf("child output: %w (stderr: %s)", err, strings.TrimSpace(c.stderr.String()))
	}
	var rep childReply
	if err := json.Unmarshal(c.out.Bytes(), &rep); err != nil {
		return childReply{}, fmt.Errorf("child output %q: %w", c.out.Text(), err)
	}
	if rep.Error != "" {
		return rep, errors.New(rep.Error)
	}
	return rep, nil
}

// Run asks the child to answer the question once.
func (c *Child) Run() (Outcome, error) {
	if _, err := io.WriteString(c.stdin, "run\n"); err != nil {
		return Outcome{}, fmt.Errorf("benchmarks: child: %w", err)
	}
	rep, err := c.read()
	if err != nil {
		return Outcome{}, fmt.Errorf("benchmarks: child: %w", err)
	}
	return rep.Outcome, nil
}

// Close ends the child and returns its peak resident memory in bytes (the
// child's own VmHWM; the rusage max RSS where that is missing, 0 where
// the platform reports neither).
func (c *Child) Close() (int64, error) {
	_, werr := io.WriteString(c.stdin, "quit\n")
	c.stdin.Close()
	rep, rerr := c.read()
	err := c.cmd.Wait()
	if err != nil {
		return 0, fmt.Errorf("benchmarks: child: %w (stderr: %s)", errors.Join(err, werr), strings.TrimSpace(c.stderr.String()))
	}
	if rerr == nil && rep.PeakRSS > 0 {
		return rep.PeakRSS, nil
	}
	return peakRSS(c.cmd.ProcessState), nil
}
