package policies

import (
	"fmt"
	"os"
	"path/filepath"
)

// Defaults for dataset fields a policy omits. They fail closed: the
// tightest contribution bounds, a conservative minimum cell count, a small
// ε and pure ε-DP (δ = 0, Laplace noise).
const (
	// DefaultMaxGroupsPerPerson is max_groups_per_person when omitted.
	DefaultMaxGroupsPerPerson = 1
	// DefaultMaxRowsPerPersonPerGroup is max_rows_per_person_per_group when omitted.
	DefaultMaxRowsPerPersonPerGroup = 1
	// DefaultMinCellCount is min_cell_count when omitted.
	DefaultMinCellCount = 10
	// DefaultRoundTo is round_to when omitted (no rounding).
	DefaultRoundTo = 0
	// DefaultMinEpsilon is epsilon_per_query.min when omitted (capped by
	// epsilon_per_query.default when that is smaller). At ε 0.01 a count
	// of persons has a Laplace noise standard deviation of about 141: still
	// an answer for large groups, and a floor that makes a flood of tiny
	// queries cost real budget.
	DefaultMinEpsilon = 0.01
	// DefaultEpsilon is epsilon_per_query.default when omitted (capped by
	// epsilon_per_query.max when that is smaller).
	DefaultEpsilon = 0.1
	// DefaultMaxEpsilon is epsilon_per_query.max when the whole
	// epsilon_per_query block is omitted; when only max is omitted it
	// equals the default.
	DefaultMaxEpsilon = 1.0
	// DefaultMaxQueryCost is limits.max_query_cost when omitted: ten
	// million noise draws, about ten seconds of one core. The 64,000 public
	// groups × 10 quantiles of issue 11's flood cost 125 million.
	DefaultMaxQueryCost = 10_000_000
	// DefaultNoise is noise when omitted.
	DefaultNoise = "auto"
)

// Load reads and validates the policy file at path. See Parse.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Problem: fmt.Sprintf("cannot read policy file: %v", err), Err: err}
	}
	return Parse(data, path)
}

// Parse decodes and validates a policy file's contents. path names the
// file in errors and anchors relative paths: dataset sources and code list
// files are resolved relative to the directory of path, and code list
// files are read here. The format is the one of policies/norway-synthetic.yaml;
// unknown fields are errors.
//
// Fields a policy may omit take these values:
//   - dataset title: the dataset's name; project title: the project's id;
//     template title: the template's name;
//   - one_row_per_person: false;
//   - max_groups_per_person, max_rows_per_person_per_group: 1
//     (DefaultMaxGroupsPerPerson, DefaultMaxRowsPerPersonPerGroup);
//   - min_cell_count: 10 (DefaultMinCellCount); round_to: 0, no rounding;
//   - epsilon_per_query: {default: 0.1, max: 1}; with only max given, the
//     default is min(0.1, max); with only default given, max = default;
//   - delta_per_query: 0; noise: auto (Laplace or Gaussian per part of a
//     query, whichever is more accurate; Laplace when delta_per_query is 0);
//   - role, birth_year_column, date_column: none. role: persons marks the
//     persons register (at most one per policy, and one_row_per_person)
//     that cohort estimates count persons in and take breakdowns from;
//     birth_year_column (persons register only) names its integer year of
//     birth, for the age_band breakdown, and needs a date_column with
//     years (age_band is the age at the end of those years); date_column
//     names the date column a cohort criterion's from/to bound;
//   - project budget.delta: 0 (budget.epsilon is required);
//   - template param: no pattern, bounds or enum; without default it is required.
//
// The first problem found is returned as an *Error naming the file, the
// field and the problem.
func Parse(data []byte, path string) (*Policy, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{File: path, Problem: fmt.Sprintf("cannot resolve path: %v", err), Err: err}
	}
	d := &decoder{file: path, dir: filepath.Dir(abs)}
	p, err := d.policy(data)
	if err != nil {
		return nil, err
	}
	p.Path = abs
	return p, nil
}
