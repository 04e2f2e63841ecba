package rest

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/rest/profile"
	"github.com/dirsync/dirsync/user"
)

// Probe is what a read-only look at the platform shows of the profile: how
// the listing went, the first accounts as dirsync maps them, and which match
// keys the data supports.
type Probe struct {
	List ListStats
	// Sample are the first accounts listed.
	Sample []user.Account
	Keys   []KeyProbe
}

// KeyProbe is what the platform's data says of one match key.
type KeyProbe struct {
	// Key is externalId, userName or email; Field the profile's field
	// (target.rest.fields.NAME) and Path where it is read ("" : not mapped).
	Key, Field, Path string
	// Matched: the key is one dirsync matches on (match_by, or mapped when
	// match_by is unset).
	Matched bool
	// Filled counts accounts with a value; Duplicates the values held by more
	// than one account (compared as lookups compare them).
	Filled, Duplicates int
	// Lookup is the outcome of looking the first filled value up ("" : not
	// tried, "ok", or why it failed).
	Lookup string
}

// Probe lists the platform and reports on the profile, without writing
// anything. sample is how many accounts to keep.
func (c *Client) Probe(ctx context.Context, sample int) (Probe, error) {
	var p Probe
	var all []user.Account
	st, err := c.ListStats(ctx, func(a user.Account) error {
		all = append(all, a)
		return nil
	})
	p.List = st
	if err != nil {
		return p, err
	}
	p.Sample = all[:min(sample, len(all))]
	for _, k := range []struct{ key, field string }{
		{user.MatchExternalID, profile.RefExternalID}, {user.MatchUserName, profile.RefUsername}, {user.MatchEmail, profile.RefEmail},
	} {
		kp := KeyProbe{Key: k.key, Field: k.field, Path: c.p.Fields[k.field], Matched: slices.Contains(c.match, k.key)}
		count := map[string]int{}
		first := ""
		for _, a := range all {
			v := keyValue(a, k.key)
			if v == "" {
				continue
			}
			kp.Filled++
			if first == "" {
				first = v
			}
			if k.key != user.MatchExternalID {
				v = strings.ToLower(v)
			}
			if count[v]++; count[v] == 2 {
				kp.Duplicates++
			}
		}
		if kp.Matched && first != "" {
			got, err := c.Lookup(ctx, k.key, first)
			var nf *target.NotFoundError
			switch {
			case errors.As(err, &nf):
				kp.Lookup = "the account listed with this value was not found"
			case err != nil:
				kp.Lookup = err.Error()
			case keyValue(got, k.key) == "":
				kp.Lookup = "found an account without the value"
			default:
				kp.Lookup = "ok"
			}
		}
		p.Keys = append(p.Keys, kp)
	}
	return p, nil
}

func keyValue(a user.Account, key string) string {
	switch key {
	case user.MatchExternalID:
		return a.User.ID
	case user.MatchUserName:
		return a.User.Username
	case user.MatchEmail:
		return a.User.Email
	}
	return ""
}

// PageSize is the page size the listing asks for.
func (c *Client) PageSize() int { return c.pageSize() }
