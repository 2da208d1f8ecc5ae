package protect

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/differential-privacy/go/v3/noise"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/result"
)

// MinMechanismEpsilon is the smallest ε any single noise or selection
// mechanism of a query may get, after the query's ε is divided between
// its measures and each measure's share between its components (avg
// halves its share, quantiles give an eighth to their histogram). It sits
// far above the 2⁻⁵⁰ below which Google's library refuses to build a
// mechanism, so no share is near a library limit; a count noised at this
// ε has a standard deviation of about 1.4 million, so no useful answer is
// lost. Prepare refuses a query whose smallest component would fall below
// it with "epsilon_too_small", naming the smallest total ε that works.
const MinMechanismEpsilon = 1e-6

// Release is the protection of one query, prepared before the budget is
// debited: the division of (ε, δ) (split), the groups it may release and every
// mechanism it will use, each already built once with its actual
// parameters as a check. Apply then cannot fail on a privacy parameter,
// whatever the data: whether a mechanism is built after the debit depends
// on the data (a group observed, a partition above the pre-threshold), so
// none may fail there. A Release is immutable and safe for concurrent use;
// every Apply draws fresh noise.
type Release struct {
	plan   *plan.Plan
	s      *settings
	l      *layout
	spends []result.Spend
	delta  float64
	cost   int64
	// threshold is the release threshold of the noisy person count
	// (result.Meta.SuppressBelow); 0 without suppression.
	threshold float64
	// cellThresholds are, for a person count with a condition
	// (count(DISTINCT pid) FILTER (WHERE c)), the release threshold of its
	// own noisy value: a cell below it is withheld even when its row is
	// released (min_cell_count applies to every count of persons). By
	// aggregate index; absent for the others.
	cellThresholds map[int]float64
}

// Prepare validates o against p, divides the budget (see Split) and builds
// every mechanism the query will use with its share, drawing nothing that
// is released. Its refusals (*refusal.Error) depend on the plan and the
// options only, never on the data; other errors are configuration errors
// of the engine. Nothing is read from the extracts.
func Prepare(p *plan.Plan, o *Options) (*Release, error) {
	r, err := prepare(p, o)
	if err != nil {
		if rf, ok := refusal.As(err); ok {
			return nil, rf
		}
		return nil, fmt.Errorf("protect.Prepare: %w", err)
	}
	return r, nil
}

func prepare(p *plan.Plan, o *Options) (*Release, error) {
	s, err := validate(o)
	if err != nil {
		return nil, err
	}
	l, err := split(p, s)
	if err != nil {
		return nil, err
	}
	r := &Release{plan: p, s: s, l: l, spends: slices.Clone(l.spends)}
	for _, sp := range l.spends {
		r.delta += sp.Delta
	}
	if err := r.rehearse(); err != nil {
		return nil, err
	}
	r.cost = cost(p, s, l)
	if r.threshold, err = releaseThreshold(p, s, l); err != nil {
		return nil, err
	}
	if r.cellThresholds, err = filteredPersonsThresholds(p, s, l); err != nil {
		return nil, err
	}
	return r, nil
}

// filteredPersonsThresholds is the release threshold (as releaseThreshold
// computes it, with the aggregate's own bounds and share) of every person
// count with a condition, which does not decide its row's suppression.
func filteredPersonsThresholds(p *plan.Plan, s *settings, l *layout) (map[int]float64, error) {
	if !l.suppress {
		return nil, nil
	}
	var out map[int]float64
	for i, a := range p.Aggs {
		if i == l.personsAgg || !filteredPersons(p, i) {
			continue
		}
		sh := l.aggs[i]
		ci, err := s.mech(sh.mech).ComputeConfidenceIntervalFloat64(0, a.L0, a.LInf, sh.eps, sh.noiseDelta(), 2*MissRate)
		if err != nil {
			return nil, fmt.Errorf("release threshold of %s: %w", a.Name, err)
		}
		if out == nil {
			out = map[int]float64{}
		}
		out[i] = float64(s.MinCellCount-1) + ci.UpperBound
	}
	return out, nil
}

// MissRate is the largest probability with which a row whose true person
// count is under the minimum cell count is released.
const MissRate = 0.01

