package api

import (
	"strconv"
	"strings"
)

// The media types a result can be rendered as.
const (
	MediaJSON  = "application/json"
	MediaCSV   = "text/csv"
	MediaArrow = "application/vnd.apache.arrow.stream"
)

// resultOffers are the result formats in the server's order of preference.
var resultOffers = []string{MediaJSON, MediaCSV, MediaArrow}

// jsonOnly is the offer of endpoints that answer JSON only.
var jsonOnly = []string{MediaJSON}

// mediaRange is one element of an Accept header.
type mediaRange struct {
	typ, sub string
	q        float64
}

// negotiate returns the offer the Accept header prefers (RFC 9110 §12.5.1):
// each offer takes the q of the most specific range that matches it; the
// highest q wins and ties go to the earlier offer. A missing Accept header,
// or one with no valid range, accepts offers[0]. ok is false when the
// header accepts none of the offers.
func negotiate(accept string, offers []string) (string, bool) {
	ranges := parseAccept(accept)
	if len(ranges) == 0 {
		return offers[0], true
	}
	best, bestQ := "", 0.0
	for _, offer := range offers {
		typ, sub, _ := strings.Cut(offer, "/")
		q, specificity := 0.0, 0
		for _, mr := range ranges {
			s := 0
			switch {
			case mr.typ == typ && mr.sub == sub:
				s = 3
			case mr.typ == typ && mr.sub == "*":
				s = 2
			case mr.typ == "*" && mr.sub == "*":
				s = 1
			}
			if s > specificity {
				q, specificity = mr.q, s
			}
		}
		if q > bestQ {
			best, bestQ = offer, q
		}
	}
	return best, bestQ > 0
}

// parseAccept parses an Accept header, skipping malformed ranges. Media
// type parameters other than q are ignored.
func parseAccept(accept string) []mediaRange {
	var out []mediaRange
	for _, part := range strings.Split(accept, ",") {
		params := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(params[0]))
		if mt == "" {
			continue
		}
		if mt == "*" { // sent by some old clients for */*
			mt = "*/*"
		}
		typ, sub, ok := strings.Cut(mt, "/")
		if !ok || typ == "" || sub == "" || (typ == "*" && sub != "*") {
			continue
		}
		mr := mediaRange{typ: typ, sub: sub, q: 1}
		valid := true
		for _, p := range params[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if !strings.EqualFold(strings.TrimSpace(k), "q") {
				continue
			}
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || q < 0 || q > 1 {
				valid = false
				break
			}
			mr.q = q
		}
		if valid {
			out = append(out, mr)
		}
	}
	return out
}
