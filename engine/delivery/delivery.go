// Package delivery adds a registry's delivery to the extracts of a data
// directory (engine/exec.Deliver: a new immutable version the running
// servers switch to), merges a dataset's accumulated part files into one
// (Compact: a new version of the same rows), and records every delivery
// and compaction, accepted or refused, in the audit log: who delivered, the dataset, the rows and the delivered
// rows' fingerprint, chained and verifiable like every other entry.
//
// A delivery's entry is written before its version goes live (the
// Commit hook of exec.Deliver), so no version serves answers without its
// entry; if the entry cannot be written the delivery is abandoned. The
// entries have no project: they are the operator's, read with `statgate
// audit tail`, and never shown to a project's administrators through the
// API (the row counts and fingerprints in them are exact).
package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/state"
	"github.com/statgate/statgate/policies"
)

// Kind is the audit entry kind of a delivery.
const Kind = "delivery"

// ReasonRefused is the audit reason of a refused delivery.
const ReasonRefused = "delivery_refused"

// Options configure Deliver. All but Through and Progress are required.
type Options struct {
	Policy  *policies.Policy
	DataDir string
	Dataset string
	Files   []string
	// Through is the last day the delivery declares it covers (zero: none
	// declared); see exec.DeliverOptions.
	Through time.Time
	// Principal is who delivers (the operator or the registry's account).
	Principal string
	// Audit is the log the entry goes to.
	Audit state.AuditLog
	// Progress receives progress lines; nil: silent.
	Progress io.Writer
}

// Params are an entry's parameters (audit.Entry.Params).
type Params struct {
	Mode     string   `json:"mode,omitempty"`
	Files    []string `json:"files"`
	Rows     int64    `json:"rows"`
	Replaced int64    `json:"replaced,omitempty"`
	Version  int64    `json:"version,omitempty"`
	Through  string   `json:"through,omitempty"`
	// Error is why a refused delivery was refused.
	Error string `json:"error,omitempty"`
}