// releaseThreshold is the noisy person count a row must reach to be
// released: (MinCellCount − 1) plus the one-sided 1 − MissRate quantile of
// the count's noise, so that a row of at most MinCellCount − 1 persons
// passes with probability at most MissRate. It depends on the plan and
// the options only.
func releaseThreshold(p *plan.Plan, s *settings, l *layout) (float64, error) {
	if !l.suppress {
		return 0, nil
	}
	l0, lInf, sh := p.PersonsL0, p.PersonsLInf, l.persons
	if l.personsAgg >= 0 {
		a := p.Aggs[l.personsAgg]
		l0, lInf, sh = a.L0, a.LInf, l.aggs[l.personsAgg]
	}
	// A two-sided interval at level 1 − 2·MissRate has the one-sided
	// quantile as its upper end.
	ci, err := s.mech(sh.mech).ComputeConfidenceIntervalFloat64(0, l0, lInf, sh.eps, sh.noiseDelta(), 2*MissRate)
	if err != nil {
		return 0, fmt.Errorf("release threshold: %w", err)
	}
	return float64(s.MinCellCount-1) + ci.UpperBound, nil
}

// Spends is the division of the query's budget: one share per aggregate
// (Purpose = the aggregate's name), then the distinct-person count that
// decides suppression (PurposePersons) unless a count_persons aggregate's
// noisy value is reused, then partition selection (PurposeSelection).
func (r *Release) Spends() []result.Spend { return slices.Clone(r.spends) }

// Epsilon is the query's total ε: what the ledger must debit.
func (r *Release) Epsilon() float64 { return r.s.Epsilon }

// Delta is the sum of the δ shares (0 when nothing needs δ): what the
// ledger must debit.
func (r *Release) Delta() float64 { return r.delta }

// NoiseProfile noises the histograms of a plan.Profile (by name, index
// b-1 holding bucket b: persons by their number of groups, by their most
// rows in one group, and by the bucket of their smallest and largest
// value of each profiled column) with Laplace noise, the PurposeBounds
// share divided equally between Options.ProfileHistograms histograms. One
// person is in one bucket of each histogram, so together they are ε-DP
// for that share. It draws nothing when the options did not reserve the
// share, and cannot fail: Prepare checked its parameters.
//
// What it returns is post-processing of the noisy counts (free): each
// histogram by name, and the groups and rows histograms' likely reading
// under plan.ProfileLikely + name (see poolUnseen). In the
// groups and rows histograms a bucket counts on its own only when its
// noisy count reaches familyCutoff standard deviations, a level pure
// noise reaches in any bucket of the histogram with probability at most
// ProfileFalseBuckets: at a fixed 2σ, one of the twenty-odd empty buckets
// of a long tail showed a phantom of hundreds of persons far out in about
// a third of the queries, and the chooser then took every cut for over
// the bias limit. The buckets that do not count are not read as empty:
// each run of them keeps its noisy sum (an unbiased count of the persons
// in the run, whose noise grows only as the square root of its length),
// shared as poolUnseen says, so a thin tail spread over many buckets, each
// under the noise, is still seen. The value histograms are read by
// valueReading: ProfileValueCutoff, and their far tail pooled for a column
// whose clamp biases a mean, sum or spread.
func (r *Release) NoiseProfile(hists map[string][]int64) map[string][]float64 {
	if !r.l.estimate {
		return nil
	}
	lap := noise.Laplace()
	if r.s.Noise != nil {
		lap = r.s.Noise // tests: a fake that adds nothing
	}
	eps := r.profileEpsilon()
	sd := math.Sqrt2 / eps
	out := make(map[string][]float64, len(hists))
	for name, h := range hists {
		raw := make([]float64, len(h))
		for i, x := range h {
			v, err := lap.AddNoiseFloat64(float64(x), 1, 1, eps, 0)
			if err != nil {
				v = 0 // unreachable: the parameters passed Prepare
			}
			raw[i] = v
		}
		low, high := strings.HasPrefix(name, plan.ProfileLow), strings.HasPrefix(name, plan.ProfileHigh)
		if low || high {
			column := strings.TrimPrefix(strings.TrimPrefix(name, plan.ProfileLow), plan.ProfileHigh)
			out[name] = valueReading(raw, sd, low, r.clampBiases(column))
			continue
		}
		var edges []int
		if pr := r.plan.Profile; pr != nil {
			switch name {
			case plan.ProfileGroups:
				edges = pr.GroupEdges()
			case plan.ProfileRows:
				edges = pr.RowEdges()
			}
		}
		cutoff := familyCutoff(len(raw)) * sd
		out[name] = poolUnseen(raw, sd, cutoff, edges, false)
		out[plan.ProfileLikely+name] = poolUnseen(raw, sd, cutoff, edges, true)
	}
	return out
}

