package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
)

// readyTimeout bounds the engine's readiness check.
const readyTimeout = 5 * time.Second

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	h.writeJSON(w, r, http.StatusOK, StatusBody{Status: "ok"})
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	if h.Draining() {
		h.writeError(w, r, errorf(codeShuttingDown, "",
			"the server is shutting down"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := h.eng.Ready(ctx); err != nil {
		h.log.WarnContext(r.Context(), "not ready", "error", err.Error())
		h.writeError(w, r, errorf(codeNotReady, "",
			"the engine cannot answer queries yet; the server log says why"))
		return
	}
	h.writeJSON(w, r, http.StatusOK, StatusBody{Status: "ready"})
}

// notFound answers unknown paths with the list of endpoints.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	e := errorf(codeUnknownEndpoint,
		"use one of the endpoints listed in \"endpoints\"; GET /v1/openapi.json describes them",
		"there is no endpoint at this path")
	e.endpoints = endpoints
	h.writeError(w, r, e)
}

// methodNotAllowed answers a known path with the wrong method, naming the
// allowed methods in the Allow header and the detail.
func (h *Handler) methodNotAllowed(mux *chi.Mux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if mux.Match(chi.NewRouteContext(), m, r.URL.Path) {
				allowed = append(allowed, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		h.writeError(w, r, errorf(codeMethodNotAllowed,
			"use "+strings.Join(allowed, " or "), "this endpoint does not accept %s", safeMethod(r.Method)))
	}
}

// safeMethod returns m when it is a standard method, so the detail never
// echoes arbitrary client text.
func safeMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "this method"
}

func (h *Handler) listDatasets(w http.ResponseWriter, r *http.Request) {
	if !h.acceptJSON(w, r) {
		return
	}
	ds := convert(h.eng.Datasets(strings.TrimSpace(r.URL.Query().Get("q"))), fromDataset)
	if ds == nil {
		ds = []Dataset{}
	}
	h.writeJSON(w, r, http.StatusOK, DatasetList{Datasets: ds})
}

func (h *Handler) getDataset(w http.ResponseWriter, r *http.Request) {
	if !h.acceptJSON(w, r) {
		return
	}
	d, ok := h.eng.Dataset(chi.URLParam(r, "name"))
	if !ok {
		h.writeError(w, r, &refusal.Error{Code: refusal.UnknownDataset,
			Message: "there is no dataset by this name", Hint: "GET /v1/datasets lists the datasets"})
		return
	}
	h.writeJSON(w, r, http.StatusOK, fromDataset(d))
}

// sqlReference serves the allowed SQL subset, listed from the checker's
// allow-list (query.AllowedSQL); it reveals nothing about data, so it
// needs no token.
func (h *Handler) sqlReference(w http.ResponseWriter, r *http.Request) {
	if !h.acceptJSON(w, r) {
		return
	}
	h.writeJSON(w, r, http.StatusOK, fromSQLReference(query.AllowedSQL()))
}

// publicDataMap reports whether the policy serves the data map without a
// token (fail-closed: an engine that does not say is served to token holders).
func (h *Handler) publicDataMap() bool {
	dm, ok := h.eng.(DataMapper)
	return ok && dm.DataMap() == "public"
}

func (h *Handler) listCodeLists(w http.ResponseWriter, r *http.Request) {
	if !h.acceptJSON(w, r) {
		return
	}
	list := CodeListList{CodeLists: []CodeList{}}
	if dm, ok := h.eng.(DataMapper); ok {
		for _, c := range dm.CodeLists() {
			list.CodeLists = append(list.CodeLists, fromCodeList(c))
		}
	}
	h.writeJSON(w, r, http.StatusOK, list)
}

func (h *Handler) getCodeList(w http.ResponseWriter, r *http.Request) {
	if !h.acceptJSON(w, r) {
		return
	}
	dm, ok := h.eng.(DataMapper)
	var c catalog.CodeList
	if ok {
		c, ok = dm.CodeList(chi.URLParam(r, "name"), strings.TrimSpace(r.URL.Query().Get("q")))
	}
	if !ok {
		h.writeError(w, r, &refusal.Error{Code: refusal.UnknownCodeList,
			Message: "there is no code list or code system by this name", Hint: "GET /v1/codelists lists them"})
		return
	}
	out := fromCodeList(c)
	if out.Codes == nil {
		out.Codes = []CodeListCode{}
	}
	h.writeJSON(w, r, http.StatusOK, out)
}

