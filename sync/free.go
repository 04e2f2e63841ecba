package sync

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/dirsync/dirsync/user"
)

// IdentifierFreer is a Target that can rename an account's username and
// email, so that an archived account gives them up for reuse
// (sync.free_identifiers_on_archive).
type IdentifierFreer interface {
	// FreeIdentifiers sets account platformID's username and email to u's,
	// and changes nothing else.
	FreeIdentifiers(ctx context.Context, platformID string, u user.User) error
}

// Placeholders of a free_identifiers_on_archive template.
const (
	freeUsername = "{username}"
	freeDate     = "{date}"
)

var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

// CheckFreeTemplate reports what is wrong with a free_identifiers_on_archive
// template: it must hold {username} and something more, and no placeholder
// but {username} and {date}.
func CheckFreeTemplate(tpl string) error {
	for _, p := range placeholder.FindAllString(tpl, -1) {
		if p != freeUsername && p != freeDate {
			return fmt.Errorf("%s is not a placeholder: use {username} and {date}", p)
		}
	}
	switch {
	case !strings.Contains(tpl, freeUsername):
		return errors.New("must hold {username}, e.g. {username}.left-{date}")
	case strings.TrimSpace(strings.ReplaceAll(tpl, freeUsername, "")) == "":
		return errors.New("must add something to {username}, e.g. {username}.left-{date}, or the name is not freed")
	case strings.ContainsAny(tpl, "@ \t\r\n"):
		return errors.New("must not hold @ or white space: it renames the username and the part of the email before @")
	}
	return nil
}

// freeIdentifiers returns u with its username, and the part of its email
// before @, renamed by tpl for an archive at now.
func freeIdentifiers(tpl string, u user.User, now time.Time) (user.User, error) {
	if err := CheckFreeTemplate(tpl); err != nil {
		return u, fmt.Errorf("sync.free_identifiers_on_archive: %w", err)
	}
	date := now.UTC().Format(time.DateOnly)
	expand := func(name string) string {
		return strings.NewReplacer(freeUsername, name, freeDate, date).Replace(tpl)
	}
	u.Username = expand(u.Username)
	if local, domain, ok := strings.Cut(u.Email, "@"); ok {
		u.Email = expand(local) + "@" + domain
	} else if u.Email != "" {
		u.Email = expand(u.Email)
	}
	return u, nil
}

// free renames archived account platformID's username and email by the
// template, and returns the user as the platform now holds it.
func (a *applier) free(ctx context.Context, platformID string, u user.User) (user.User, error) {
	f, ok := a.e.Target.(IdentifierFreer)
	if !ok {
		return u, errors.New("this target cannot rename accounts; unset sync.free_identifiers_on_archive, or use a SCIM target or a REST profile with a free_identifiers operation")
	}
	freed, err := freeIdentifiers(a.e.FreeIdentifiers, u, a.now())
	if err != nil {
		return u, err
	}
	if err := f.FreeIdentifiers(ctx, platformID, freed); err != nil {
		return u, err
	}
	return freed, nil
}
