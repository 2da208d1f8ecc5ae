package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
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

// rawEntry is a stored row as its canonical fields, read without parsing,
// so that any change to the stored text changes the hash.
type rawEntry struct {
	seq    int64
	fields [nFields]string
	hash   string
}

func (r *rawEntry) prevHash() string { return r.fields[nFields-1] }

// hashAt is the hash r would have at seq.
func (r *rawEntry) hashAt(seq int64) string {
	f := r.fields
	f[0] = strconv.FormatInt(seq, 10)
	return hashFields(f)
}

// Verify checks the whole chain and the head record in one read
// transaction (a consistent snapshot; appends continue meanwhile) and
// reports the first problem found. An error means the log could not be
// read, not that it is bad.
func (l *Log) Verify(ctx context.Context) (Report, error) {
	tx, err := l.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Report{}, fmt.Errorf("audit.Verify: begin: %w", err)
	}
	defer tx.Rollback()
	var rep Report
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_log`).Scan(&rep.Entries); err != nil {
		return Report{}, fmt.Errorf("audit.Verify: %w", err)
	}
	var headSeq int64
	var headHash string
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash)
	haveHead := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Report{}, fmt.Errorf("audit.Verify: read head: %w", err)
	}
	rep.HeadSeq, rep.HeadHash = headSeq, headHash

	bad, anomaly, lastSeq, lastHash, err := walk(ctx, tx)
	if err != nil {
		return Report{}, fmt.Errorf("audit.Verify: %w", err)
	}
	if bad != nil {
		if err := classify(ctx, tx, &rep, bad, anomaly, lastSeq, max(headSeq, rep.Entries)); err != nil {
			return Report{}, fmt.Errorf("audit.Verify: %w", err)
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
func walk(ctx context.Context, tx *sql.Tx) (bad *rawEntry, anomaly int, prevSeq int64, prevHash string, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+columns+` FROM audit_log ORDER BY seq`)
	if err != nil {
		return nil, 0, 0, "", err
	}
	defer rows.Close()
	prevHash = Genesis
	for rows.Next() {
		var (
			r          rawEntry
			eps, delta float64
		)
		f := &r.fields
		if err := rows.Scan(&r.seq, &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9],
			&f[10], &eps, &delta, &f[13], &f[14], &f[15], &f[16], &r.hash); err != nil {
			return nil, 0, 0, "", fmt.Errorf("read entry: %w", err)
		}
		f[0] = strconv.FormatInt(r.seq, 10)
		f[11], f[12] = formatFloat(eps), formatFloat(delta)
		switch {
		case hashFields(r.fields) != r.hash:
			return &r, anomalyContent, prevSeq, prevHash, nil
		case r.seq != prevSeq+1:
			return &r, anomalyGap, prevSeq, prevHash, nil
		case r.prevHash() != prevHash:
			return &r, anomalyLink, prevSeq, prevHash, nil
		}
		prevSeq, prevHash = r.seq, r.hash
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, "", fmt.Errorf("read entries: %w", err)
	}
	return nil, 0, prevSeq, prevHash, nil
}

// classify fills rep for the first bad entry r found by walk after prevSeq.
// maxSeq bounds the search for the Seq r's content was written at.
func classify(ctx context.Context, tx *sql.Tx, rep *Report, r *rawEntry, anomaly int, prevSeq, maxSeq int64) error {
	switch anomaly {
	case anomalyGap:
		rep.Problem, rep.FirstBad = ProblemRemoved, prevSeq+1
		rep.Detail = fmt.Sprintf("entries %d to %d are missing", prevSeq+1, r.seq-1)
		return nil
	case anomalyLink:
		if prevSeq == 0 {
			rep.Problem, rep.FirstBad = ProblemChanged, r.seq
			rep.Detail = fmt.Sprintf("entry %d does not start from the genesis hash: it was rewritten together with its hash", r.seq)
			return nil
		}
		rep.Problem, rep.FirstBad = ProblemChanged, prevSeq
		rep.Detail = fmt.Sprintf("entry %d does not link to entry %d: entry %d was rewritten together with its hash", r.seq, prevSeq, prevSeq)
		return nil
	}
	// The content does not match its hash. If it matches at another Seq,
	// the entry moved; otherwise it was changed.
	orig, moved := int64(0), false
	for d := int64(1); d <= max(maxSeq, r.seq)+1 && !moved; d++ {
		for _, s := range []int64{r.seq - d, r.seq + d} {
			if s >= 1 && r.hashAt(s) == r.hash {
				orig, moved = s, true
				break
			}
		}
	}
	switch {
	case !moved:
		rep.Problem, rep.FirstBad = ProblemChanged, r.seq
		rep.Detail = fmt.Sprintf("entry %d does not match its hash: its content was changed", r.seq)
	case orig < r.seq:
		rep.Problem, rep.FirstBad = ProblemInserted, orig
		rep.Detail = fmt.Sprintf("entry %d holds what Append wrote as entry %d: %d entries were inserted before it", r.seq, orig, r.seq-orig)
	default:
		// Content from later in the log. If the entry it links to is still
		// in the log, entries changed places; otherwise some were removed
		// and the rest renumbered.
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_log WHERE hash = ?`, r.prevHash()).Scan(&n); err != nil {
			return fmt.Errorf("look up previous entry: %w", err)
		}
		if n > 0 {
			rep.Problem, rep.FirstBad = ProblemReordered, r.seq
			rep.Detail = fmt.Sprintf("entry %d holds what Append wrote as entry %d: entries changed places", r.seq, orig)
		} else {
			rep.Problem, rep.FirstBad = ProblemRemoved, r.seq
			rep.Detail = fmt.Sprintf("entry %d holds what Append wrote as entry %d: %d entries were removed and the rest renumbered", r.seq, orig, orig-r.seq)
		}
	}
	return nil
}

// CheckAnchor reports whether entry seq still has hash: an operator who
// recorded a head (Report.HeadSeq, Report.HeadHash) outside the machine
// checks it later with this, which catches even a consistent rewrite of
// the whole log, when Verify also passes. A missing entry reports false.
func (l *Log) CheckAnchor(ctx context.Context, seq int64, hash string) (bool, error) {
	var stored string
	err := l.db.QueryRowContext(ctx, `SELECT hash FROM audit_log WHERE seq = ?`, seq).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("audit.CheckAnchor: %w", err)
	}
	return stored == hash, nil
}