func (h *Handler) me(w http.ResponseWriter, r *http.Request) {
	if !h.acceptJSON(w, r) {
		return
	}
	p, _ := principalFrom(r.Context())
	out := Me{Principal: p.Name, Projects: []ProjectMembership{}}
	if id, ok := h.eng.(Identity); ok {
		for _, m := range id.Memberships(p) {
			out.Projects = append(out.Projects, ProjectMembership{Project: m.Project, Title: m.Title, Role: m.Role,
				Actions: slices.Clone(m.Actions), Datasets: slices.Clone(m.Datasets)})
		}
	}
	h.writeJSON(w, r, http.StatusOK, out)
}

func (h *Handler) listTemplates(w http.ResponseWriter, r *http.Request) {
	if !h.acceptJSON(w, r) {
		return
	}
	p, _ := principalFrom(r.Context())
	ts := convert(h.eng.Templates(p), fromTemplate)
	if ts == nil {
		ts = []TemplateInfo{}
	}
	h.writeJSON(w, r, http.StatusOK, TemplateList{Templates: ts})
}

func (h *Handler) budget(w http.ResponseWriter, r *http.Request) {
	if !h.acceptJSON(w, r) {
		return
	}
	p, _ := principalFrom(r.Context())
	rep, err := h.eng.Budget(r.Context(), p, chi.URLParam(r, "id"))
	if err != nil {
		h.engineError(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, fromBudget(rep))
}

func (h *Handler) budgetHistory(w http.ResponseWriter, r *http.Request) {
	if !h.acceptJSON(w, r) {
		return
	}
	q := r.URL.Query()
	limit := 0 // the engine's default
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > engine.MaxHistoryLimit {
			h.writeError(w, r, errorf(codeInvalidParameter,
				fmt.Sprintf("omit limit for %d debits, or give a whole number from 1 to %d", engine.DefaultHistoryLimit, engine.MaxHistoryLimit),
				"query parameter \"limit\" must be a whole number from 1 to %d", engine.MaxHistoryLimit))
			return
		}
		limit = n
	}
	var before int64
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			h.writeError(w, r, errorf(codeInvalidParameter,
				"omit before for the newest debits, or pass the next_before of the previous page",
				"query parameter \"before\" must be a debit id (a whole number from 1)"))
			return
		}
		before = n
	}
	p, _ := principalFrom(r.Context())
	hist, err := h.eng.BudgetHistory(r.Context(), p, chi.URLParam(r, "id"), before, limit)
	if err != nil {
		h.engineError(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, fromBudgetHistory(hist))
}

// maxAuditLimit is the largest ?limit= of GET /v1/audit.
const maxAuditLimit = 1000

func (h *Handler) audit(w http.ResponseWriter, r *http.Request) {
	if !h.acceptJSON(w, r) {
		return
	}
	limit := 0 // the engine's default
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxAuditLimit {
			h.writeError(w, r, errorf(codeInvalidParameter,
				"omit limit for the default, or give a whole number from 1 to 1000",
				"query parameter \"limit\" must be a whole number from 1 to %d", maxAuditLimit))
			return
		}
		limit = n
	}
	p, _ := principalFrom(r.Context())
	entries, err := h.eng.Audit(r.Context(), p, limit)
	if err != nil {
		h.engineError(w, r, err)
		return
	}
	list := AuditList{Entries: convert(entries, fromAuditEntry)}
	if list.Entries == nil {
		list.Entries = []AuditEntry{}
	}
	h.writeJSON(w, r, http.StatusOK, list)
}

