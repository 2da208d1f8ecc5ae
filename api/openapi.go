package api

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPIDoc is the OpenAPI 3.1 document of this API, checked in as
// openapi.json and tested against the router.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns a copy of the API's OpenAPI 3.1 document (JSON).
func OpenAPI() []byte {
	return append([]byte(nil), openAPIDoc...)
}

// serveOpenAPI serves the OpenAPI document; it needs no token.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(openAPIDoc)))
	hd.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDoc)
}
