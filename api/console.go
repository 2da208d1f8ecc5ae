package api

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
)

// The web console: plain HTML, CSS and JavaScript in api/web, embedded in
// the binary and served at / (index.html) and /assets/{file}. It calls
// this API and nothing else; the Content-Security-Policy below lets the
// browser load and connect to this origin only, so no request leaves the
// server even if a page tried. The console holds no privacy rule: it
// renders what the API answers.
//
//go:embed web
var webFS embed.FS

// consoleCSP is the Content-Security-Policy of every console response.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// consoleRoutes are the routes the console adds (not part of the API's
// OpenAPI document).
var consoleRoutes = []string{"GET /", "GET /assets/*"}

// consoleTypes are the media types of the console's files.
var consoleTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
}

func (h *Handler) consoleRoutes(r chi.Router) {
	r.Get("/", func(w http.ResponseWriter, r *http.Request) { h.serveWeb(w, r, "index.html") })
	r.Get("/assets/*", func(w http.ResponseWriter, r *http.Request) {
		h.serveWeb(w, r, strings.TrimPrefix(chi.URLParam(r, "*"), "/"))
	})
}

// serveWeb writes one embedded file of api/web, or a 404 problem.
func (h *Handler) serveWeb(w http.ResponseWriter, r *http.Request, name string) {
	typ, known := consoleTypes[path.Ext(name)]
	body, err := fs.ReadFile(webFS, "web/"+name)
	if !known || err != nil || strings.Contains(name, "..") {
		h.notFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", typ)
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd.Set("Content-Security-Policy", consoleCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
