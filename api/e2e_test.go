package api_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/statgate/statgate/api"
	"github.com/statgate/statgate/engine/result"
)

// The queries of the session. contactsSQL groups by a column with a
// public domain of three values, so every format has exactly three rows
// whatever the noise.
const (
	contactsSQL = "SELECT contact_type, count(*) AS contacts FROM npr GROUP BY 1"
	// secret is a literal that must never come back in an error.
	secret    = "Z99SECRET"
	starSQL   = "SELECT * FROM npr WHERE icd10 = '" + secret + "'"
	cohortReq = `{"project":"diabetes-2026",
		"include":[{"dataset":"npr","where":"icd10 LIKE 'E11%'"},{"dataset":"lmr","where":"atc LIKE 'A10B%'"}],
		"exclude":[{"dataset":"death_causes"}],
		"breakdown":["sex","age_band"]}`
)

// ledger is what the test expects the server to have spent and audited.
type ledger struct {
	spent    map[string]float64 // dataset → ε of released results
	metricEp float64            // Σ meta.epsilon of released results
	released int                // engine requests answered
	refused  int                // engine requests refused
}

// release records a released result's meta.
func (l *ledger) release(t *testing.T, m result.Meta) {
	t.Helper()
	if m.Project != "diabetes-2026" || m.Epsilon <= 0 || len(m.Datasets) == 0 || m.QueryID == "" {
		t.Fatalf("meta %+v", m)
	}
	for _, d := range m.Datasets {
		l.spent[d] += m.Epsilon
	}
	l.metricEp += m.Epsilon
	l.released++
}

