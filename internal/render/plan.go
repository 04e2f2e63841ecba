package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// opSymbol is how the plan marks each kind of change.
var opSymbol = map[user.Op]string{
	user.OpCreate:     "+",
	user.OpAdopt:      "+",
	user.OpUpdate:     "~",
	user.OpReactivate: "↺",
	user.OpArchive:    "-",
	user.OpDelete:     "x",
}

// planHeadline sums a plan up in one line.
func planHeadline(p dsync.Plan) string {
	var parts []string
	for _, k := range []struct {
		op   user.Op
		verb string
	}{
		{user.OpCreate, "to create"}, {user.OpUpdate, "to update"}, {user.OpReactivate, "to reactivate"},
		{user.OpArchive, "to archive"}, {user.OpDelete, "to delete"},
	} {
		n := p.Count(k.op)
		if k.op == user.OpCreate {
			n -= p.Adoptions
		}
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k.verb))
		}
		if k.op == user.OpCreate && p.Adoptions > 0 {
			parts = append(parts, fmt.Sprintf("%d to adopt", p.Adoptions))
		}
	}
	changes := "no changes"
	if len(parts) > 0 {
		changes = strings.Join(parts, ", ")
	}
	return fmt.Sprintf("%s (%d in scope, %d unchanged, %d skipped, %d managed on the platform)",
		changes, p.InScope, p.Unchanged, len(p.Skipped), p.Managed)
}

// WritePlan prints a plan as a readable table.
func WritePlan(w io.Writer, p dsync.Plan) {
	fmt.Fprintf(w, "Plan: %s\n", planHeadline(p))
	if len(p.Changes) > 0 {
		fmt.Fprintln(w)
		tw := &Table{Indent: "  "}
		for _, c := range p.Changes {
			planRow(tw, c)
		}
		_ = tw.Write(w)
	}
	writeStreamed(w, p)
	writePlanNotes(w, p)
}

// writeStreamed says how many creates the plan holds but does not list.
func writeStreamed(w io.Writer, p dsync.Plan) {
	if p.Streamed > 0 {
		fmt.Fprintf(w, "  … and %d more to create, not listed: applied as read back from a spill file "+
			"(`dirsync journal --run <run> --kind create` lists each)\n", p.Streamed)
	}
}

// planRow adds c's line to a plan table: an adoption, or the change itself.
func planRow(tw *Table, c dsync.Change) {
	if c.Adopt != nil {
		tw.Row("= adopt", c.User.Username, describeAdoption(c))
		return
	}
	tw.Row(opSymbol[c.Op]+" "+string(c.Op), c.User.Username, describeChange(c))
}

// writePlanNotes prints what follows a plan's changes: adoptions that could
// not be looked for, and the entries and accounts left out.
func writePlanNotes(w io.Writer, p dsync.Plan) {
	if p.AdoptionsUnknown != "" {
		fmt.Fprintf(w, "\nCreates may adopt existing platform accounts instead; they could not be looked for: %s\n", p.AdoptionsUnknown)
	}
	writeSkipped(w, p.Skipped)
	writeQuarantined(w, p.Quarantined)
	WriteUnmanaged(w, p.Unmanaged)
	WriteMissing(w, p.Missing)
	WriteIdentifierMoves(w, p.IdentifierMoves)
}

// refusedListed is how many changes of each kind a refused plan lists.
const refusedListed = 10

// WriteRefusedPlan prints a plan the safety limits refused, summed up: the
// headline and the first refusedListed changes of each kind. Listed in full,
// a refused mass archive scrolled the refusal, which says what to do, out
// of sight.
func WriteRefusedPlan(w io.Writer, p dsync.Plan) {
	fmt.Fprintf(w, "Plan: %s\n", planHeadline(p))
	if len(p.Changes) > 0 {
		fmt.Fprintln(w)
		tw := &Table{Indent: "  "}
		shown := map[user.Op]int{}
		for _, c := range p.Changes {
			if shown[c.Op]++; shown[c.Op] <= refusedListed {
				planRow(tw, c)
			}
		}
		_ = tw.Write(w)
		cut := false
		for _, op := range []user.Op{user.OpCreate, user.OpAdopt, user.OpUpdate, user.OpReactivate, user.OpArchive, user.OpDelete} {
			if n := shown[op] - refusedListed; n > 0 {
				fmt.Fprintf(w, "  … and %d more to %s\n", n, op)
				cut = true
			}
		}
		if cut {
			fmt.Fprintln(w, "  (`dirsync plan --output json` lists every change)")
		}
	}
	writeStreamed(w, p)
	writePlanNotes(w, p)
}

// describeAdoption says which platform account a create would adopt.
func describeAdoption(c dsync.Change) string {
	a := c.Adopt
	who := a.User.Username
	if a.User.Email != "" {
		who += " <" + a.User.Email + ">"
	}
	s := fmt.Sprintf("existing platform account %s (%s", a.PlatformID, who)
	if !a.User.Active {
		s += ", inactive: reactivated"
	}
	s += ")"
	if fields := user.Compare(a.User, c.User); len(fields) > 0 {
		var parts []string
		for _, f := range fields {
			switch f.Field {
			case user.FieldUsername, user.FieldEmail, user.FieldGivenName, user.FieldFamilyName, user.FieldDisplayName:
			default:
				continue // not always read back from the platform
			}
			parts = append(parts, fmt.Sprintf("%s: %s → %s", f.Field, quoteEmpty(f.Old), quoteEmpty(f.New)))
		}
		if len(parts) > 0 {
			s += " " + strings.Join(parts, ", ")
		}
	}
	return s
}

