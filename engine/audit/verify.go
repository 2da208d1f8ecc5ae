package audit

import (
	"context"
	"fmt"
)

// The problems Verify reports.
const (
	// ProblemChanged: an entry's content no longer matches its hash, or an
	// entry was rewritten together with its hash (the next one no longer
	// links to it), or the head record does not match the last entry.
	ProblemChanged = "changed"
	// ProblemRemoved: entries are missing, from the middle (a gap in Seq,
	// or later entries renumbered to close it) or from the end (the head
	// record names a later Seq), or the head record itself is missing.
	ProblemRemoved = "removed"
	// ProblemInserted: entries were added that Append did not write: in the
	// middle (later entries renumbered to make room) or at the end (beyond
	// the head record).
	ProblemInserted = "inserted"
	// ProblemReordered: entries changed places.
	ProblemReordered = "reordered"
)

// Report is the result of Verify.
type Report struct {
	// OK is true when the chain and the head record are intact.
	OK bool `json:"ok"`
	// Entries is the number of entries in the log.
	Entries int64 `json:"entries"`
	// FirstBad is the Seq at which the log first departs from what Append
	// wrote (for a removal, the first missing Seq); 0 when OK or when the
	// problem is the missing head record.
	FirstBad int64 `json:"first_bad,omitempty"`
	// Problem is one of the Problem constants; "" when OK.
	Problem string `json:"problem,omitempty"`
	// Detail says what was found, for the operator.
	Detail string `json:"detail,omitempty"`
	// HeadSeq and HeadHash are the head record: record them outside the
	// machine, so that a consistent rewrite of the whole log shows.
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
}

// Snapshot is a consistent, read-only view of a stored log (one read
// transaction), which Verify walks while appends continue elsewhere.
type Snapshot interface {
	// Head returns the head record; ok is false when there is none.
	Head(ctx context.Context) (seq int64, hash string, ok bool, err error)
	// Count returns the number of stored entries.
	Count(ctx context.Context) (int64, error)
	// Walk calls fn with every stored entry in Seq order, as stored, until
	// fn returns false.
	Walk(ctx context.Context, fn func(Raw) bool) error
	// HasHash reports whether a stored entry has this Hash.
	HasHash(ctx context.Context, hash string) (bool, error)
}

// Verify checks the whole chain and the head record of the log s shows
// and reports the first problem found. An error means the log could not
// be read, not that it is bad.
func Verify(ctx context.Context, s Snapshot) (Report, error) {
	rep, err := verify(ctx, s)
	if err != nil {
		return Report{}, fmt.Errorf("audit.Verify: %w", err)
	}
	return rep, nil
}

func verify(ctx context.Context, s Snapshot) (Report, error) {
	var rep Report
	var err error
	if rep.Entries, err = s.Count(ctx); err != nil {
		return Report{}, err
	}
	headSeq, headHash, haveHead, err := s.Head(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("read head: %w", err)
	}
	rep.HeadSeq, rep.HeadHash = headSeq, headHash

	bad, anomaly, lastSeq, lastHash, err := walk(ctx, s)
	if err != nil {
		return Report{}, err
	}
	if bad != nil {
		if err := classify(ctx, s, &rep, bad, anomaly, lastSeq, max(headSeq, rep.Entries)); err != nil {
			return Report{}, err
		}
		return rep, nil
	}
	switch {
	case !haveHead && rep.Entries == 0:
		rep.OK = true
	case !haveHead:
		rep.Problem, rep.Detail = ProblemRemoved, "the head record is missing"
	case headSeq > lastSeq:
		rep.Problem, rep.FirstBad = ProblemRemoved, lastSeq+1
		rep.Detail = fmt.Sprintf("entries %d to %d were removed from the end (the head record names %d)", lastSeq+1, headSeq, headSeq)
	case headSeq < lastSeq:
		rep.Problem, rep.FirstBad = ProblemInserted, headSeq+1
		rep.Detail = fmt.Sprintf("entries %d to %d were added after the head record's last entry %d", headSeq+1, lastSeq, headSeq)
	case headHash != lastHash:
		rep.Problem, rep.FirstBad = ProblemChanged, lastSeq
		rep.Detail = fmt.Sprintf("entry %d (the last) or the head record was rewritten: their hashes differ", lastSeq)
	default:
		rep.OK = true
	}
	return rep, nil
}