// queryBody is a POST /v1/query body.
func queryBody(t *testing.T, project, sql string, epsilon float64) string {
	t.Helper()
	b := api.QueryBody{Project: project, SQL: sql}
	if epsilon > 0 {
		b.Epsilon = &epsilon
	}
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// decodeResult decodes a JSON result and checks that every released
// measure carries its noise and interval.
func decodeResult(t *testing.T, r reply) result.Result {
	t.Helper()
	var res result.Result
	decodeJSON(t, r, &res)
	if got := r.header.Get("Statgate-Query-Id"); got != res.Meta.QueryID {
		t.Errorf("Statgate-Query-Id %q, meta query_id %q", got, res.Meta.QueryID)
	}
	for i, row := range res.Rows {
		if len(row.Cells) != len(res.Columns) {
			t.Fatalf("row %d has %d cells for %d columns", i, len(row.Cells), len(res.Columns))
		}
		for j, c := range row.Cells {
			if res.Columns[j].Role != result.RoleMeasure || c.Suppressed {
				continue
			}
			if c.CI == nil || c.StdDev <= 0 {
				t.Errorf("row %d column %s released without noise or interval: %+v", i, res.Columns[j].Name, c)
			}
		}
	}
	return res
}

func columnNames(res result.Result) []string {
	var out []string
	for _, c := range res.Columns {
		out = append(out, c.Name)
	}
	return out
}

// TestE2ESession runs a whole session against one real server: every
// endpoint in the roles that may use it, then every error status, and
// checks that the budget, the metrics and the audit log account for
// exactly the requests that reached the engine.
func TestE2ESession(t *testing.T) {
	s := startE2E(t, e2eConfig{maxBody: 4 << 10})
	l := &ledger{spent: map[string]float64{}}

	t.Run("probes", func(t *testing.T) {
		var b api.StatusBody
		decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/healthz"}, http.StatusOK), &b)
		if b.Status != "ok" {
			t.Errorf("/healthz status %q", b.Status)
		}
		decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/readyz"}, http.StatusOK), &b)
		if b.Status != "ready" {
			t.Errorf("/readyz status %q", b.Status)
		}
	})

	t.Run("openapi", func(t *testing.T) {
		r := s.must(t, call{method: http.MethodGet, path: "/v1/openapi.json"}, http.StatusOK)
		var doc struct {
			OpenAPI string                     `json:"openapi"`
			Paths   map[string]json.RawMessage `json:"paths"`
		}
		decodeJSON(t, r, &doc)
		if !strings.HasPrefix(doc.OpenAPI, "3.1") {
			t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
		}
		for _, p := range []string{"/healthz", "/readyz", "/v1/openapi.json", "/v1/datasets", "/v1/datasets/{name}",
			"/v1/query", "/v1/templates", "/v1/templates/{name}/run", "/v1/cohorts/estimate", "/v1/projects/{id}/budget", "/v1/audit"} {
			if _, ok := doc.Paths[p]; !ok {
				t.Errorf("the document lacks %s", p)
			}
		}
	})

	t.Run("me", func(t *testing.T) {
		var me api.Me
		decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/v1/me", as: analyst}, http.StatusOK), &me)
		if me.Principal != analyst || len(me.Projects) != 1 || me.Projects[0].Project != "diabetes-2026" ||
			me.Projects[0].Role != "analyst" || !slices.Equal(me.Projects[0].Actions, []string{"templates"}) {
			t.Errorf("me as the analyst: %+v", me)
		}
		decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/v1/me", as: researcher}, http.StatusOK), &me)
		if me.Principal != researcher || len(me.Projects) != 2 || !slices.Contains(me.Projects[0].Actions, "sql") {
			t.Errorf("me as the researcher: %+v", me)
		}
		s.must(t, call{method: http.MethodGet, path: "/v1/me"}, http.StatusUnauthorized)
	})

	t.Run("public data map", func(t *testing.T) {
		// The shipped policy's data_map is public: no token needed.
		var hits api.DatasetList
		decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/v1/datasets?q=metformin"}, http.StatusOK), &hits)
		if len(hits.Datasets) != 1 || hits.Datasets[0].Name != "lmr" || len(hits.Datasets[0].Matches) == 0 ||
			hits.Datasets[0].Matches[0] != (api.SearchMatch{Column: "atc", Field: "label", Text: "A10BA02 metformin", Word: "metformin"}) {
			t.Errorf("q=metformin without a token: %+v", hits.Datasets)
		}
		var lists api.CodeListList
		decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/v1/codelists"}, http.StatusOK), &lists)
		if len(lists.CodeLists) < 5 {
			t.Errorf("code lists %+v", lists)
		}
		var k api.CodeList
		decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/v1/codelists/kommunenummer?q=oslo"}, http.StatusOK), &k)
		if len(k.Codes) != 1 || k.Codes[0] != (api.CodeListCode{Code: "0301", Name: "Oslo"}) || k.Licence == "" {
			t.Errorf("kommunenummer?q=oslo: %+v", k)
		}
		if p := problem(t, s.must(t, call{method: http.MethodGet, path: "/v1/codelists/nope"}, http.StatusNotFound)); p.Code != "unknown_code_list" {
			t.Errorf("unknown code list: %+v", p)
		}
	})

	t.Run("catalogue", func(t *testing.T) {
		// No token: catalogue harvesters carry none.
		r := s.must(t, call{method: http.MethodGet, path: "/v1/catalog.jsonld"}, http.StatusOK)
		if mt := r.mediaType(); mt != "application/ld+json" {
			t.Errorf("media type %q", mt)
		}
		var doc struct {
			Type     string           `json:"@type"`
			Datasets []map[string]any `json:"dcat:dataset"`
			Service  []struct {
				Endpoint struct {
					ID string `json:"@id"`
				} `json:"dcat:endpointURL"`
			} `json:"dcat:service"`
		}
		if err := json.Unmarshal(r.body, &doc); err != nil {
			t.Fatalf("catalogue is not JSON: %v", err)
		}
		if doc.Type != "dcat:Catalog" || len(doc.Datasets) != 5 || len(doc.Service) != 1 ||
			!strings.HasPrefix(doc.Service[0].Endpoint.ID, "http://127.0.0.1:") {
			t.Errorf("catalogue: type %q, %d datasets, service %+v", doc.Type, len(doc.Datasets), doc.Service)
		}
		// No api.Options.BaseURL here: IRIs from the request, kept out of shared caches.
		if cc := r.header.Get("Cache-Control"); cc != "private, max-age=300" {
			t.Errorf("catalogue without a base URL: Cache-Control %q", cc)
		}
		s.must(t, call{method: http.MethodGet, path: "/v1/catalog.jsonld", header: map[string]string{"Accept": "text/csv"}}, http.StatusNotAcceptable)
	})

	t.Run("datasets", func(t *testing.T) {
		var all api.DatasetList
		decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/v1/datasets", as: analyst}, http.StatusOK), &all)
		var names []string
		for _, d := range all.Datasets {
			names = append(names, d.Name)
		}
		sort.Strings(names)
		if want := []string{"cancer", "death_causes", "lmr", "npr", "population"}; !slices.Equal(names, want) {
			t.Fatalf("datasets %v, want %v", names, want)
		}

		// The shipped policy's data map does not mention diabetes (the
		// word is in a project's title, not in any dataset's text), so
		// q=diabetes may find nothing; whatever it finds must be a
		// ranked list of real datasets, never null.
		for _, q := range []string{"diabetes", "diagnosis"} {
			r := s.must(t, call{method: http.MethodGet, path: "/v1/datasets?q=" + q, as: researcher}, http.StatusOK)
			var raw map[string]json.RawMessage
			decodeJSON(t, r, &raw)
			if b := raw["datasets"]; len(b) == 0 || b[0] != '[' {
				t.Errorf("q=%s: datasets is %s, want an array", q, b)
			}
			var hits api.DatasetList
			decodeJSON(t, r, &hits)
			var found []string
			for i, d := range hits.Datasets {
				found = append(found, d.Name)
				if d.Hits <= 0 || !slices.Contains(names, d.Name) || i > 0 && d.Hits > hits.Datasets[i-1].Hits {
					t.Errorf("q=%s: hit %d is %s with %d hits", q, i, d.Name, d.Hits)
				}
			}
			if q == "diagnosis" && (!slices.Contains(found, "npr") || len(found) >= len(names)) {
				t.Errorf("q=diagnosis found %v, want npr among some but not all datasets", found)
			}
		}

		r := s.must(t, call{method: http.MethodGet, path: "/v1/datasets/npr", as: researcher}, http.StatusOK)
		var npr struct {
			Name      string `json:"name"`
			PersonKey string `json:"person_key"`
			Columns   []struct {
				Name string `json:"name"`
			} `json:"columns"`
		}
		decodeJSON(t, r, &npr)
		var cols []string
		for _, c := range npr.Columns {
			cols = append(cols, c.Name)
		}
		if npr.Name != "npr" || npr.PersonKey != "pid" || !slices.Contains(cols, "icd10") || !slices.Contains(cols, "contact_type") {
			t.Errorf("npr = %s", r.body)
		}

		p := problem(t, s.must(t, call{method: http.MethodGet, path: "/v1/datasets/nope", as: researcher}, http.StatusNotFound))
		if p.Code != "unknown_dataset" {
			t.Errorf("unknown dataset code %q", p.Code)
		}
	})

	var jsonRows int
	t.Run("query as JSON", func(t *testing.T) {
		r := s.must(t, call{method: http.MethodPost, path: "/v1/query", as: researcher,
			body: queryBody(t, "diabetes-2026", contactsSQL, 0)}, http.StatusOK)
		res := decodeResult(t, r)
		l.release(t, res.Meta)
		if got := columnNames(res); !slices.Equal(got, []string{"contact_type", "contacts"}) {
			t.Errorf("columns %v", got)
		}
		if res.Meta.Epsilon != 0.5 || !slices.Equal(res.Meta.Datasets, []string{"npr"}) || res.Meta.Groups != "public_domain" {
			t.Errorf("meta %+v", res.Meta)
		}
		jsonRows = len(res.Rows)
		if jsonRows != 3 {
			t.Errorf("%d rows, want one per contact type", jsonRows)
		}
	})

	t.Run("query with fixed bounds", func(t *testing.T) {
		r := s.must(t, call{method: http.MethodPost, path: "/v1/query", as: researcher,
			body: `{"project":"diabetes-2026","sql":"SELECT contact_type, avg(length_of_stay_days) AS los FROM npr GROUP BY 1",
				"bounds":{"max_groups_per_person":2,"max_rows_per_person_per_group":3,"clamp":{"length_of_stay_days":[0,30]}}}`}, http.StatusOK)
		res := decodeResult(t, r)
		l.release(t, res.Meta)
		b := res.Meta.Bounding
		if b.MaxGroupsPerPerson != 2 || b.MaxRowsPerPersonPerGroup != 3 || b.Bounds["los"] != [2]float64{0, 30} {
			t.Errorf("bounding %+v, want the request's", b)
		}
	})

	t.Run("query as CSV", func(t *testing.T) {
		r := s.must(t, call{method: http.MethodPost, path: "/v1/query", as: researcher,
			body: queryBody(t, "diabetes-2026", contactsSQL, 0.25), header: map[string]string{"Accept": "text/csv"}}, http.StatusOK)
		if mt := r.mediaType(); mt != api.MediaCSV {
			t.Fatalf("Content-Type %q", r.header.Get("Content-Type"))
		}
		if !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment;") {
			t.Errorf("Content-Disposition %q", r.header.Get("Content-Disposition"))
		}
		ep, err := strconv.ParseFloat(r.header.Get("Statgate-Epsilon"), 64)
		if err != nil || ep != 0.25 {
			t.Fatalf("Statgate-Epsilon %q, want the requested 0.25", r.header.Get("Statgate-Epsilon"))
		}
		// CSV carries the meta in headers only; the query reads npr alone.
		l.release(t, result.Meta{Project: "diabetes-2026", QueryID: r.header.Get("Statgate-Query-Id"), Epsilon: ep, Datasets: []string{"npr"}})
		if !bytes.HasPrefix(r.body, []byte("# statgate result: "+r.header.Get("Statgate-Query-Id")+"\n")) ||
			!bytes.Contains(r.body, []byte("\n# epsilon: 0.25 ")) || !bytes.Contains(r.body, []byte("\n# note: ")) {
			t.Errorf("CSV does not open with its # comment lines (query id, epsilon, notes):\n%s", r.body)
		}
		cr := csv.NewReader(bytes.NewReader(r.body))
		cr.Comment = '#'
		recs, err := cr.ReadAll()
		if err != nil {
			t.Fatalf("CSV: %v\n%s", err, r.body)
		}
		wantHeader := []string{"contact_type", "contacts", "contacts_stddev", "contacts_ci_low", "contacts_ci_high", "suppressed"}
		if len(recs) == 0 || !slices.Equal(recs[0], wantHeader) {
			t.Fatalf("CSV header %v, want %v", recs[0], wantHeader)
		}
		if got := len(recs) - 1; got != jsonRows {
			t.Errorf("CSV has %d rows, JSON had %d", got, jsonRows)
		}
		var types []string
		for _, rec := range recs[1:] {
			types = append(types, rec[0])
		}
		sort.Strings(types)
		if want := []string{"day", "inpatient", "outpatient"}; !slices.Equal(types, want) {
			t.Errorf("CSV keys %v, want %v", types, want)
		}
	})

	t.Run("query as Arrow", func(t *testing.T) {
		r := s.must(t, call{method: http.MethodPost, path: "/v1/query", as: researcher,
			body: queryBody(t, "diabetes-2026", contactsSQL, 0), header: map[string]string{"Accept": api.MediaArrow}}, http.StatusOK)
		if mt := r.mediaType(); mt != api.MediaArrow {
			t.Fatalf("Content-Type %q", r.header.Get("Content-Type"))
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		rd, err := ipc.NewReader(bytes.NewReader(r.body), ipc.WithAllocator(mem))
		if err != nil {
			t.Fatalf("ipc.NewReader: %v", err)
		}
		defer rd.Release()
		md := rd.Schema().Metadata()
		i := md.FindKey(api.MetaKey)
		if i < 0 {
			t.Fatalf("no %s in the schema metadata", api.MetaKey)
		}
		var meta result.Meta
		if err := json.Unmarshal([]byte(md.Values()[i]), &meta); err != nil {
			t.Fatal(err)
		}
		l.release(t, meta)
		var rows int64
		for rd.Next() {
			rows += rd.RecordBatch().NumRows()
		}
		if err := rd.Err(); err != nil && err != io.EOF {
			t.Fatalf("reading the stream: %v", err)
		}
		if rows != int64(jsonRows) {
			t.Errorf("Arrow stream has %d rows, JSON had %d", rows, jsonRows)
		}
		if f, ok := rd.Schema().FieldsByName("contacts_suppressed"); !ok || len(f) != 1 {
			t.Errorf("schema lacks contacts_suppressed: %s", rd.Schema())
		}
	})

	t.Run("templates", func(t *testing.T) {
		names := func(as string) []string {
			var tl api.TemplateList
			decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/v1/templates", as: as}, http.StatusOK), &tl)
			var out []string
			for _, tm := range tl.Templates {
				out = append(out, tm.Name)
			}
			sort.Strings(out)
			return out
		}
		if got, want := names(analyst), []string{"contacts_by_chapter_age_band", "prescriptions_by_atc_year"}; !slices.Equal(got, want) {
			t.Errorf("pharma-analyst sees %v, want %v", got, want)
		}
		if got, want := names(onco), []string{"cancer_incidence_by_site_year"}; !slices.Equal(got, want) {
			t.Errorf("onco-analyst sees %v, want %v", got, want)
		}

		r := s.must(t, call{method: http.MethodPost, path: "/v1/templates/prescriptions_by_atc_year/run", as: analyst,
			body: `{"project":"diabetes-2026","params":{"atc_prefix":"A10B%"}}`}, http.StatusOK)
		res := decodeResult(t, r)
		l.release(t, res.Meta)
		if got := columnNames(res); !slices.Equal(got, []string{"year", "persons"}) || len(res.Rows) != 15 {
			t.Errorf("columns %v, %d rows; want year, persons for the 15 years 2010–2024", got, len(res.Rows))
		}
		if res.Meta.Epsilon != 0.5 || !slices.Equal(res.Meta.Datasets, []string{"lmr"}) {
			t.Errorf("meta %+v", res.Meta)
		}
	})

	t.Run("cohort estimate", func(t *testing.T) {
		r := s.must(t, call{method: http.MethodPost, path: "/v1/cohorts/estimate", as: researcher, body: cohortReq}, http.StatusOK)
		res := decodeResult(t, r)
		l.release(t, res.Meta)
		cols := columnNames(res)
		if len(cols) < 3 || cols[0] != "sex" || cols[1] != "age_band" {
			t.Errorf("columns %v, want sex, age_band, then the count", cols)
		}
		if len(res.Rows) < 2 {
			t.Errorf("%d rows, want a breakdown by sex and age band", len(res.Rows))
		}
		ds := slices.Clone(res.Meta.Datasets)
		sort.Strings(ds)
		if want := []string{"death_causes", "lmr", "npr", "population"}; !slices.Equal(ds, want) {
			t.Errorf("cohort debited %v, want %v", ds, want)
		}
	})

	t.Run("error statuses", func(t *testing.T) {
		big := queryBody(t, "diabetes-2026", "SELECT count(*) FROM npr -- "+strings.Repeat("x", 5<<10), 0)
		tests := []struct {
			desc   string
			c      call
			status int
			code   string
			// audited: the request reaches the engine, which records the refusal.
			audited bool
		}{
			{"malformed JSON", call{method: "POST", path: "/v1/query", as: researcher, body: `{"project": "diabetes-2026", "sql": `},
				400, "malformed_json", false},
			{"unknown field", call{method: "POST", path: "/v1/query", as: researcher, body: `{"project":"diabetes-2026","sql":"SELECT count(*) FROM npr","limit":5}`},
				400, "unknown_field", false},
			{"missing field", call{method: "POST", path: "/v1/query", as: researcher, body: `{"project":"diabetes-2026"}`},
				400, "missing_field", false},
			{"bad template parameter", call{method: "POST", path: "/v1/templates/prescriptions_by_atc_year/run", as: analyst,
				body: `{"project":"diabetes-2026","params":{"atc_prefix":"A10B'; DROP TABLE lmr; --"}}`}, 400, "bad_parameter", true},
			{"no token", call{method: "GET", path: "/v1/templates"}, 401, "missing_token", false},
			{"bad token", call{method: "GET", path: "/v1/templates", header: map[string]string{"Authorization": "Bearer sg_not_a_token"}},
				401, "invalid_token", false},
			{"analyst posts SQL", call{method: "POST", path: "/v1/query", as: analyst, body: queryBody(t, "diabetes-2026", contactsSQL, 0)},
				403, "role_not_allowed", true},
			{"analyst runs another project's template", call{method: "POST", path: "/v1/templates/cancer_incidence_by_site_year/run", as: analyst,
				body: `{"project":"diabetes-2026","params":{"sex":"F"}}`}, 403, "template_not_in_project", true},
			{"researcher reads the audit log", call{method: "GET", path: "/v1/audit", as: researcher}, 403, "role_not_allowed", false},
			{"unknown path", call{method: "GET", path: "/v1/nope", as: researcher}, 404, "unknown_endpoint", false},
			{"unknown project", call{method: "GET", path: "/v1/projects/nope/budget", as: researcher}, 404, "unknown_project", false},
			{"wrong method", call{method: "GET", path: "/v1/query", as: researcher}, 405, "method_not_allowed", false},
			{"unacceptable result format", call{method: "POST", path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", contactsSQL, 0),
				header: map[string]string{"Accept": "image/png"}}, 406, "not_acceptable", false},
			{"unacceptable data map format", call{method: "GET", path: "/v1/datasets", as: researcher, header: map[string]string{"Accept": "text/csv"}},
				406, "not_acceptable", false},
			{"body too large", call{method: "POST", path: "/v1/query", as: researcher, body: big}, 413, "body_too_large", false},
			{"body not JSON", call{method: "POST", path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", contactsSQL, 0),
				header: map[string]string{"Content-Type": "text/plain"}}, 415, "unsupported_media_type", false},
			{"select star", call{method: "POST", path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", starSQL, 0)},
				422, "select_star", true},
			{"min is refused", call{method: "POST", path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", "SELECT min(ddd) FROM lmr WHERE atc = '"+secret+"'", 0)},
				422, "min_max_not_allowed", true},
			{"a pattern DuckDB could not compile", call{method: "POST", path: "/v1/query", as: researcher,
				body: queryBody(t, "diabetes-2026", "SELECT count(*) AS n FROM npr WHERE regexp_matches(icd10, '^("+secret+"')", 0)},
				422, "bad_regexp", true},
			{"tiny epsilon (the issue 11 oracle)", call{method: "POST", path: "/v1/query", as: researcher,
				body: queryBody(t, "diabetes-2026", "SELECT substr(n.icd10, 99) AS g, count(DISTINCT pid) AS n FROM npr n JOIN population p USING (pid) WHERE p.municipality = '"+secret+"' GROUP BY 1", 1e-300)},
				422, "epsilon_too_small", true},
			{"denormal epsilon", call{method: "POST", path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", contactsSQL, 5e-324)},
				422, "epsilon_too_small", true},
			{"bounds above the cap", call{method: "POST", path: "/v1/query", as: researcher,
				body: `{"project":"diabetes-2026","sql":"SELECT year(contact_date) AS y, count(*) AS n FROM npr GROUP BY 1","bounds":{"max_groups_per_person":1000}}`},
				422, "bounds_above_cap", true},
			{"too expensive", call{method: "POST", path: "/v1/query", as: researcher,
				body: queryBody(t, "diabetes-2026", "SELECT municipality, birth_year, sex, median(birth_year) AS a, quantile_cont(birth_year, 0.1) AS b, quantile_cont(birth_year, 0.9) AS c FROM population GROUP BY 1, 2, 3", 0)},
				422, "query_too_expensive", true},
		}
		before := s.budget(t, "diabetes-2026")
		for _, tc := range tests {
			t.Run(tc.desc, func(t *testing.T) {
				r := s.must(t, tc.c, tc.status)
				p := problem(t, r)
				if p.Code != tc.code {
					t.Errorf("code %q, want %q (%s)", p.Code, tc.code, p.Detail)
				}
				if bytes.Contains(r.body, []byte(secret)) {
					t.Errorf("the problem echoes a value of the query: %s", r.body)
				}
				if tc.audited {
					l.refused++
				}
				switch tc.status {
				case 401:
					if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
					}
				case 404:
					if tc.code == "unknown_endpoint" && len(p.Endpoints) == 0 {
						t.Error("the 404 for an unknown path lists no endpoints")
					}
				case 405:
					if r.header.Get("Allow") != "POST" {
						t.Errorf("Allow %q, want POST", r.header.Get("Allow"))
					}
				case 422:
					if p.Hint == "" {
						t.Errorf("a refused query has no hint: %+v", p)
					}
				}
			})
		}
		t.Run("body too large, chunked", func(t *testing.T) {
			// A reader of unknown length makes the client send the body
			// chunked, without Content-Length, so the limit applies while reading.
			req, err := http.NewRequest(http.MethodPost, s.url+"/v1/query", io.MultiReader(strings.NewReader(big)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+s.tokens[researcher])
			resp, err := s.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if p := problem(t, reply{status: resp.StatusCode, header: resp.Header, body: b}); resp.StatusCode != http.StatusRequestEntityTooLarge || p.Code != "body_too_large" {
				t.Errorf("status %d, code %q", resp.StatusCode, p.Code)
			}
		})
		after := s.budget(t, "diabetes-2026")
		for d, a := range after {
			if a.Spent != before[d].Spent {
				t.Errorf("%s: requests that failed spent ε %g", d, a.Spent-before[d].Spent)
			}
		}
	})

	t.Run("revoked token", func(t *testing.T) {
		s.must(t, call{method: http.MethodGet, path: "/v1/templates", as: onco}, http.StatusOK)
		if err := s.store.Tokens().Revoke(t.Context(), s.tokenID[onco]); err != nil {
			t.Fatal(err)
		}
		if p := problem(t, s.must(t, call{method: http.MethodGet, path: "/v1/templates", as: onco}, http.StatusUnauthorized)); p.Code != "invalid_token" {
			t.Errorf("revoked token: code %q", p.Code)
		}
	})

	t.Run("budget", func(t *testing.T) {
		got := s.budget(t, "diabetes-2026")
		for _, d := range []string{"population", "npr", "lmr", "death_causes"} {
			a, ok := got[d]
			if !ok {
				t.Errorf("no budget for %s", d)
				continue
			}
			if !near(a.Spent, l.spent[d]) || a.Total != 10 || !near(a.Remaining, 10-l.spent[d]) {
				t.Errorf("%s: budget %+v; released results spent %g", d, a, l.spent[d])
			}
		}
		if l.spent["npr"] == 0 || l.spent["lmr"] == 0 || l.spent["death_causes"] == 0 {
			t.Errorf("the session should have spent on npr, lmr and death_causes: %v", l.spent)
		}
		// The analyst is a member and may read the budget too; the
		// cancer project is untouched.
		s.must(t, call{method: http.MethodGet, path: "/v1/projects/diabetes-2026/budget", as: analyst}, http.StatusOK)
		for d, a := range s.budget(t, "cancer-survival") {
			if a.Spent != 0 || a.Total != 6 {
				t.Errorf("cancer-survival %s: %+v", d, a)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		// Not on the public listener, with or without a token.
		for _, as := range []string{"", admin} {
			r := s.must(t, call{method: http.MethodGet, path: "/metrics", as: as}, http.StatusNotFound)
			if p := problem(t, r); p.Code != "unknown_endpoint" || strings.Contains(string(r.body), "statgate_") {
				t.Errorf("public /metrics (token of %q): %s", as, r.body)
			}
		}
		text := s.scrape(t)
		for _, want := range []string{
			"statgate_http_requests_total{",
			`route="/v1/query",status="200"`,
			`route="/v1/query",status="422"`,
			`statgate_refusals_total{code="role_not_allowed"}`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		for _, leak := range []string{"project=", "principal=", "dataset=", "diabetes-2026", researcher} {
			if strings.Contains(text, leak) {
				t.Errorf("/metrics contains %q", leak)
			}
		}
		const eps = "\nstatgate_epsilon_charged_total "
		i := strings.Index(text, eps)
		if i < 0 {
			t.Fatalf("/metrics lacks %s", eps)
		}
		line, _, _ := strings.Cut(text[i+len(eps):], "\n")
		v, err := strconv.ParseFloat(line, 64)
		if err != nil || !near(v, l.metricEp) {
			t.Errorf("epsilon metric %q, released results spent %g", line, l.metricEp)
		}
	})

	t.Run("audit", func(t *testing.T) {
		var al api.AuditList
		decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/v1/audit?limit=1000", as: admin}, http.StatusOK), &al)
		got := map[string]int{}
		for _, e := range al.Entries {
			got[e.Outcome]++
			if strings.Contains(e.Reason, secret) {
				t.Errorf("entry %d: reason echoes a value", e.Seq)
			}
		}
		want := map[string]int{"released": l.released, "refused": l.refused}
		if len(al.Entries) != l.released+l.refused || got["released"] != want["released"] || got["refused"] != want["refused"] {
			t.Errorf("audit via API has %d entries %v, want %v", len(al.Entries), got, want)
		}
		if vs := s.verifyAudit(t); vs["released"] != want["released"] || vs["refused"] != want["refused"] || vs["failed"] != 0 {
			t.Errorf("audit in the state store %v, want %v", vs, want)
		}
	})
}
