package sync

import (
	"fmt"
	"io"
	"strings"

	"github.com/dirsync/dirsync/user"
)

// GroupPlanLine is one group change as `dirsync plan` shows it, e.g.
// `+ group eng  members: +3`, `~ group ops  renamed from "operations",
// members: +3 −1` or `- group old  members: −12`.
func GroupPlanLine(c GroupChange) string {
	sym := map[user.Op]string{user.OpGroupCreate: "+", user.OpGroupUpdate: "~", user.OpGroupDelete: "-"}[c.Op]
	var parts []string
	if c.OldName != "" {
		parts = append(parts, fmt.Sprintf("renamed from %q", c.OldName))
	}
	if len(c.Add)+len(c.Remove) > 0 {
		m := "members:"
		if len(c.Add) > 0 {
			m += fmt.Sprintf(" +%d", len(c.Add))
		}
		if len(c.Remove) > 0 {
			m += fmt.Sprintf(" −%d", len(c.Remove))
		}
		parts = append(parts, m)
	}
	if c.Reason != "" {
		parts = append(parts, c.Reason)
	}
	line := sym + " group " + c.Group.Name
	if len(parts) > 0 {
		line += "  " + strings.Join(parts, ", ")
	}
	return line
}

// GroupPlanHeadline sums a group plan up in one line.
func GroupPlanHeadline(p GroupPlan) string {
	var parts []string
	for _, k := range []struct {
		op   user.Op
		verb string
	}{{user.OpGroupCreate, "to create"}, {user.OpGroupUpdate, "to update"}, {user.OpGroupDelete, "to delete"}} {
		if n := p.Count(k.op); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k.verb))
		}
	}
	changes := "no changes"
	if len(parts) > 0 {
		changes = strings.Join(parts, ", ")
	}
	added, removed := p.MembershipChanges()
	s := fmt.Sprintf("%s, members +%d −%d (%d in the directory, %d unchanged, %d managed with %d memberships)",
		changes, added, removed, p.InScope, p.Unchanged, p.Managed, p.Memberships)
	if p.Drifted > 0 {
		s += fmt.Sprintf(", %d changed on the platform by hand", p.Drifted)
	}
	return s
}

// WriteGroupReport prints the group pass of a run, when it ran: the
// headline, the changes planned and those that failed.
func WriteGroupReport(w io.Writer, r *GroupReport) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "\nGroups: %s\n", GroupPlanHeadline(r.Plan))
	if len(r.Plan.Changes) > 0 {
		fmt.Fprintln(w)
		for _, c := range r.Plan.Changes {
			fmt.Fprintf(w, "  %s\n", GroupPlanLine(c))
		}
	}
	if len(r.Failed) > 0 {
		fmt.Fprintf(w, "\nGroup changes that failed (retried on the next run):\n")
		for _, f := range r.Failed {
			fmt.Fprintf(w, "  %s: %s\n", f.Change.Group.Name, f.Error)
		}
	}
}