// valueReading reads a noisy value histogram (persons by the bucket of
// their smallest value, low, or of their largest): a bucket counts on its
// own at ProfileValueCutoff standard deviations, and the others are 0 —
// but, when the column's clamp biases an aggregate (biases), for the tail
// a clamp may cut: the run of them at the histogram's far end (its high
// values; the low ones for the smallest values) after a bucket that
// counts. That run keeps its noisy sum, when positive, spread from its
// start as a power law in the buckets' index: as the two buckets before
// it fall off (spreadTail) when the sum reaches TailSignificance standard
// deviations of its noise, else as steeply as spreadPower allows (a run
// the noise alone could have made). Shared as its buckets' noisy counts
// fall instead, noise far out kept the clamp near the declared bound:
// the yearly mean inpatient stay was 25 % off against 11 % so.
// Held at 0, the thin tail of a skewed column (1,283 of 34,000
// inpatients whose longest stay was 20–90 days, each bucket of 2.8 days
// under the noise) was not seen: the clamp came down to 22–28 days,
// where it cut 2–4 % of the persons rather than MaxClampedShare, and the
// mean stay of the diagnoses with the long stays (mental disorders, 13.8
// days) was released 12 % low, with an interval that held the truth in 7
// of 15 queries. A run of noise alone sums to about nothing or is spread
// steeply from its start, so the clamp still narrows to where the
// persons are; other runs stay 0, as a clamp never stops in them. A
// quantile's clamp only sets the range its tree resolves, so a column
// only quantiles aggregate keeps the zeroed tail and its finer leaves.
func valueReading(raw []float64, sd float64, low, biases bool) []float64 {
	noisy := slices.Clone(raw)
	if low {
		slices.Reverse(noisy)
	}
	cutoff := ProfileValueCutoff * sd
	if biases {
		// Noise alone reaches 3 σ in one of 32 buckets a fifth of the
		// time, and such a phantom far out held the clamp there.
		cutoff = math.Max(ProfileValueCutoff, familyCutoff(len(raw))) * sd
	}
	h := make([]float64, len(noisy))
	for i, v := range noisy {
		if v >= cutoff {
			h[i] = v
		}
	}
	j := len(h)
	for j > 0 && h[j-1] == 0 {
		j--
	}
	run := 0.0
	for _, v := range noisy[j:] {
		run += v
	}
	if biases && j > 0 && j < len(h) && run > 0 {
		edges := make([]int, len(h))
		for i := range edges {
			edges[i] = i + 1
		}
		if j >= 2 && h[j-2] > 0 && run >= TailSignificance*sd*math.Sqrt(float64(len(h)-j)) {
			h[j] = run
			spreadTail(h, edges, j)
		} else {
			spreadPower(h, edges, j, run, plan.BucketValue(edges, j-1), TailExponentMax)
		}
	}
	if low {
		slices.Reverse(h)
	}
	return h
}

// clampBiases reports whether clamping the profiled column biases one of
// the plan's aggregates (plan.ValueProfile.Biased).
func (r *Release) clampBiases(column string) bool {
	if pr := r.plan.Profile; pr != nil {
		for _, v := range pr.Values {
			if v.Column == column {
				return v.Biased
			}
		}
	}
	return false
}

// ProfileFalseBuckets is the probability that pure Laplace noise reaches
// familyCutoff in some bucket of a groups or rows histogram.
const ProfileFalseBuckets = 0.05

// familyCutoff is the threshold, in standard deviations of the Laplace
// noise, that noise alone exceeds in one of n buckets with probability at
// most ProfileFalseBuckets: P(X > c·sd) = e^{−c√2}/2 per bucket. Never
// under ProfileCutoff.
func familyCutoff(n int) float64 {
	c := math.Log(float64(max(n, 1))/(2*ProfileFalseBuckets)) / math.Sqrt2
	return math.Max(c, ProfileCutoff)
}

