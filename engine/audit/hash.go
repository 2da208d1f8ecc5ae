package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Genesis is the PrevHash of the first entry: 64 zeros.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// hashDomain starts every canonical encoding, so that an entry's hash
// cannot collide with a hash of anything else, and names the version.
const hashDomain = "statgate-audit-v1\n"

// TimeFormat is the canonical form of an entry's Time: UTC, fixed width,
// so that text order is time order and a time reads back exactly.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// FormatTime renders t in TimeFormat (in UTC), as it is hashed and as
// Raw.Time holds it.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// parseTime reads a time written by FormatTime.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("audit: time: %w", err)
	}
	return t.UTC(), nil
}

// ComputeHash returns the hex SHA-256 of e's canonical encoding:
//
//	"statgate-audit-v1\n" followed by, for each field in this order,
//	its length in bytes as a decimal number, ":", the bytes, and "\n":
//
//	 1 seq            decimal
//	 2 time           UTC, "2006-01-02T15:04:05.000000000Z" (TimeFormat)
//	 3 query_id
//	 4 principal
//	 5 project
//	 6 datasets       JSON array of strings, e.g. ["lmr","npr"] ([] when none)
//	 7 kind
//	 8 query
//	 9 template
//	10 params         compact JSON as stored ("" when none)
//	11 plan_hash
//	12 epsilon        shortest decimal that reads back exactly (Go 'g', -1)
//	13 delta          likewise
//	14 outcome
//	15 reason
//	16 result_digest
//	17 prev_hash      hex
//
// Strings are their UTF-8 bytes as stored. The length prefixes make the
// encoding unambiguous whatever the fields contain. Hash itself is not
// part of it.
func (e *Entry) ComputeHash() string {
	r := e.Raw()
	return hashFields(r.fields())
}

// nFields is the number of fields in the canonical encoding.
const nFields = 17

// Raw is an entry as a store holds it, with its fields in stored form and
// unparsed (Time in TimeFormat, Datasets as a JSON array, Params as
// compact JSON or ""), so that Verify hashes exactly what is stored and
// any change to the stored text changes the hash. A store writes the Raw
// that Append gives it and scans its columns into a Raw.
type Raw struct {
	Seq                         int64
	Time                        string
	QueryID, Principal, Project string
	Datasets                    string
	Kind, Query, Template       string
	Params                      string
	PlanHash                    string
	Epsilon, Delta              float64
	Outcome, Reason             string
	ResultDigest                string
	PrevHash, Hash              string
}

// Raw returns e in stored form.
func (e *Entry) Raw() Raw {
	return Raw{
		Seq: e.Seq, Time: FormatTime(e.Time), QueryID: e.QueryID, Principal: e.Principal,
		Project: e.Project, Datasets: datasetsJSON(e.Datasets), Kind: e.Kind, Query: e.Query,
		Template: e.Template, Params: string(e.Params), PlanHash: e.PlanHash,
		Epsilon: e.Epsilon, Delta: e.Delta, Outcome: e.Outcome, Reason: e.Reason,
		ResultDigest: e.ResultDigest, PrevHash: e.PrevHash, Hash: e.Hash,
	}
}

// Entry parses r. An unreadable time or dataset list is an error (Verify
// reports such an entry as changed; List and Tail fail on it).
func (r Raw) Entry() (Entry, error) {
	e := Entry{
		Seq: r.Seq, QueryID: r.QueryID, Principal: r.Principal, Project: r.Project,
		Kind: r.Kind, Query: r.Query, Template: r.Template, PlanHash: r.PlanHash,
		Epsilon: r.Epsilon, Delta: r.Delta, Outcome: r.Outcome, Reason: r.Reason,
		ResultDigest: r.ResultDigest, PrevHash: r.PrevHash, Hash: r.Hash,
	}
	var err error
	if e.Time, err = parseTime(r.Time); err != nil {
		return Entry{}, fmt.Errorf("entry %d: %w", r.Seq, err)
	}
	if err := json.Unmarshal([]byte(r.Datasets), &e.Datasets); err != nil {
		return Entry{}, fmt.Errorf("entry %d: datasets: %w", r.Seq, err)
	}
	if e.Datasets == nil {
		e.Datasets = []string{}
	}
	if r.Params != "" {
		e.Params = json.RawMessage(r.Params)
	}
	return e, nil
}

// fields returns r's canonical fields, in encoding order.
func (r *Raw) fields() [nFields]string {
	return [nFields]string{
		strconv.FormatInt(r.Seq, 10),
		r.Time,
		r.QueryID,
		r.Principal,
		r.Project,
		r.Datasets,
		r.Kind,
		r.Query,
		r.Template,
		r.Params,
		r.PlanHash,
		formatFloat(r.Epsilon),
		formatFloat(r.Delta),
		r.Outcome,
		r.Reason,
		r.ResultDigest,
		r.PrevHash,
	}
}

// hashAt is the hash r's content would have at seq.
func (r *Raw) hashAt(seq int64) string {
	f := r.fields()
	f[0] = strconv.FormatInt(seq, 10)
	return hashFields(f)
}

// hashFields is the hex SHA-256 of the canonical encoding of fields.
func hashFields(fields [nFields]string) string {
	var b bytes.Buffer
	b.WriteString(hashDomain)
	for _, f := range fields {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
		b.WriteByte('\n')
	}
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// formatFloat is the canonical form of ε and δ.
func formatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// datasetsJSON is the stored and hashed form of a dataset list.
func datasetsJSON(ds []string) string {
	if ds == nil {
		ds = []string{}
	}
	b, _ := json.Marshal(ds) // a []string always marshals
	return string(b)
}

// compactJSON validates raw and removes insignificant space.
func compactJSON(raw []byte) (json.RawMessage, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	return json.RawMessage(b.Bytes()), nil
}
