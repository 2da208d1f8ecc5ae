package plan

import (
	"errors"
	"fmt"

	"github.com/statgate/statgate/engine/refusal"
)

// ErrInvalidQuery is wrapped by the errors Bound returns for a query model
// the checker should not have produced (an unknown dataset, a column of a
// table not in FROM, an operator outside the model). These are internal
// errors, not refusals: their text may name the query's parts.
var ErrInvalidQuery = errors.New("query model not plannable")

// invalidf returns an ErrInvalidQuery error with the given detail.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidQuery, fmt.Sprintf(format, args...))
}

// domainTooLarge is the refusal for a domain product above MaxDomainCells.
func domainTooLarge() error {
	return refusal.New(refusal.DomainTooLarge,
		fmt.Sprintf("the group keys' public domains together span more than %d groups, too many to release", MaxDomainCells),
		"group by fewer or coarser keys, for example a code prefix instead of the full code or the year alone instead of year and month")
}
