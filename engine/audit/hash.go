package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"

	"github.com/statgate/statgate/engine/statedb"
)

// Genesis is the PrevHash of the first entry: 64 zeros.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// hashDomain starts every canonical encoding, so that an entry's hash
// cannot collide with a hash of anything else, and names the version.
const hashDomain = "statgate-audit-v1\n"

// ComputeHash returns the hex SHA-256 of e's canonical encoding:
//
//	"statgate-audit-v1\n" followed by, for each field in this order,
//	its length in bytes as a decimal number, ":", the bytes, and "\n":
//
//	 1 seq            decimal
//	 2 time           UTC, "2006-01-02T15:04:05.000000000Z" (statedb.TimeFormat)
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
	return hashFields(e.fields())
}

// nFields is the number of fields in the canonical encoding.
const nFields = 17

// fields returns e's canonical fields, in encoding order, as stored.
func (e *Entry) fields() [nFields]string {
	return [nFields]string{
		strconv.FormatInt(e.Seq, 10),
		statedb.FormatTime(e.Time),
		e.QueryID,
		e.Principal,
		e.Project,
		datasetsJSON(e.Datasets),
		e.Kind,
		e.Query,
		e.Template,
		string(e.Params),
		e.PlanHash,
		formatFloat(e.Epsilon),
		formatFloat(e.Delta),
		e.Outcome,
		e.Reason,
		e.ResultDigest,
		e.PrevHash,
	}
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
