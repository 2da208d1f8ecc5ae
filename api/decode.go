package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// decodeJSON reads the request's JSON body into dst: Content-Type must be
// application/json (415), the body at most maxBytes (413), one JSON object
// with known fields of the right types (400).
func decodeJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != MediaJSON {
		return errorf(codeUnsupportedMediaType,
			`send the body as JSON with "Content-Type: application/json"`,
			"the request body must be application/json")
	}
	tooLarge := errorf(codeBodyTooLarge,
		"send a shorter request", "the request body is larger than %d bytes", maxBytes)
	if r.ContentLength > maxBytes {
		return tooLarge
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge
		}
		return badJSON(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge
		}
		return errorf(codeMalformedJSON, "send exactly one JSON object",
			"the request body has more after its JSON object")
	}
	return nil
}

// badJSON describes a JSON decoding error without echoing the body's values.
func badJSON(err error) *httpError {
	const hint = "see the request schema in GET /v1/openapi.json"
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return errorf(codeMalformedJSON, hint, "the request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(codeMalformedJSON, hint, "the request body ends in the middle of its JSON")
	case errors.As(err, &syn):
		return errorf(codeMalformedJSON, hint, "the request body is not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return errorf(codeWrongType, hint, "the request body must be a JSON object, not %s", withArticle(typ.Value))
		}
		return errorf(codeWrongType, hint, "field %q must be %s, not %s", typ.Field, jsonKind(typ.Type.String()), withArticle(typ.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for unknown fields; the field
		// name is the client's own text.
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return errorf(codeUnknownField, hint, "unknown field %s in the request body", field)
	default:
		return errorf(codeMalformedJSON, hint, "the request body could not be read as JSON")
	}
}

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		return "an object"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "float"), strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a number"
	default:
		return "of another type"
	}
}

// withArticle names a JSON value kind as encoding/json reports it
// ("string", "number", "array", "object", "bool") with its article.
func withArticle(kind string) string {
	switch {
	case kind == "bool":
		return "true or false"
	case kind == "array", kind == "object":
		return "an " + kind
	case strings.HasPrefix(kind, "number"): // "number 1.5" for a number that does not fit
		return "a number of another kind"
	default:
		return "a " + kind
	}
}

// required returns a 400 naming the missing fields, or nil.
func required(fields ...[2]string) error {
	var missing []string
	for _, f := range fields {
		if strings.TrimSpace(f[1]) == "" {
			missing = append(missing, fmt.Sprintf("%q", f[0]))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return errorf(codeMissingField, "see the request schema in GET /v1/openapi.json",
		"the request body lacks %s", strings.Join(missing, ", "))
}

// epsilonOf validates an optional ε: omitted is 0 (the policy default);
// given, it must be positive.
func epsilonOf(e *float64) (float64, error) {
	if e == nil {
		return 0, nil
	}
	if !(*e > 0) {
		return 0, errorf(codeInvalidEpsilon,
			"omit epsilon to use the policy's default, or give a positive number",
			`field "epsilon" must be a positive number`)
	}
	return *e, nil
}
