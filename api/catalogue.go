package api

import (
	"net/http"

	"github.com/statgate/statgate/engine/dcat"
)

// catalogueOffers are the media types of GET /v1/catalog.jsonld: JSON-LD,
// or plain JSON for clients that ask for it.
var catalogueOffers = []string{dcat.MediaType, MediaJSON}

// catalogue serves the data map as a DCAT-AP / HealthDCAT-AP catalogue in
// JSON-LD, on the data map's terms (without a token when the policy's
// data map is public: catalogue harvesters carry none); it holds only what
// the data map holds (rounded sizes). Its IRIs hang from the address the
// request was sent to.
func (h *Handler) catalogue(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	mt, ok := negotiate(r.Header.Get("Accept"), catalogueOffers)
	if !ok {
		h.writeError(w, r, errorf(codeNotAcceptable,
			`send "Accept: application/ld+json" or omit Accept`, "this endpoint answers application/ld+json (or application/json) only"))
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	body, err := marshalJSON(h.eng.Catalogue(scheme+"://"+r.Host), outputOptionsOf(r).pretty)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", mt)
	hd.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
