package ldapsource

import (
	"context"
	"testing"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// BenchmarkFetch20k reads 20,000 users, with a disabled filter, from a local
// slapd: the read path of a no-change reconcile. Profile it with
// -cpuprofile to see dirsync's own per-entry work next to go-ldap's.
func BenchmarkFetch20k(b *testing.B) {
	const n = 20_000
	srv := slapdtest.Start(b, slapdtest.WithLDIF(slapdtest.UsersLDIF("bench", n)), slapdtest.WithSizeLimit(n+100))
	c := readerConfig(srv, "ou=bench,"+srv.BaseDN())
	c.DisabledFilter = "(description=disabled)"
	s, err := New(c)
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	b.ResetTimer()
	for range b.N {
		users, _, err := s.Fetch(context.Background())
		if err != nil {
			b.Fatalf("Fetch: %v", err)
		}
		if len(users) != n {
			b.Fatalf("Fetch read %d users, want %d", len(users), n)
		}
	}
}
