package tokens

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteList writes tokens as an aligned text table (`statgate token list`):
// id, principal, creation, expiry ("never" when none), last use ("never"
// when not yet used) and status (active, expired, or revoked with its time).
func WriteList(w io.Writer, infos []Info) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPRINCIPAL\tCREATED\tEXPIRES\tLAST USED\tSTATUS")
	for _, in := range infos {
		status := "active"
		switch {
		case in.Revoked:
			status = "revoked " + stamp(in.RevokedAt)
		case in.Expired:
			status = "expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, in.Principal, stamp(in.CreatedAt),
			stamp(in.ExpiresAt), stamp(in.LastUsed), status)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("tokens.WriteList: %w", err)
	}
	return nil
}

// stamp formats a time for the table; "never" when zero.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}
