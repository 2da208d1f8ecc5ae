package api

import "testing"

func TestNegotiate(t *testing.T) {
	tests := []struct {
		desc   string
		accept string
		offers []string
		want   string
		wantOK bool
	}{
		{desc: "missing", accept: "", offers: resultOffers, want: MediaJSON, wantOK: true},
		{desc: "garbage is ignored", accept: "nonsense", offers: resultOffers, want: MediaJSON, wantOK: true},
		{desc: "any", accept: "*/*", offers: resultOffers, want: MediaJSON, wantOK: true},
		{desc: "bare star", accept: "*", offers: resultOffers, want: MediaJSON, wantOK: true},
		{desc: "exact csv", accept: "text/csv", offers: resultOffers, want: MediaCSV, wantOK: true},
		{desc: "case-insensitive", accept: "Text/CSV", offers: resultOffers, want: MediaCSV, wantOK: true},
		{desc: "type wildcard", accept: "text/*", offers: resultOffers, want: MediaCSV, wantOK: true},
		{desc: "parameters ignored", accept: "text/csv;charset=utf-8;header=present", offers: resultOffers, want: MediaCSV, wantOK: true},
		{desc: "highest q wins", accept: "application/json;q=0.2, application/vnd.apache.arrow.stream;q=0.9, text/csv;q=0.5", offers: resultOffers, want: MediaArrow, wantOK: true},
		{desc: "tie goes to server order", accept: "text/csv, application/json", offers: resultOffers, want: MediaJSON, wantOK: true},
		{desc: "specific q=0 beats wildcard", accept: "*/*;q=0.8, application/json;q=0", offers: resultOffers, want: MediaCSV, wantOK: true},
		{desc: "wildcard q=0 with specific", accept: "*/*;q=0, application/vnd.apache.arrow.stream", offers: resultOffers, want: MediaArrow, wantOK: true},
		{desc: "nothing acceptable", accept: "text/html, application/xml", offers: resultOffers, wantOK: false},
		{desc: "all refused", accept: "*/*;q=0", offers: resultOffers, wantOK: false},
		{desc: "invalid q skips the range", accept: "text/csv;q=2, application/json;q=0.1", offers: resultOffers, want: MediaJSON, wantOK: true},
		{desc: "json only endpoint with csv", accept: "text/csv", offers: jsonOnly, wantOK: false},
		{desc: "json only endpoint with problem+json", accept: "application/*", offers: jsonOnly, want: MediaJSON, wantOK: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, ok := negotiate(tc.accept, tc.offers)
			if ok != tc.wantOK || (ok && got != tc.want) {
				t.Errorf("negotiate(%q) = %q, %v; want %q, %v", tc.accept, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		desc, header, want string
		wantOK             bool
	}{
		{desc: "bearer", header: "Bearer sg_abc", want: "sg_abc", wantOK: true},
		{desc: "scheme case-insensitive", header: "bearer sg_abc", want: "sg_abc", wantOK: true},
		{desc: "empty", header: "", wantOK: false},
		{desc: "scheme only", header: "Bearer ", wantOK: false},
		{desc: "basic", header: "Basic Zm9vOmJhcg==", wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, ok := bearerToken(tc.header)
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("bearerToken(%q) = %q, %v", tc.header, got, ok)
			}
		})
	}
}
