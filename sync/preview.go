package sync

import (
	"context"
	"fmt"

	"github.com/dirsync/dirsync/user"
)

// previewAdoptions marks, in a dry run's plan, the creates that would adopt
// an existing platform account instead (Change.Adopt, Plan.Adoptions), when
// the target can list its accounts. It finds them as the apply would — a
// lookup per create, or one listing for many — and only reads the platform.
// A read that fails leaves the creates unmarked and says why in
// Plan.AdoptionsUnknown: the plan itself stands.
func (e *Engine) previewAdoptions(ctx context.Context, plan *Plan, claims func() (links, error)) {
	n := plan.Count(user.OpCreate)
	if n == 0 || len(e.adoptBy()) == 0 || claims == nil {
		return
	}
	l, ok := e.Target.(Lister)
	if !ok {
		return
	}
	a := e.newApplier(0)
	a.claims = claims
	if err := a.loadClaims(); err != nil {
		plan.AdoptionsUnknown = err.Error()
		return
	}
	var idx *accountIndex
	if n > listThreshold {
		var err error
		if idx, err = buildIndex(ctx, l); err != nil {
			plan.AdoptionsUnknown = fmt.Sprintf("list the platform's accounts: %v", err)
			return
		}
	}
	marked := map[int]bool{}
	for i := range plan.Changes {
		c := &plan.Changes[i]
		if c.Op != user.OpCreate {
			continue
		}
		acct, found, err := a.find(ctx, c.User, idx)
		if err != nil {
			for j := range marked {
				plan.Changes[j].Adopt = nil
			}
			plan.Adoptions = 0
			plan.AdoptionsUnknown = fmt.Sprintf("look up %s: %v", c.User.Username, err)
			return
		}
		// As adopt does: an account linked to another user, or holding
		// another directory identity, is not adopted (the create fails).
		if !found || (acct.User.ID != "" && acct.User.ID != c.User.ID) || !a.claim(acct.PlatformID, c.User.ID, false) {
			continue
		}
		c.Adopt = &acct
		marked[i] = true
		plan.Adoptions++
	}
}