// Anomalies walk reports at the first entry that departs from the chain.
const (
	anomalyContent = iota + 1 // content does not match the stored hash
	anomalyGap                // valid content, but Seq skips
	anomalyLink               // valid content in place, but PrevHash is not the previous entry's hash
)

// walk reads the log in Seq order and stops at the first anomaly, returning
// the entry and the previous Seq and hash (or the last ones when none).
func walk(ctx context.Context, s Snapshot) (bad *Raw, anomaly int, prevSeq int64, prevHash string, err error) {
	prevHash = Genesis
	err = s.Walk(ctx, func(r Raw) bool {
		switch {
		case hashFields(r.fields()) != r.Hash:
			anomaly = anomalyContent
		case r.Seq != prevSeq+1:
			anomaly = anomalyGap
		case r.PrevHash != prevHash:
			anomaly = anomalyLink
		default:
			prevSeq, prevHash = r.Seq, r.Hash
			return true
		}
		bad = &r
		return false
	})
	if err != nil {
		return nil, 0, 0, "", fmt.Errorf("read entries: %w", err)
	}
	return bad, anomaly, prevSeq, prevHash, nil
}

// classify fills rep for the first bad entry r found by walk after prevSeq.
// maxSeq bounds the search for the Seq r's content was written at.
func classify(ctx context.Context, s Snapshot, rep *Report, r *Raw, anomaly int, prevSeq, maxSeq int64) error {
	switch anomaly {
	case anomalyGap:
		rep.Problem, rep.FirstBad = ProblemRemoved, prevSeq+1
		rep.Detail = fmt.Sprintf("entries %d to %d are missing", prevSeq+1, r.Seq-1)
		return nil
	case anomalyLink:
		if prevSeq == 0 {
			rep.Problem, rep.FirstBad = ProblemChanged, r.Seq
			rep.Detail = fmt.Sprintf("entry %d does not start from the genesis hash: it was rewritten together with its hash", r.Seq)
			return nil
		}
		rep.Problem, rep.FirstBad = ProblemChanged, prevSeq
		rep.Detail = fmt.Sprintf("entry %d does not link to entry %d: entry %d was rewritten together with its hash", r.Seq, prevSeq, prevSeq)
		return nil
	}
	// The content does not match its hash. If it matches at another Seq,
	// the entry moved; otherwise it was changed.
	orig, moved := int64(0), false
	for d := int64(1); d <= max(maxSeq, r.Seq)+1 && !moved; d++ {
		for _, seq := range []int64{r.Seq - d, r.Seq + d} {
			if seq >= 1 && r.hashAt(seq) == r.Hash {
				orig, moved = seq, true
				break
			}
		}
	}
	switch {
	case !moved:
		rep.Problem, rep.FirstBad = ProblemChanged, r.Seq
		rep.Detail = fmt.Sprintf("entry %d does not match its hash: its content was changed", r.Seq)
	case orig < r.Seq:
		rep.Problem, rep.FirstBad = ProblemInserted, orig
		rep.Detail = fmt.Sprintf("entry %d holds what Append wrote as entry %d: %d entries were inserted before it", r.Seq, orig, r.Seq-orig)
	default:
		// Content from later in the log. If the entry it links to is still
		// in the log, entries changed places; otherwise some were removed
		// and the rest renumbered.
		linked, err := s.HasHash(ctx, r.PrevHash)
		if err != nil {
			return fmt.Errorf("look up previous entry: %w", err)
		}
		if linked {
			rep.Problem, rep.FirstBad = ProblemReordered, r.Seq
			rep.Detail = fmt.Sprintf("entry %d holds what Append wrote as entry %d: entries changed places", r.Seq, orig)
		} else {
			rep.Problem, rep.FirstBad = ProblemRemoved, r.Seq
			rep.Detail = fmt.Sprintf("entry %d holds what Append wrote as entry %d: %d entries were removed and the rest renumbered", r.Seq, orig, orig-r.Seq)
		}
	}
	return nil
}