// poolUnseen keeps the noisy counts at or above cutoff and replaces each
// maximal run of the others by its noisy sum (0 when that is negative),
// shared among the run's buckets as their positive noisy counts are; the
// run that reaches the last bucket after two buckets that were seen — the
// tail — is spread instead as they fall off (spreadTail), when edges, the
// histogram's lower bucket edges, are given. Held in one bucket, the sum
// said the wrong thing whenever the run was more than a tail: on 20,000
// persons every bucket of persons by their years with a dispensing was
// under the cutoff, and the run from the first bucket put them all in one
// year (L0 1, counts 87 % low).
//
// That is the cautious reading: whatever persons the noise may hide in a
// tail stay where the noisy counts put them. The likely reading (likely
// true) differs in two ways. Its first bucket counts on its own at
// ProfileCutoff, so a run may start after it (and a tail after it and
// the next be spread by spreadTail). And a tail run after a bucket that
// was seen, whose persons past its first bucket sum to less than
// TailSignificance standard deviations of their noise (sd is one
// bucket's), is spread from its start as a power law of exponent
// TailExponentMax, continuing the bucket seen, as tails fall off where
// nothing says otherwise. Shared as
// the noisy counts are, twenty buckets of noise put phantom persons with
// dozens of rows far out: on a small query (the contacts of 311 patients,
// none with more than 4 in one group) the chooser then took L∞ 30, ten
// times the noise, in half the queries. A real tail under the noise (78
// of 535 persons with a dispensing in all 15 years, the rest in 1–3)
// reads the same way, so the engine chooses the bounds from the likely
// reading and widens the intervals by what the cautious one says they
// cut. A run from the first bucket (nothing seen before it) is read
// cautiously in both: spread steeply from there it put every statin user
// at one dispensing a year (L∞ 1, counts 80 % low).
func poolUnseen(raw []float64, sd, cutoff float64, edges []int, likely bool) []float64 {
	// seen says whether bucket i counts on its own. In the likely reading
	// the first bucket, where most persons usually are, needs only
	// ProfileCutoff: noise alone reaches that in one bucket 2 % of the
	// time, and there it stands for the fewest rows, which cut nothing.
	seen := func(i int) bool {
		if likely && i == 0 {
			return raw[i] >= math.Min(cutoff, ProfileCutoff*sd)
		}
		return raw[i] >= cutoff
	}
	out := make([]float64, len(raw))
	for j := 0; j < len(raw); {
		if seen(j) {
			out[j] = raw[j]
			j++
			continue
		}
		k, run, positive := j, 0.0, 0.0
		for ; k < len(raw) && !seen(k); k++ {
			run += raw[k]
			positive += math.Max(raw[k], 0)
		}
		switch {
		case run <= 0:
		case k == len(raw) && len(edges) == len(raw) && j >= 2 && seen(j-2):
			out[j] = run
			spreadTail(out, edges, j) // bucket j-1 is seen: the run is maximal
		case likely && j >= 1 && k == len(raw) && len(edges) == len(raw) && (k-j < 2 || run-raw[j] < TailSignificance*sd*math.Sqrt(float64(k-j-1))):
			// A tail whose persons past its first bucket the noise could
			// have made: spread from its start as the steepest tail
			// spreadTail allows, not as its buckets' noise falls.
			spreadPower(out, edges, j, run, plan.BucketValue(edges, j-1), TailExponentMax)
		default:
			for i := j; i < k; i++ {
				out[i] = run * math.Max(raw[i], 0) / positive
			}
		}
		j = k
	}
	return out
}

// TailExponentMin and TailExponentMax bound the power law spreadTail
// spreads a histogram's tail by: density ∝ count^−α, α read off the two
// buckets seen before the tail.
const (
	TailExponentMin = 3
	TailExponentMax = 6
)

// spreadTail spreads the persons h[j] of a histogram's tail (the run of
// buckets from j to the last, each under the cutoff; the run's noisy sum
// is in h[j]) over those buckets as the two buckets before it fall off:
// a power law in the count per unit of width, its exponent read off them
// and kept within [TailExponentMin, TailExponentMax]. Held in its first bucket the tail's
// persons count as the fewest rows or groups they can have, and a thin
// heavy tail (a few hundred persons with 6–50 stays in one hospital,
// each bucket of them under the noise) cut the rows of that many stays
// unseen; spread, its rows are about what such tails hold. The floor 3
// keeps a tail of noise alone, which the sum also holds (its positive
// part), from weighing much: with exponent 2 or less a few dozen persons
// of noise spread out to the histogram's end stood for thousands of rows.
// The caller spreads only a tail after two buckets that were seen.
func spreadTail(h []float64, edges []int, j int) {
	if j < 2 || h[j] <= 0 || h[j-1] <= 0 || h[j-2] <= 0 {
		return
	}
	rep := func(i int) float64 { return plan.BucketValue(edges, i) }
	da, db := h[j-2]/bucketWidth(edges, j-2), h[j-1]/bucketWidth(edges, j-1)
	alpha := float64(TailExponentMax)
	if da > db && rep(j-1) > rep(j-2) {
		alpha = math.Log(da/db) / math.Log(rep(j-1)/rep(j-2))
	}
	alpha = math.Min(math.Max(alpha, TailExponentMin), TailExponentMax)
	spreadPower(h, edges, j, h[j], rep(j-1), alpha)
}

