package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/statgate/statgate/engine/dcat"
)

// catalogueOffers are the media types of GET /v1/catalog.jsonld: JSON-LD,
// or plain JSON for clients that ask for it.
var catalogueOffers = []string{dcat.MediaType, MediaJSON}

// catalogue serves the data map as a DCAT-AP / HealthDCAT-AP catalogue in
// JSON-LD, on the data map's terms (without a token when the policy's
// data map is public: catalogue harvesters carry none); it holds only what
// the data map holds (rounded sizes). Its IRIs hang from Options.BaseURL;
// without one they follow the request's Host header, and the answer is
// then kept out of shared caches (Cache-Control: private), which could
// otherwise hand IRIs one request's Host chose to everyone.
func (h *Handler) catalogue(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	mt, ok := negotiate(r.Header.Get("Accept"), catalogueOffers)
	if !ok {
		h.writeError(w, r, errorf(codeNotAcceptable,
			`send "Accept: application/ld+json" or omit Accept`, "this endpoint answers application/ld+json (or application/json) only"))
		return
	}
	base, cache := h.baseURL, "public, max-age=300"
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base, cache = scheme+"://"+r.Host, "private, max-age=300"
	}
	body, err := marshalJSON(h.eng.Catalogue(base), outputOptionsOf(r).pretty)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", mt)
	hd.Set("Cache-Control", cache)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// errBaseURLParts says what a base URL may not carry.
var errBaseURLParts = errors.New("a base URL carries no query, fragment, user info or empty port")

// checkBaseURL validates Options.BaseURL: "" or an absolute http(s) URL
// with a host and no query, fragment or user info. It returns it without
// a trailing slash.
func checkBaseURL(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("base URL %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("base URL %q: want an absolute http:// or https:// URL with a host, e.g. https://statgate.example.org", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.HasSuffix(u.Host, ":") {
		return "", fmt.Errorf("base URL %q: %w", s, errBaseURLParts)
	}
	return strings.TrimRight(s, "/"), nil
}
