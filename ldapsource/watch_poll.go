package ldapsource

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Poll cookies: "ts:<modifyTimestamp>" (the newest modifyTimestamp seen) or
// "usn:<uSNChanged>" (Active Directory: the highest uSNChanged seen; USNs are
// per domain controller, so ldap.url must name one DC, not a pool).
const (
	pollTS  = "ts:"
	pollUSN = "usn:"
)

func (c Config) pollInterval() time.Duration {
	if c.WatchPollInterval <= 0 {
		return DefaultWatchPollInterval
	}
	return c.WatchPollInterval
}

// poll asks every poll interval for the entries in scope changed since the
// last mark. It sees adds, modifies, renames and moves into scope; it cannot
// see deletes or moves out of scope: the scheduled runs handle those.
func (st *stream) poll(ctx context.Context) error {
	conn, closeConn, err := st.s.connect(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	info, err := st.s.rootDSE(conn)
	if err != nil {
		return err
	}

	attr, prefix := "modifyTimestamp", pollTS
	if info.ad {
		attr, prefix = "uSNChanged", pollUSN
	}
	mark, ok := strings.CutPrefix(string(st.cookie), prefix)
	if !ok || mark == "" {
		// No usable mark: take the current one, and have the whole
		// directory read (what changed before it is unknown).
		if info.ad {
			st.atMark = nil
			mark = strconv.FormatInt(info.highestUSN, 10)
		} else if mark, err = st.startMark(ctx, conn); err != nil {
			return err
		}
		st.emit(Change{Resync: true, Cookie: []byte(prefix + mark)})
	}
	st.h.Connected(st.key, true, nil)
	tick := time.NewTicker(st.s.cfg.pollInterval())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		next, ids, err := st.pollOnce(ctx, conn, attr, prefix, mark)
		if err != nil {
			return err
		}
		if len(ids) > 0 || next != mark {
			mark = next
			st.emit(Change{IDs: ids, Cookie: []byte(prefix + mark)})
		}
	}
}

// pollOnce reads the entries changed at or after mark and returns the new
// mark and the IDs not reported before.
func (st *stream) pollOnce(ctx context.Context, conn *ldap.Conn, attr, prefix, mark string) (string, []string, error) {
	var filter string
	if prefix == pollUSN {
		n, err := strconv.ParseInt(mark, 10, 64)
		if err != nil {
			return "", nil, fmt.Errorf("poll cookie %q: %w", mark, err)
		}
		filter = fmt.Sprintf("(&%s(uSNChanged>=%d))", st.s.cfg.UserFilter, n+1)
	} else {
		filter = fmt.Sprintf("(&%s(modifyTimestamp>=%s))", st.s.cfg.UserFilter, ldap.EscapeFilter(mark))
	}
	m := newMapper(st.s.cfg)
	next := mark
	nextT, _ := parseGenTime(mark)
	type seen struct{ id, v, hash string }
	var got []seen
	attrs := []string{st.s.cfg.IDAttribute, attr}
	if prefix == pollTS {
		// Every attribute, operational ones too: a change within the
		// mark's second is told apart by the entry's content.
		attrs = []string{"*", "+"}
	}
	err := st.s.search(ctx, conn, st.base, filter, attrs, func(e *ldap.Entry) {
		id, reason := m.id(e)
		if reason != "" {
			return // the scheduled run reports it as skipped
		}
		v := e.GetEqualFoldAttributeValue(attr)
		got = append(got, seen{id, v, entryHash(e)})
		if prefix == pollUSN {
			if a, err := strconv.ParseInt(v, 10, 64); err == nil {
				if b, _ := strconv.ParseInt(next, 10, 64); a > b {
					next = v
				}
			}
			return
		}
		if t, err := parseGenTime(v); err == nil && t.After(nextT) {
			next, nextT = v, t
		}
	}, nil)
	if err != nil {
		return "", nil, err
	}
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	if prefix == pollUSN {
		ids := make([]string, len(got))
		for i, g := range got {
			ids[i] = g.id
		}
		return next, ids, nil
	}
	// modifyTimestamp has one-second resolution, so the query includes the
	// mark's second: the entries already reported at it are left out.
	old := st.atMark
	st.atMark = make(map[string]string)
	var ids []string
	for _, g := range got {
		if g.v == mark && old[g.id] == g.hash {
			// Reported before, unchanged since.
		} else {
			ids = append(ids, g.id)
		}
		if g.v == next {
			st.atMark[g.id] = g.hash
		}
	}
	return next, ids, nil
}

// genTime is GeneralizedTime as OpenLDAP writes modifyTimestamp.
const genTime = "20060102150405Z"