// spreadPower puts persons into buckets j to the last of h as a power
// law of exponent alpha in the count per unit of width, relative to the
// count anchor.
func spreadPower(h []float64, edges []int, j int, persons, anchor, alpha float64) {
	w := make([]float64, len(h)-j)
	var total float64
	for i := range w {
		w[i] = bucketWidth(edges, j+i) * math.Pow(plan.BucketValue(edges, j+i)/anchor, -alpha)
		total += w[i]
	}
	for i := range w {
		h[j+i] = persons * w[i] / total
	}
}

// bucketWidth is the counts bucket i of a histogram holds (the last,
// open-ended bucket counts as 1).
func bucketWidth(edges []int, i int) float64 {
	if i+1 >= len(edges) {
		return 1
	}
	return float64(edges[i+1] - edges[i])
}

// TailSignificance is how many standard deviations of its noise a
// histogram's tail run must sum to for its buckets' noisy counts to say
// where its persons are (poolUnseen).
const TailSignificance = 2

// profileEpsilon is each profile histogram's ε.
func (r *Release) profileEpsilon() float64 {
	return r.l.bounds.eps / float64(r.s.profileHistograms())
}

// profileHistograms is Options.ProfileHistograms, 0 meaning 2: a profile
// of one histogram (one group per person, or persons alone counted) gets
// the whole share.
func (o Options) profileHistograms() int {
	if o.ProfileHistograms <= 0 {
		return 2
	}
	return o.ProfileHistograms
}

// ProfileCutoff is the least number of standard deviations of its noise
// a bucket of the groups or rows histogram must reach to count on its
// own (NoiseProfile; familyCutoff is higher for long histograms).
const ProfileCutoff = 2

// ProfileValueCutoff is that threshold for the value histograms
// (valueReading), whose buckets under it would otherwise widen a narrowed
// clamp back to the declared bounds.
const ProfileValueCutoff = 3

// Cost estimates the work of Apply in noise draws, from the plan and the
// options alone: the groups it may release times the draws each needs.
// The engine caps it with the policy's limits.max_query_cost.
func (r *Release) Cost() int64 { return r.cost }

// Apply reads the Arrow batches of the plan's bounded SQL from rr and
// returns the protected result: groups chosen (public domains, or
// partition selection), every measure noised with its share and given its
// standard deviation and confidence interval, rows below the minimum cell
// count suppressed (and, with grouping sets, secondary suppression),
// counts rounded. It fills Columns (the keys in plan order, then the
// aggregates in plan order), Rows and Meta except QueryID, Time, Project
// and Datasets, which the caller sets.
//
// Apply is total in the data: a row whose key cannot be represented (a
// non-finite number, a fraction in an integer key) is dropped as a value
// outside the key's domain would be, and no mechanism can refuse its
// parameters (Prepare built them all). It fails only when ctx ends, when
// reading rr fails, or when rr does not have the plan's shape; none of
// these can be chosen by one person's rows. Errors never hold data values.
// The caller owns (and releases) rr.
func (r *Release) Apply(ctx context.Context, rr array.RecordReader) (*result.Result, error) {
	res, err := r.apply(ctx, rr)
	if err != nil {
		return nil, fmt.Errorf("protect.Apply: %w", err)
	}
	return res, nil
}

