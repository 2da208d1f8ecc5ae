package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// Output for people. JSON and CSV results carry numbers to meaningful
// digits (Arrow, read by programs, keeps every bit):
//
//   - a measure's stddev to 3 significant digits;
//   - the ends of its ci95 rounded outward (lo down, hi up, so the interval
//     still covers what it covered) to the place of the stddev's second
//     significant digit — 3–4 significant digits for typical cells;
//   - a measure value that is not a whole number (means, quantiles, sums
//     of fractions) to that same place; whole numbers (counts, already
//     rounded to round_to and consistent with their margins) as they are;
//   - meta: ε and δ shares to 6 significant digits, the release threshold
//     to 4, the truncated shares to 3.
//
// Two query parameters shape the text: ?pretty=true indents JSON bodies,
// and ?comments=false leaves out the leading "#" lines of CSV (see
// csvComments) for readers that take every line as a record.

// outputOptions are the query parameters that shape a response body.
type outputOptions struct {
	// pretty indents JSON bodies (?pretty=true).
	pretty bool
	// comments writes the "#" lines before a CSV header (?comments=, default true).
	comments bool
	// dryRun asks a POST endpoint for the cost and expected accuracy only
	// (?dry_run=true): nothing is read from the extracts or debited.
	dryRun bool
}

// parseOutputOptions reads ?pretty=, ?comments= and ?dry_run=; a value that is not a
// boolean is a 400 naming the parameter.
func parseOutputOptions(r *http.Request) (outputOptions, error) {
	o := outputOptions{comments: true}
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		dst  *bool
	}{{"pretty", &o.pretty}, {"comments", &o.comments}, {"dry_run", &o.dryRun}} {
		s := q.Get(p.name)
		if s == "" {
			continue
		}
		v, err := strconv.ParseBool(s)
		if err != nil {
			return o, errorf(codeInvalidParameter, "write "+p.name+"=true or "+p.name+"=false",
				"query parameter %q must be true or false", p.name)
		}
		*p.dst = v
	}
	return o, nil
}

// marshalJSON encodes v, indented when pretty.
func marshalJSON(v any, pretty bool) ([]byte, error) {
	if !pretty {
		return json.Marshal(v)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// forPeople rounds the numbers of a wire result in place, as the package
// comment above describes.
func forPeople(res *Result) {
	for i := range res.Rows {
		for j := range res.Rows[i].Cells {
			roundCell(&res.Rows[i].Cells[j])
		}
	}
	m := &res.Meta
	m.Epsilon, m.Delta = sigDigits(m.Epsilon, 6), sigDigits(m.Delta, 6)
	for i := range m.Split {
		m.Split[i].Epsilon, m.Split[i].Delta = sigDigits(m.Split[i].Epsilon, 6), sigDigits(m.Split[i].Delta, 6)
	}
	m.SuppressBelow = sigDigits(m.SuppressBelow, 4)
	if t := m.Bounding.Truncated; t != nil {
		m.Bounding.Truncated = &Truncated{Pairs: sigDigits(t.Pairs, 3), Rows: sigDigits(t.Rows, 3)}
	}
}

// roundCell rounds one measure cell; key cells (no stddev) are left alone.
func roundCell(c *Cell) {
	if c.Suppressed {
		return
	}
	if c.CI != nil {
		ci := *c.CI // never round an array the engine's result shares
		c.CI = &ci
	}
	v, isFloat := c.Value.(float64)
	if roundMeasure(&v, &c.StdDev, c.CI) && isFloat {
		c.Value = v
	}
}

// roundEstimate rounds a released estimate of the rates and survival
// answers (a value with its stddev and ci95; value nil when suppressed)
// as roundCell does a measure cell.
func roundEstimate(value *float64, sd *float64, ci *[2]float64) {
	v := 0.0
	if value != nil {
		v = *value
	}
	if roundMeasure(&v, sd, ci) && value != nil {
		*value = v
	}
}

// roundMeasure rounds the stddev to 3 significant digits, a value that
// is not whole and the interval (outward) at the place of the stddev's
// second significant digit. It reports false, changing nothing, without
// a finite positive stddev.
func roundMeasure(v, sd *float64, ci *[2]float64) bool {
	if !(*sd > 0) || math.IsInf(*sd, 0) {
		return false
	}
	*sd = sigDigits(*sd, 3)
	place := int(math.Floor(math.Log10(*sd))) - 1 // the stddev's second significant digit
	if *v != math.Trunc(*v) {
		*v = roundAt(*v, place, math.Round)
	}
	if ci != nil {
		ci[0], ci[1] = roundAt(ci[0], place, math.Floor), roundAt(ci[1], place, math.Ceil)
	}
	return true
}

// sigDigits rounds x to n significant digits; 0, NaN and ±Inf are kept.
func sigDigits(x float64, n int) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	f, err := strconv.ParseFloat(strconv.FormatFloat(x, 'g', n, 64), 64)
	if err != nil {
		return x
	}
	return f
}

// roundAt rounds x with fn at the decimal place 10^place (place −2:
// hundredths), returning the float nearest the decimal result so that it
// prints without binary noise (52.3, not 52.300000000000004).
func roundAt(x float64, place int, fn func(float64) float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	// snap undoes binary noise first: 4.1 × 10 is 40.99999999999999.
	snap := func(y float64) float64 {
		if r := math.Round(y); math.Abs(y-r) <= 1e-9*math.Max(1, math.Abs(y)) {
			return r
		}
		return y
	}
	if place >= 0 {
		u := math.Pow10(place)
		return fn(snap(x/u)) * u
	}
	u := math.Pow10(-place)
	r := fn(snap(x*u)) / u
	if f, err := strconv.ParseFloat(strconv.FormatFloat(r, 'f', -place, 64), 64); err == nil {
		return f
	}
	return r
}

// csvComments returns the "#" lines that open a CSV result: what was
// spent, how the result was protected, and every note, so a file saved
// from the API keeps them. Each line is "# key: value"; comments=false
// leaves them out.
func csvComments(res *Result) []byte {
	var b bytes.Buffer
	m := res.Meta
	line := func(k, format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
		fmt.Fprintf(&b, "# %s: %s\n", k, s)
	}
	line("statgate result", "%s", m.QueryID)
	line("project", "%s; datasets: %s", m.Project, strings.Join(m.Datasets, ", "))
	line("epsilon", "%s (delta %s, %s noise), debited from each dataset's budget",
		formatFloat(m.Epsilon), formatFloat(m.Delta), m.Mechanism)
	line("intervals", "*_ci_low and *_ci_high are 95%% confidence intervals; *_stddev is the noise's standard deviation")
	supp := fmt.Sprintf("cells of fewer than %d persons are empty (column suppressed); %d suppressed", m.MinCellCount, m.SuppressedCells)
	if m.RoundTo > 1 {
		supp += fmt.Sprintf("; counts rounded to multiples of %d", m.RoundTo)
	}
	line("suppression", "%s", supp)
	for _, n := range m.Notes {
		line("note", "%s", n)
	}
	return b.Bytes()
}

// outputKey is the context key of a request's outputOptions.
type outputKey struct{}

// outputParams checks ?pretty= and ?comments= before anything else runs
// (a bad value costs nothing) and keeps them in the request's context.
func (h *Handler) outputParams(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, err := parseOutputOptions(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), outputKey{}, o)))
	})
}

// outputOptionsOf returns the request's output options (the defaults when
// outputParams did not run).
func outputOptionsOf(r *http.Request) outputOptions {
	if o, ok := r.Context().Value(outputKey{}).(outputOptions); ok {
		return o
	}
	return outputOptions{comments: true}
}
