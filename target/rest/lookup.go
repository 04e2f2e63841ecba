package rest

import (
	"context"
	"strings"
	gosync "sync"
	"time"

	"github.com/dirsync/dirsync/user"
)

// lookupTTL is how long one listing of the platform answers lookups. Without
// it, each lookup (up to three per user created) would read every page.
const lookupTTL = time.Minute

// lookupCache holds the accounts of the latest listing, kept in step with the
// client's own writes; a create conflict, which means the platform changed
// behind dirsync's back, drops it.
type lookupCache struct {
	mu    gosync.Mutex
	at    time.Time
	accts []user.Account // nil: none
	now   func() time.Time
}

func (l *lookupCache) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}

// find returns the cached account matching key and value, listing the platform
// first when the cache is empty or old.
func (l *lookupCache) find(ctx context.Context, list func(context.Context, func(user.Account) error) error, key, value string) (user.Account, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.accts == nil || l.clock().Sub(l.at) >= lookupTTL {
		var accts []user.Account
		if err := list(ctx, func(a user.Account) error { accts = append(accts, a); return nil }); err != nil {
			return user.Account{}, false, err
		}
		if accts == nil {
			accts = []user.Account{}
		}
		l.accts, l.at = accts, l.clock()
	}
	for _, a := range l.accts {
		var got string
		switch key {
		case user.MatchExternalID:
			got = a.User.ID
		case user.MatchUserName:
			got = a.User.Username
		case user.MatchEmail:
			got = a.User.Email
		}
		if got != "" && (got == value || (key != user.MatchExternalID && strings.EqualFold(got, value))) {
			return a, true, nil
		}
	}
	return user.Account{}, false, nil
}

// drop empties the cache.
func (l *lookupCache) drop() {
	l.mu.Lock()
	l.accts = nil
	l.mu.Unlock()
}

// edit applies fn to the cached account platformID, or adds a (when a is not
// nil and the account is not cached). It does nothing without a cache.
func (l *lookupCache) edit(platformID string, fn func(*user.Account) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.accts == nil {
		return
	}
	for i := range l.accts {
		if l.accts[i].PlatformID == platformID {
			if !fn(&l.accts[i]) {
				l.accts = append(l.accts[:i], l.accts[i+1:]...)
			}
			return
		}
	}
}

func (l *lookupCache) add(a user.Account) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.accts != nil {
		l.accts = append(l.accts, a)
	}
}