func (r *Release) apply(ctx context.Context, rr array.RecordReader) (*result.Result, error) {
	p, s, l := r.plan, r.s, r.l
	if rr == nil {
		return nil, fmt.Errorf("record reader is nil")
	}
	raw, err := readRows(ctx, p, l.sets, rr)
	if err != nil {
		return nil, err
	}
	groups, err := s.choose(ctx, p, l, raw)
	if err != nil {
		return nil, err
	}
	rows := make([]*outRow, len(groups))
	for i := range groups {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if rows[i], err = s.protectRow(p, l, &groups[i]); err != nil {
			return nil, err
		}
	}
	suppressPrimary(rows, r.threshold)
	suppressCells(rows, r.cellThresholds, len(l.sets) > 1)
	if len(l.sets) > 1 && s.MinCellCount > 0 {
		suppressSecondary(rows, relations(rows, l.sets))
	}
	res := assemble(p, l, s, rows)
	res.Meta.SuppressBelow = r.threshold
	if r.threshold > 0 {
		res.Meta.Notes = append(res.Meta.Notes, fmt.Sprintf("rows whose noisy person count is below %.1f are suppressed: at this epsilon a row with fewer than %d persons is released with probability at most %g%%, and rows of fewer than about %.0f persons are mostly suppressed", r.threshold, s.MinCellCount, 100*MissRate, math.Ceil(r.threshold)))
	}
	return res, nil
}

// rehearse builds and runs every mechanism of the query once on an empty
// group, with the real mechanism's argument checks in place of the
// sampler, and checks the smallest ε any of them gets against
// MinMechanismEpsilon. The outputs are discarded: they depend on no data.
func (r *Release) rehearse() error {
	rec := newRehearsal(r.s)
	var failed error
	// First through the recorder, then through the mechanisms themselves:
	// dpagg constructors check more when they recognise the library's own
	// noise.
	for _, dry := range []settings{rec.settings(r.s), r.s.real()} {
		if failed = dry.dryRun(r.plan, r.l, rec.lap); failed != nil {
			break
		}
	}
	if rec.minEps() < MinMechanismEpsilon*(1-1e-9) { // slack for the shares' rounding
		least := leastEpsilon(r.plan, r.s)
		return &refusal.Error{Code: refusal.EpsilonTooSmall,
			Message: fmt.Sprintf("epsilon %g is too small for this query: divided between its %d parts it leaves some noise mechanism below %g, the least statgate uses", r.s.Epsilon, len(r.spends), MinMechanismEpsilon),
			Hint:    fmt.Sprintf("ask for epsilon ≥ %g (or omit it to use the policy's default), or ask for fewer aggregates", least)}
	}
	if failed != nil {
		return &refusal.Error{Code: refusal.PrivacyParametersRejected,
			Message: "the noise library refuses the privacy parameters this query would use: " + failed.Error(),
			Hint:    "use the policy's default epsilon, or ask for fewer aggregates"}
	}
	return nil
}

// dryRun runs every mechanism of the plan once on an empty group.
func (s *settings) dryRun(p *plan.Plan, l *layout, rec *rehearsal) error {
	if _, err := s.measures(p, l, make([]rawAgg, len(p.Aggs))); err != nil {
		return err
	}
	if l.suppress && l.personsAgg < 0 {
		if _, err := s.count(0, p.PersonsL0, p.PersonsLInf, l.persons); err != nil {
			return fmt.Errorf("persons count: %w", err)
		}
	}
	if l.estimate {
		// The profile's histograms share it equally, Laplace.
		eps := l.bounds.eps / float64(s.profileHistograms())
		rec.note(eps)
		if _, err := noise.Laplace().AddNoiseFloat64(0, 1, 1, eps, 0); err != nil {
			return fmt.Errorf("contribution profile: %w", err)
		}
	}
	if l.selects {
		rec.note(l.selection.eps)
		// A partition far above the pre-threshold takes the library's
		// whole path, thresholded noise included.
		if _, err := s.keep(1<<40, l.selection, p.PersonsL0); err != nil {
			return err
		}
	}
	return nil
}

// leastEpsilon is the smallest total ε that gives every mechanism of p at
// least MinMechanismEpsilon. Shares are proportional to the total, so one
// rehearsal at ε = 1 gives the smallest component's fraction.
func leastEpsilon(p *plan.Plan, s *settings) float64 {
	unit := *s
	unit.Epsilon = 1
	l, err := split(p, &unit)
	if err != nil {
		return math.NaN()
	}
	rec := newRehearsal(s)
	unit = rec.settings(&unit)
	_ = unit.dryRun(p, l, rec.lap) // only the noted ε matters
	return ceilSignificant(MinMechanismEpsilon/rec.minEps(), 2)
}

