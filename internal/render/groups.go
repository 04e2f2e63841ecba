package render

import (
	"context"
	"fmt"
	"io"

	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/user"
)

// WriteGroupStatus prints the snapshot's pushed groups for `dirsync status`
// (groups.push), when it holds any.
func WriteGroupStatus(ctx context.Context, w io.Writer, db *state.DB) error {
	st, err := db.GroupStats(ctx)
	if err != nil {
		return err
	}
	if len(st.Groups) == 0 {
		return nil
	}
	fmt.Fprintf(w, "Groups: %d active (%d memberships), %d pending, %d deleted, %d failing\n\n",
		st.Groups[user.GroupActive], st.Memberships, st.Groups[user.GroupPending], st.Groups[user.GroupDeleted], st.Failing)
	return nil
}