// startMark returns the mark a new poll stream starts from, without
// listing the entries in scope (the full read the stream asks for does
// that): the second of the suffix's contextCSN (the server's last change)
// when the account can read it, else the newest modifyTimestamp in scope,
// found by bisection (see newestTimestamp). Either is taken by the server's
// clock before the full read starts, so a change after it is at or after
// the mark. It remembers the entries changed at the mark's second as
// reported: they are in the full read.
func (st *stream) startMark(ctx context.Context, conn *ldap.Conn) (string, error) {
	var at time.Time
	for _, csn := range st.s.contextCSN(conn, st.base) {
		// 20261123130000.123456Z#000000#000#000000
		stamp, _, _ := strings.Cut(csn, ".")
		if t, err := time.Parse("20060102150405", stamp); err == nil && t.After(at) {
			at = t
		}
	}
	if at.IsZero() {
		var err error
		if at, err = st.newestTimestamp(ctx, conn); err != nil {
			return "", err
		}
	}
	mark := at.UTC().Format(genTime)
	// The entries at the mark's second (and any changed since, which the
	// first poll reports).
	m := newMapper(st.s.cfg)
	st.atMark = make(map[string]string)
	filter := fmt.Sprintf("(&%s(modifyTimestamp>=%s))", st.s.cfg.UserFilter, mark)
	err := st.s.search(ctx, conn, st.base, filter, []string{"*", "+"}, func(e *ldap.Entry) {
		v := e.GetEqualFoldAttributeValue("modifyTimestamp")
		if t, err := parseGenTime(v); err != nil || !t.Equal(at) {
			return
		}
		if id, reason := m.id(e); reason == "" {
			mark = v // as the server writes it: pollOnce compares it so
			st.atMark[id] = entryHash(e)
		}
	}, nil)
	if err != nil {
		return "", err
	}
	return mark, ctx.Err()
}

// newestTimestamp returns the second of the newest modifyTimestamp in
// scope, by bisection over the seconds from 1970 to 9999: about 40 searches
// that each send at most one entry, instead of a listing of the subtree.
// With nothing in scope (or modifyTimestamp not searchable) it returns
// 1970: whatever comes in scope later is reported.
func (st *stream) newestTimestamp(ctx context.Context, conn *ldap.Conn) (time.Time, error) {
	lo, hi := int64(0), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	ok, err := st.changedSince(ctx, conn, lo)
	if err != nil || !ok {
		return time.Unix(lo, 0).UTC(), err
	}
	// Some entry is at or after lo; none at or after hi.
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := st.changedSince(ctx, conn, mid)
		if err != nil {
			return time.Time{}, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return time.Unix(lo, 0).UTC(), nil
}

// changedSince reports whether an entry in scope has a modifyTimestamp at
// or after sec (Unix seconds), asking for one entry and no attributes.
func (st *stream) changedSince(ctx context.Context, conn *ldap.Conn, sec int64) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	filter := fmt.Sprintf("(&%s(modifyTimestamp>=%s))", st.s.cfg.UserFilter, time.Unix(sec, 0).UTC().Format(genTime))
	timeLimit := int(max(1, (st.s.cfg.Timeout.Seconds() + 0.999)))
	res, err := conn.Search(ldap.NewSearchRequest(st.base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 1, timeLimit, false,
		filter, []string{"1.1"}, nil))
	switch {
	case sizeLimited(err):
		return true, nil // more than the one asked for
	case err != nil:
		return false, fmt.Errorf("ldap search %s for the newest modifyTimestamp: %w", st.base, err)
	}
	return len(res.Entries) > 0, nil
}

// errDirSyncEnded is returned when a DirSync answer has no DirSync control.
var errDirSyncEnded = errors.New("the server answered without a DirSync control")

// parseGenTime parses an LDAP GeneralizedTime as servers write
// modifyTimestamp: 20261123130000Z, 20261123130000.0Z, or with an offset.
func parseGenTime(v string) (time.Time, error) {
	return time.Parse("20060102150405Z0700", v)
}

// entryHash digests an entry's attributes and values, in a stable order.
func entryHash(e *ldap.Entry) string {
	lines := make([]string, 0, len(e.Attributes))
	for _, a := range e.Attributes {
		vals := slices.Clone(a.Values)
		slices.Sort(vals)
		lines = append(lines, strings.ToLower(a.Name)+"\x00"+strings.Join(vals, "\x00"))
	}
	slices.Sort(lines)
	h := sha256.Sum256([]byte(e.DN + "\x01" + strings.Join(lines, "\x01")))
	return string(h[:])
}
