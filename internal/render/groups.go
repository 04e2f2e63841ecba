package render

import (
	"fmt"
	"io"

	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/user"
)

// writeGroupStatus prints the snapshot's pushed groups for `dirsync status`
// (groups.push), when it holds any.
func writeGroupStatus(w io.Writer, st state.GroupStats) {
	if len(st.Groups) == 0 {
		return
	}
	fmt.Fprintf(w, "Groups: %d active (%d memberships), %d pending, %d deleted, %d failing\n\n",
		st.Groups[user.GroupActive], st.Memberships, st.Groups[user.GroupPending], st.Groups[user.GroupDeleted], st.Failing)
}