func writeQuarantined(w io.Writer, q []dsync.Change) {
	if len(q) == 0 {
		return
	}
	fmt.Fprintf(w, "\nQuarantined (%d; not tried after repeated failures; see `dirsync status`, fix, then `dirsync sync --retry-quarantined`):\n", len(q))
	for _, c := range q {
		fmt.Fprintf(w, "  ! %s %s: failed %d times\n", c.Op, c.User.Username, c.Attempts)
	}
}

func writeSkipped(w io.Writer, skipped []dsync.Skip) {
	if len(skipped) == 0 {
		return
	}
	fmt.Fprintf(w, "\nSkipped directory entries (%d; their platform accounts are left as they are, but archived if disabled):\n", len(skipped))
	for _, s := range skipped {
		fmt.Fprintf(w, "  ! %s: %s%s\n", s.DN, s.Reason, SkipDisabled(s))
	}
}

// SkipDisabled notes a skipped entry that is disabled, whose account is
// archived all the same.
func SkipDisabled(s dsync.Skip) string {
	if s.Disabled {
		return " (disabled: its account is archived)"
	}
	return ""
}

// describeChange says what a change does, field by field for updates.
func describeChange(c dsync.Change) string {
	var parts []string
	switch c.Op {
	case user.OpCreate:
		who := strings.TrimSpace(c.User.DisplayName)
		if who == "" {
			who = strings.TrimSpace(c.User.GivenName + " " + c.User.FamilyName)
		}
		if c.User.Email != "" {
			who += " <" + c.User.Email + ">"
		}
		parts = append(parts, strings.TrimSpace(who))
		if c.Reason != "" {
			parts = append(parts, c.Reason)
		}
	case user.OpArchive, user.OpDelete:
		parts = append(parts, c.Reason)
	case user.OpReactivate:
		parts = append(parts, "active in the directory again")
	}
	for _, f := range c.Fields {
		if f.Field == user.FieldActive && c.Op != user.OpUpdate {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %s → %s", f.Field, quoteEmpty(f.Old), quoteEmpty(f.New)))
	}
	if c.Attempts > 0 {
		parts = append(parts, fmt.Sprintf("(retry: failed %d time(s) before)", c.Attempts))
	}
	return strings.Join(parts, "; ")
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// WriteReport prints what a run did.
func WriteReport(w io.Writer, r dsync.Report) {
	var parts []string
	for _, op := range []user.Op{user.OpCreate, user.OpAdopt, user.OpUpdate, user.OpReactivate, user.OpArchive, user.OpDelete} {
		if n := r.Applied[op]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, pastTense(op)))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing to change")
		if len(r.Failed) > 0 {
			parts[0] = "no change landed"
		}
	}
	fmt.Fprintf(w, "Run %d: %s; %d failed (%s)\n", r.RunID, strings.Join(parts, ", "), len(r.Failed), r.Duration.Round(time.Millisecond))
	for _, f := range r.Failed {
		fmt.Fprintf(w, "  ✗ %s\n", f.Error) // the error names the change and the user
	}
	if len(r.Failed) > 0 {
		fmt.Fprintln(w, "  Failed changes are retried on the next run; `dirsync status` lists them.")
	}
}

func pastTense(op user.Op) string {
	switch op {
	case user.OpCreate:
		return "created"
	case user.OpAdopt:
		return "adopted"
	case user.OpUpdate:
		return "updated"
	case user.OpReactivate:
		return "reactivated"
	case user.OpArchive:
		return "archived"
	case user.OpDelete:
		return "deleted"
	}
	return string(op)
}

// WriteJSON prints v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// WriteUnmanaged lists the platform accounts no directory user owns.
func WriteUnmanaged(w io.Writer, accts []user.Account) {
	if len(accts) == 0 {
		return
	}
	fmt.Fprintf(w, "\nUnmanaged platform accounts (%d; no directory user owns them; archived only with sync.unmanaged: archive):\n", len(accts))
	for _, a := range accts {
		state := "active"
		if !a.User.Active {
			state = "inactive"
		}
		fmt.Fprintf(w, "  ? %s (id %s, %s)\n", a.User.Username, a.PlatformID, state)
	}
}

// WriteMissing lists the managed users whose account was deleted on the
// platform by hand and, under sync.on_missing: report, left so.
func WriteMissing(w io.Writer, missing []dsync.Change) {
	if len(missing) == 0 {
		return
	}
	fmt.Fprintf(w, "\nMissing on the platform (%d; managed users whose account was deleted there by hand; "+
		"recreated only with sync.on_missing: recreate):\n", len(missing))
	for _, c := range missing {
		fmt.Fprintf(w, "  ! %s (was id %s)\n", c.User.Username, c.PlatformID)
	}
}

// JSONResult is the --output json document.
func JSONResult(rep dsync.Report, err error) any {
	if rep.Plan.Changes == nil {
		// An empty list, not null: `jq '.plan.changes[]'` must work on an empty plan.
		rep.Plan.Changes = []dsync.Change{}
	}
	doc := struct {
		dsync.Report
		Outcome string `json:"outcome"`
		Error   string `json:"error,omitempty"`
	}{Report: rep, Outcome: rep.Outcome(err)}
	if err != nil {
		doc.Error = err.Error()
	}
	return doc
}

// AppliedCount sums the changes a run applied.
func AppliedCount(rep dsync.Report) int {
	n := 0
	for _, c := range rep.Applied {
		n += c
	}
	return n
}

// TargetResult is one target's part of the --output json document of a run
// over several targets: JSONResult with the target's name.
func TargetResult(name string, rep dsync.Report, err error) any {
	return struct {
		Target string `json:"target"`
		Result any    `json:"result"`
	}{name, JSONResult(rep, err)}
}