// drawsPerGroup is roughly how many noise draws protecting one group of a
// aggregate takes: a quantile walks its noisy tree (treeHeight levels of
// branchingFactor nodes) for the answer and for both ends of its bracket,
// then noises a count and three bins.
func drawsPerGroup(a plan.Agg) int64 {
	switch a.Kind {
	case query.AggAvg:
		return 2
	case query.AggVariance, query.AggStddev:
		return 3
	case query.AggQuantile:
		return 3*treeHeight*branchingFactor + 4
	}
	return 1
}

// cost is Release.Cost.
func cost(p *plan.Plan, s *settings, l *layout) int64 {
	var per int64
	for _, a := range p.Aggs {
		per += drawsPerGroup(a)
	}
	if l.suppress && l.personsAgg < 0 {
		per++
	}
	var groups int64
	for _, g := range l.sets {
		if g.public {
			groups += domainProduct(p, g.keys)
			continue
		}
		sel := int64(MaxGroups)
		if s.Persons > 0 {
			sel = min(sel, s.Persons*max(p.PersonsL0, 1)/int64(max(s.MinCellCount, 1)))
		}
		groups += sel
	}
	return groups * per
}

// ceilSignificant rounds x up to n significant digits.
func ceilSignificant(x float64, n int) float64 {
	if x <= 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return x
	}
	scale := math.Pow(10, float64(n)-1-math.Floor(math.Log10(x)))
	return math.Ceil(x*scale*(1-1e-12)) / scale
}

// rehearsal is the noise of Prepare's dry run: the real mechanism, so
// every argument is checked as it will be after the debit, noting the
// smallest ε it is asked to use.
type rehearsal struct {
	noise.Noise
	minEps float64
}

// rehearsals are the recorders of both mechanisms of one rehearsal.
type rehearsals struct {
	lap, gauss *rehearsal
}

func newRehearsal(s *settings) *rehearsals {
	return &rehearsals{
		lap:   &rehearsal{Noise: s.lap, minEps: math.Inf(1)},
		gauss: &rehearsal{Noise: s.gauss, minEps: math.Inf(1)},
	}
}

// settings returns s with the recorders in place of both mechanisms.
func (rs *rehearsals) settings(s *settings) settings {
	dry := *s
	dry.lap, dry.sampLap, dry.gauss, dry.sampGauss = rs.lap, rs.lap, rs.gauss, rs.gauss
	return dry
}

// minEps is the smallest ε either recorder noted.
func (rs *rehearsals) minEps() float64 { return math.Min(rs.lap.minEps, rs.gauss.minEps) }

// real returns s with the library's own mechanisms as samplers.
func (s *settings) real() settings {
	dry := *s
	dry.sampLap, dry.sampGauss = s.lap, s.gauss
	return dry
}

func (r *rehearsal) note(eps float64) {
	if !(eps >= r.minEps) { // NaN too
		r.minEps = eps
	}
}

// AddNoiseFloat64 notes ε and calls the mechanism.
func (r *rehearsal) AddNoiseFloat64(x float64, l0 int64, lInf, eps, delta float64) (float64, error) {
	r.note(eps)
	return r.Noise.AddNoiseFloat64(x, l0, lInf, eps, delta)
}

// AddNoiseInt64 notes ε and calls the mechanism.
func (r *rehearsal) AddNoiseInt64(x, l0, lInf int64, eps, delta float64) (int64, error) {
	r.note(eps)
	return r.Noise.AddNoiseInt64(x, l0, lInf, eps, delta)
}

// ComputeConfidenceIntervalFloat64 notes ε and calls the mechanism.
func (r *rehearsal) ComputeConfidenceIntervalFloat64(x float64, l0 int64, lInf, eps, delta, alpha float64) (noise.ConfidenceInterval, error) {
	r.note(eps)
	return r.Noise.ComputeConfidenceIntervalFloat64(x, l0, lInf, eps, delta, alpha)
}

// ComputeConfidenceIntervalInt64 notes ε and calls the mechanism.
func (r *rehearsal) ComputeConfidenceIntervalInt64(x, l0, lInf int64, eps, delta, alpha float64) (noise.ConfidenceInterval, error) {
	r.note(eps)
	return r.Noise.ComputeConfidenceIntervalInt64(x, l0, lInf, eps, delta, alpha)
}
