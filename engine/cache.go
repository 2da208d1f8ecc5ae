package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/statgate/statgate/engine/result"
)

// cacheKeyVersion changes whenever what the key covers changes, so that
// answers stored under an older meaning are never found.
const cacheKeyVersion = "c1"

// cacheKey identifies a checked question for free repeats: the project
// (answers are never shared across projects), the normalised model the
// checker built (the query, its keys, filters and post-processing), the
// template run's key, the request's totals and bounds, the ε asked, the
// protection's options (δ, mechanism, suppression and rounding), the plan
// without its per-query seed (the bounds chosen from the policy) and the
// extracts' version (their fingerprint): a new delivery of the data is a
// new question. It depends on nothing in the data.
func cacheKey(pr *prepared) string {
	var b strings.Builder
	c, o := pr.compiled, pr.options
	fmt.Fprintf(&b, "%s\nproject %q\nextract %q\ntemplate %q\nepsilon %s\ndelta %s\nmechanism %q\nmin_cell_count %d\nround_to %d\ntotals %t\n",
		cacheKeyVersion, c.Project.ID, pr.x.version.Fingerprint, c.RunKey, canonFloat(c.Epsilon),
		canonFloat(o.Delta), o.Mechanism, o.MinCellCount, o.RoundTo, c.Totals)
	b.WriteString("bounds ")
	canon(&b, reflect.ValueOf(c.Bounds))
	b.WriteString("\nquery ")
	canon(&b, reflect.ValueOf(c.Query))
	b.WriteString("\nplan ")
	canon(&b, reflect.ValueOf(pr.plan))
	sum := sha256.Sum256([]byte(b.String()))
	return cacheKeyVersion + ":" + hex.EncodeToString(sum[:])
}

// canon writes a canonical text of v: type names of every struct and of
// the dynamic type behind every interface, exported fields in order, map
// keys sorted, floats in their shortest exact form. Fields named SQL or
// Seed are skipped: they carry the per-query seed of the L0 step, not the
// question.
func canon(b *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.Invalid:
		b.WriteString("nil")
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		if v.Kind() == reflect.Interface {
			b.WriteString("<" + v.Elem().Type().String() + ">")
		}
		canon(b, v.Elem())
	case reflect.Struct:
		t := v.Type()
		if t == reflect.TypeFor[time.Time]() {
			// Its fields are unexported: write the instant itself.
			b.WriteString("time.Time{" + v.Interface().(time.Time).UTC().Format(time.RFC3339Nano) + "}")
			return
		}
		b.WriteString(t.String() + "{")
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Name == "SQL" || f.Name == "Seed" {
				continue
			}
			b.WriteString(f.Name + ":")
			canon(b, v.Field(i))
			b.WriteString(",")
		}
		b.WriteString("}")
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			b.WriteString("nil")
			return
		}
		b.WriteString("[")
		for i := range v.Len() {
			canon(b, v.Index(i))
			b.WriteString(",")
		}
		b.WriteString("]")
	case reflect.Map:
		keys := v.MapKeys()
		texts := make([]string, len(keys))
		for i, k := range keys {
			var kb strings.Builder
			canon(&kb, k)
			texts[i] = kb.String()
		}
		order := make([]int, len(keys))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(i, j int) int { return strings.Compare(texts[i], texts[j]) })
		b.WriteString("map{")
		for _, i := range order {
			b.WriteString(texts[i] + ":")
			canon(b, v.MapIndex(keys[i]))
			b.WriteString(",")
		}
		b.WriteString("}")
	case reflect.String:
		b.WriteString(strconv.Quote(v.String()))
	case reflect.Float32, reflect.Float64:
		b.WriteString(canonFloat(v.Float()))
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	default:
		// Functions, channels and complex numbers have no place in a
		// question; write their kind so that the key stays defined.
		b.WriteString("<" + v.Kind().String() + ">")
	}
}

// canonFloat is the shortest text that reads back as f.
func canonFloat(f float64) string {
	if math.IsNaN(f) {
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// cached returns the stored release of pr's question in its project,
// marked as a free repeat, or nil when there is none.
func (e *Engine) cached(ctx context.Context, pr *prepared, queryID string) *result.Result {
	body, from, ok := e.lookupAnswer(ctx, pr.compiled.Project.ID, pr.cacheKey)
	if !ok {
		return nil
	}
	var res result.Result
	if err := json.Unmarshal(body, &res); err != nil {
		slog.WarnContext(ctx, "result cache: stored answer unreadable; answering anew", "query_id", from, "err", err)
		return nil
	}
	markRepeat(&res.Meta, from, queryID)
	return &res
}

// lookupAnswer returns the stored answer under key in project and the
// query id it was released as. A cache that cannot be read is not an
// error: the question is answered (and paid) anew.
func (e *Engine) lookupAnswer(ctx context.Context, project, key string) (body []byte, from string, ok bool) {
	if e.opts.NoRepeats {
		return nil, "", false
	}
	body, from, ok, err := e.cache.Get(ctx, project, key)
	if err != nil {
		slog.WarnContext(ctx, "result cache: read failed; answering anew", "err", err)
		return nil, "", false
	}
	return body, from, ok
}

// markRepeat marks the metadata of a stored answer returned again as a
// free repeat under queryID: nothing paid, and a note saying which
// release it repeats.
func markRepeat(m *result.Meta, from, queryID string) {
	paid := m.Epsilon
	m.Cached, m.CachedFrom = true, from
	m.QueryID = queryID
	m.Epsilon, m.Delta, m.Rho, m.ZDelta = 0, 0, 0, 0
	m.Notes = append(m.Notes, fmt.Sprintf(
		"a repeat of the question released as %s (which paid ε %g): the same answer again, at no cost", from, paid))
}

// store keeps a released answer for free repeats.
func (e *Engine) store(ctx context.Context, pr *prepared, res *result.Result) {
	e.storeAnswer(ctx, pr.compiled.Project.ID, pr.cacheKey, res.Meta.QueryID, res)
}

// storeAnswer keeps answer, released as queryID, under key in project for
// free repeats; a failure only means the next identical question pays
// again.
func (e *Engine) storeAnswer(ctx context.Context, project, key, queryID string, answer any) {
	if e.opts.NoRepeats {
		return
	}
	body, err := json.Marshal(answer)
	if err == nil {
		err = e.cache.Put(ctx, project, key, queryID, body)
	}
	if err != nil {
		slog.WarnContext(ctx, "result cache: store failed", "query_id", queryID, "err", err)
	}
}