// Deliver delivers o.Files to o.Dataset and audits it. A refused
// delivery (exec.LoadError, or any other failure) is audited as refused
// and returned; the extracts stay as they were.
func Deliver(ctx context.Context, o *Options) (*exec.DeliverReport, error) {
	if o == nil || o.Audit == nil || o.Principal == "" {
		return nil, errors.New("delivery.Deliver: an audit log and a principal are required")
	}
	files := make([]string, len(o.Files))
	for i, f := range o.Files {
		files[i] = filepath.Base(f)
	}
	entry := func(outcome string, p Params, digest string) audit.Entry {
		if !o.Through.IsZero() {
			p.Through = o.Through.Format(time.DateOnly)
		}
		return newEntry(o.Principal, Kind, []string{o.Dataset}, "deliver --dataset "+o.Dataset+" "+strings.Join(files, " "), p, outcome, digest)
	}
	var rep *exec.DeliverReport
	err := audited(ctx, o.Audit, "delivery", func(commit func(context.Context, audit.Entry) error) (err error) {
		rep, err = exec.Deliver(ctx, &exec.DeliverOptions{
			Policy: o.Policy, DataDir: o.DataDir, Dataset: o.Dataset, Files: o.Files, Through: o.Through,
			Principal: o.Principal, Progress: o.Progress,
			Commit: func(ctx context.Context, r *exec.DeliverReport) error {
				return commit(ctx, entry(audit.OutcomeReleased, Params{Mode: r.Mode, Files: files, Rows: r.Rows,
					Replaced: r.Replaced, Version: r.Version}, r.Fingerprint))
			},
		})
		return err
	}, func(err error) audit.Entry {
		return entry(audit.OutcomeRefused, Params{Files: files, Error: err.Error()}, "")
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// newEntry is an audit entry of an operator's change to the extracts.
func newEntry(principal, kind string, datasets []string, query string, params any, outcome, digest string) audit.Entry {
	b, _ := json.Marshal(params)
	e := audit.Entry{Principal: principal, Datasets: datasets, Kind: kind, Query: query, Params: b,
		Outcome: outcome, ResultDigest: digest}
	if outcome == audit.OutcomeRefused {
		e.Reason = ReasonRefused
	}
	return e
}

// audited runs op, whose Commit hook appends the released entry through
// commit before the new version goes live, and audits op's failure with
// the entry refused gives (what names the operation in errors). A failed
// commit abandons the operation and is not audited again.
func audited(ctx context.Context, log state.AuditLog, what string, op func(commit func(context.Context, audit.Entry) error) error, refused func(error) audit.Entry) error {
	err := op(func(ctx context.Context, e audit.Entry) error {
		if _, err := log.Append(ctx, e); err != nil {
			return &auditError{err}
		}
		return nil
	})
	if err == nil {
		return nil
	}
	var ae *auditError
	if errors.As(err, &ae) {
		return fmt.Errorf("delivery: the %s was not made, its audit entry could not be written: %w", what, ae.err)
	}
	if _, aerr := log.Append(ctx, refused(err)); aerr != nil {
		return errors.Join(err, fmt.Errorf("delivery: audit the refused %s: %w", what, aerr))
	}
	return err
}

// auditError marks the Commit hook's failure.
type auditError struct{ err error }

func (e *auditError) Error() string { return "audit: " + e.err.Error() }
func (e *auditError) Unwrap() error { return e.err }

// ParseThrough reads a declared period end: a day (2026-11-30) or a month
// (2026-11, meaning its last day).
func ParseThrough(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("through %q: want a day (2026-11-30) or a month (2026-11)", s)
	}
	return t.AddDate(0, 1, -1), nil
}

// DataUpTo is the month ("2026-11") a dataset's data reach, as answers
// and the data map say it: the latest period its deliveries declared
// (exec.DatasetVersion.Through, checked against every delivered date),
// else the last year of its date column's public years (December of it),
// else "" when the dataset has no date column or neither is known.
//
// It is never read from the data: the latest date in a dataset is an
// exact aggregate that one person's record can move (the newest contact
// belongs to someone), so it is a public fact the registry declares when
// it delivers, or one the policy declares, and the delivery refuses rows
// beyond it.
func DataUpTo(ds *policies.Dataset, v exec.DatasetVersion) string {
	var date *policies.Column
	for _, c := range ds.Columns {
		if c.Type == policies.TypeDate && (date == nil || c.Name == ds.DateColumn) {
			date = c
		}
	}
	switch {
	case date == nil:
		return ""
	case !v.Through.IsZero():
		return v.Through.Format("2006-01")
	case date.Years != nil:
		return fmt.Sprintf("%04d-12", date.Years[1])
	}
	return ""
}

// KindCompaction is the audit entry kind of a compaction.
const KindCompaction = "compaction"

// CompactOptions configure Compact. DataDir, Principal and Audit are
// required.
type CompactOptions struct {
	DataDir string
	// Datasets and MinParts choose what to compact (exec.CompactOptions).
	Datasets  []string
	MinParts  int
	Principal string
	Audit     state.AuditLog
	Progress  io.Writer
}

// CompactParams are a compaction entry's parameters.
type CompactParams struct {
	// Datasets are the compacted datasets with the parts each was read from.
	Datasets map[string]int `json:"datasets,omitempty"`
	Rows     int64          `json:"rows,omitempty"`
	Version  int64          `json:"version,omitempty"`
	Error    string         `json:"error,omitempty"`
}

// Compact merges the part files of the datasets that have several
// (exec.Compact) and audits it: the entry (who, the datasets, the rows
// rewritten, the new version, the unchanged fingerprint as its digest) is
// written before the compacted version goes live; a failed compaction is
// audited as refused and changes nothing. Nothing to compact: no version,
// no entry.
func Compact(ctx context.Context, o *CompactOptions) (*exec.CompactReport, error) {
	if o == nil || o.Audit == nil || o.Principal == "" {
		return nil, errors.New("delivery.Compact: an audit log and a principal are required")
	}
	query := strings.TrimSpace("compact " + strings.Join(o.Datasets, " "))
	var rep *exec.CompactReport
	err := audited(ctx, o.Audit, "compaction", func(commit func(context.Context, audit.Entry) error) (err error) {
		rep, err = exec.Compact(ctx, &exec.CompactOptions{
			DataDir: o.DataDir, Datasets: o.Datasets, MinParts: o.MinParts, Principal: o.Principal, Progress: o.Progress,
			Commit: func(ctx context.Context, r *exec.CompactReport) error {
				names := make([]string, 0, len(r.Datasets))
				for n := range r.Datasets {
					names = append(names, n)
				}
				slices.Sort(names)
				return commit(ctx, newEntry(o.Principal, KindCompaction, names, query,
					CompactParams{Datasets: r.Datasets, Rows: r.Rows, Version: r.Version}, audit.OutcomeReleased, r.Fingerprint))
			},
		})
		return err
	}, func(err error) audit.Entry {
		return newEntry(o.Principal, KindCompaction, o.Datasets, query, CompactParams{Error: err.Error()}, audit.OutcomeRefused, "")
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}
