package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		desc        string
		contentType string
		body        string
		wantStatus  int // 0: decodes
		wantCode    string
		wantDetail  string
	}{
		{desc: "valid", contentType: "application/json", body: `{"project":"p","sql":"s","epsilon":0.5}`},
		{desc: "charset parameter", contentType: "application/json; charset=utf-8", body: `{"project":"p"}`},
		{desc: "trailing whitespace", contentType: "application/json", body: "{\"project\":\"p\"}\n\n"},
		{desc: "no content type", contentType: "", body: `{}`, wantStatus: 415, wantCode: "unsupported_media_type"},
		{desc: "form", contentType: "application/x-www-form-urlencoded", body: `project=p`, wantStatus: 415, wantCode: "unsupported_media_type"},
		{desc: "empty body", contentType: "application/json", body: ``, wantStatus: 400, wantCode: "malformed_json", wantDetail: "empty"},
		{desc: "truncated", contentType: "application/json", body: `{"project":`, wantStatus: 400, wantCode: "malformed_json", wantDetail: "middle"},
		{desc: "syntax error", contentType: "application/json", body: `{"project" "p"}`, wantStatus: 400, wantCode: "malformed_json", wantDetail: "byte 12"},
		{desc: "array body", contentType: "application/json", body: `[1,2]`, wantStatus: 400, wantCode: "wrong_type", wantDetail: "must be a JSON object, not an array"},
		{desc: "bool field", contentType: "application/json", body: `{"totals":"yes"}`, wantStatus: 400, wantCode: "wrong_type", wantDetail: `field "totals" must be true or false, not a string`},
		{desc: "string field", contentType: "application/json", body: `{"sql":["SELECT"]}`, wantStatus: 400, wantCode: "wrong_type", wantDetail: `field "sql" must be a string, not an array`},
		{desc: "bool for a string", contentType: "application/json", body: `{"project":true}`, wantStatus: 400, wantCode: "wrong_type", wantDetail: `field "project" must be a string, not true or false`},
		{desc: "unknown field", contentType: "application/json", body: `{"projct":"p"}`, wantStatus: 400, wantCode: "unknown_field", wantDetail: `"projct"`},
		{desc: "trailing garbage", contentType: "application/json", body: `{"project":"p"} x`, wantStatus: 400, wantCode: "malformed_json", wantDetail: "more after"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/query", strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			var body QueryBody
			err := decodeJSON(httptest.NewRecorder(), r, 1<<10, &body)
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatalf("decodeJSON: %v", err)
				}
				if body.Project != "p" {
					t.Errorf("project %q", body.Project)
				}
				return
			}
			he, ok := err.(*httpError)
			if !ok {
				t.Fatalf("err %v (%T), want *httpError", err, err)
			}
			if he.status != tc.wantStatus || he.code != tc.wantCode || !strings.Contains(he.detail, tc.wantDetail) {
				t.Errorf("got %d %s %q; want %d %s containing %q", he.status, he.code, he.detail, tc.wantStatus, tc.wantCode, tc.wantDetail)
			}
		})
	}
}