func (h *Handler) query(w http.ResponseWriter, r *http.Request) {
	mt, ok := h.acceptResult(w, r)
	if !ok {
		return
	}
	var body QueryBody
	if err := decodeJSON(w, r, h.maxBody, &body); err != nil {
		h.writeError(w, r, err)
		return
	}
	eps, err := epsilonOf(body.Epsilon)
	if err == nil {
		err = required([2]string{"project", body.Project}, [2]string{"sql", body.SQL})
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.runQuery(w, r, mt, engine.Request{Project: body.Project, SQL: body.SQL, Epsilon: eps, Totals: body.Totals, Bounds: body.Bounds.toEngine()})
}

func (h *Handler) runTemplate(w http.ResponseWriter, r *http.Request) {
	mt, ok := h.acceptResult(w, r)
	if !ok {
		return
	}
	var body TemplateRunBody
	if err := decodeJSON(w, r, h.maxBody, &body); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := required([2]string{"project", body.Project}); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.runQuery(w, r, mt, engine.Request{Project: body.Project, Template: chi.URLParam(r, "name"), Params: body.Params, Bounds: body.Bounds.toEngine()})
}

func (h *Handler) estimateCohort(w http.ResponseWriter, r *http.Request) {
	mt, ok := h.acceptResult(w, r)
	if !ok {
		return
	}
	var body CohortBody
	if err := decodeJSON(w, r, h.maxBody, &body); err != nil {
		h.writeError(w, r, err)
		return
	}
	eps, err := epsilonOf(body.Epsilon)
	if err == nil {
		err = required([2]string{"project", body.Project})
	}
	if err == nil && len(body.Include) == 0 {
		err = errorf(codeMissingField, "give at least one criterion, e.g. {\"dataset\": \"npr\", \"where\": \"icd10 LIKE 'E11%'\"}",
			"the request body lacks \"include\" criteria")
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	spec := &engine.CohortSpec{
		Include:   convert(body.Include, Criterion.toEngine),
		Exclude:   convert(body.Exclude, Criterion.toEngine),
		Breakdown: body.Breakdown,
	}
	h.runQuery(w, r, mt, engine.Request{Project: body.Project, Cohort: spec, Epsilon: eps, Bounds: body.Bounds.toEngine()})
}

// runQuery asks the engine and renders its result as mt.
func (h *Handler) runQuery(w http.ResponseWriter, r *http.Request, mt string, req engine.Request) {
	p, _ := principalFrom(r.Context())
	o := outputOptionsOf(r)
	if o.dryRun {
		// A dry run answers in JSON whatever was negotiated: it has no rows.
		req.DryRun, mt = true, MediaJSON
	}
	res, err := h.eng.Query(r.Context(), p, req)
	if err == nil && res == nil {
		err = errors.New("api: engine returned neither a result nor an error")
	}
	if err != nil {
		h.metrics.chargedFailed(engine.ChargedEpsilon(err))
		h.engineError(w, r, err)
		return
	}
	if !req.DryRun {
		h.metrics.charged(res)
	}
	body, err := render(res, mt, o)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Statgate-Query-Id", res.Meta.QueryID)
	hd.Set("Statgate-Epsilon", strconv.FormatFloat(res.Meta.Epsilon, 'g', -1, 64))
	hd.Set("Statgate-Delta", strconv.FormatFloat(res.Meta.Delta, 'g', -1, 64))
	if req.DryRun {
		hd.Set("Statgate-Dry-Run", "true")
	}
	if res.Meta.Cached {
		hd.Set("Statgate-Cached", "true")
	}
	if mt == MediaCSV {
		hd.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "statgate-"+safeFileName(res.Meta.QueryID)+".csv"))
		mt += "; charset=utf-8; header=present"
	}
	h.writeBody(w, http.StatusOK, mt, body)
}

// safeFileName keeps the characters of s that are safe in a file name.
func safeFileName(s string) string {
	s = strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			return c
		}
		return -1
	}, s)
	if s == "" {
		return "result"
	}
	return s
}

// engineError writes an error the engine returned. When the request's
// context ended meanwhile, the error is reported as the timeout or
// cancellation it most likely is, unless the engine refused.
func (h *Handler) engineError(w http.ResponseWriter, r *http.Request, err error) {
	if _, isRefusal := refusal.As(err); !isRefusal {
		if cerr := r.Context().Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (engine: %w)", cerr, err)
		}
	}
	h.writeError(w, r, err)
}

// acceptResult negotiates the result format; it writes a 406 and returns
// false when the client accepts none. It runs before the engine, so an
// unacceptable format costs no budget.
func (h *Handler) acceptResult(w http.ResponseWriter, r *http.Request) (string, bool) {
	w.Header().Add("Vary", "Accept")
	mt, ok := negotiate(r.Header.Get("Accept"), resultOffers)
	if !ok {
		h.writeError(w, r, errorf(codeNotAcceptable,
			`send "Accept: application/json", "text/csv" or "application/vnd.apache.arrow.stream"`,
			"results are available as %s", strings.Join(resultOffers, ", ")))
	}
	return mt, ok
}

// acceptJSON is acceptResult for endpoints that answer JSON only.
func (h *Handler) acceptJSON(w http.ResponseWriter, r *http.Request) bool {
	w.Header().Add("Vary", "Accept")
	if _, ok := negotiate(r.Header.Get("Accept"), jsonOnly); !ok {
		h.writeError(w, r, errorf(codeNotAcceptable,
			`send "Accept: application/json" or omit Accept`, "this endpoint answers application/json only"))
		return false
	}
	return true
}

// writeJSON writes v as a JSON response, indented with ?pretty=true.
func (h *Handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := marshalJSON(v, outputOptionsOf(r).pretty)
	if err != nil {
		h.writeError(w, r, fmt.Errorf("api: encode response: %w", err))
		return
	}
	h.writeBody(w, status, MediaJSON, body)
}

// writeBody writes a complete response body.
func (h *Handler) writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
