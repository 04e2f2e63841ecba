package render

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target/rest"
)

// ProfileProber is a platform driven by a profile (target.type rest), which
// `dirsync check` proves by reading it.
type ProfileProber interface {
	Probe(ctx context.Context, sample int) (rest.Probe, error)
	PageSize() int
}

// checkSample is how many accounts check shows.
const checkSample = 5

// WriteCheckProfile lists the platform through the profile, read-only, and
// writes what it found; it returns the number of failed checks.
func WriteCheckProfile(ctx context.Context, out io.Writer, p ProfileProber) int {
	pr, err := p.Probe(ctx, checkSample)
	if err != nil {
		fmt.Fprintf(out, "✗ platform listing stopped after %d pages (%d accounts), so it cannot be trusted: %v\n", pr.List.Pages, pr.List.Accounts, err)
		fmt.Fprintln(out, "    fix: check target.rest.list (see docs/rest-profiles.md)")
		return 1
	}
	fmt.Fprintf(out, "✓ platform listing: %d pages, %d accounts\n", pr.List.Pages, pr.List.Accounts)
	if pr.List.FullLastPage {
		fmt.Fprintf(out, "! the last page held %d accounts, as many as asked for, but the platform gave no next page: if it holds more, check target.rest.list.pagination and where the next page is (next_cursor, next_cursor_header, next_url)\n", p.PageSize())
	}
	if len(pr.Sample) > 0 {
		fmt.Fprintf(out, "  the first %d accounts, as the profile maps them:\n", len(pr.Sample))
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "    id\texternalId\tuserName\temail\tgiven name\tfamily name\tactive")
		for _, a := range pr.Sample {
			u := a.User
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t%s\t%t\n", Cell(a.PlatformID), Cell(u.ID), Cell(u.Username), Cell(u.Email),
				Cell(u.GivenName), Cell(u.FamilyName), u.Active)
		}
		_ = tw.Flush()
	}
	bad := 0
	for _, k := range pr.Keys {
		switch {
		case k.Path == "" && !k.Matched:
			fmt.Fprintf(out, "  match key %s: not mapped (target.rest.fields.%s)\n", k.Key, k.Field)
		case !k.Matched:
			fmt.Fprintf(out, "  match key %s: mapped from %s, %d/%d accounts have one; not in target.rest.match_by\n", k.Key, k.Path, k.Filled, pr.List.Accounts)
		case k.Filled == 0 && pr.List.Accounts > 0:
			fmt.Fprintf(out, "! match key %s (target.rest.match_by): no account has one at %q: check target.rest.fields.%s\n", k.Key, k.Path, k.Field)
		default:
			fmt.Fprintf(out, "  match key %s: %d/%d accounts have one", k.Key, k.Filled, pr.List.Accounts)
			if k.Duplicates > 0 {
				fmt.Fprintf(out, ", %d values held by more than one account", k.Duplicates)
			}
			if k.Lookup != "" {
				fmt.Fprintf(out, "; lookup: %s", k.Lookup)
			}
			fmt.Fprintln(out)
			if k.Lookup != "" && k.Lookup != "ok" {
				bad++
				fmt.Fprintf(out, "✗ a lookup by %s failed: check target.rest.fields.%s\n", k.Key, k.Field)
			}
		}
	}
	return bad
}

// Cell is a table cell: "-" when empty, one line.
func Cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Join(strings.Fields(s), " ")
}

func WriteCheckSkipped(out io.Writer, skipped []dsync.Skip) {
	if len(skipped) == 0 {
		fmt.Fprintln(out, "✓ no directory data problems")
		return
	}
	fmt.Fprintf(out, "! %d directory entries would be skipped (fix them in the directory; their platform accounts are left as they are, but archived if disabled):\n", len(skipped))
	for _, s := range skipped {
		fmt.Fprintf(out, "    %s: %s%s\n", s.DN, s.Reason, SkipDisabled(s))
	}
}
