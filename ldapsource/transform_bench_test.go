package ldapsource

import (
	"context"
	"testing"

	"github.com/dirsync/dirsync/internal/slapdtest"
	"github.com/dirsync/dirsync/transform"
)

// BenchmarkFetch20kTransform is BenchmarkFetch20k without and with a
// transform (three fields, one of them from a raw attribute the mapping
// does not read): the read path of a no-change reconcile.
func BenchmarkFetch20kTransform(b *testing.B) {
	const n = 20_000
	srv := slapdtest.Start(b, slapdtest.WithLDIF(slapdtest.UsersLDIF("bench", n)), slapdtest.WithSizeLimit(n+100))
	for _, bc := range []struct {
		name string
		tr   transform.Config
	}{
		{"plain", transform.Config{}},
		{"transform", transform.Config{
			Username:    `lower(split(email, "@")[0])`,
			DisplayName: `given_name + " " + family_name`,
			Extra:       map[string]string{"initials": `upper(attr.cn[0:1])`},
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := readerConfig(srv, "ou=bench,"+srv.BaseDN())
			c.DisabledFilter = "(description=disabled)"
			c.Transform = bc.tr
			s, err := New(c)
			if err != nil {
				b.Fatalf("New: %v", err)
			}
			b.ReportAllocs()
			for b.Loop() {
				users, skipped, err := s.Fetch(context.Background())
				if err != nil {
					b.Fatalf("Fetch: %v", err)
				}
				if len(users) != n {
					b.Fatalf("Fetch read %d users (%d skipped: %+v), want %d", len(users), len(skipped), skipped[:min(len(skipped), 1)], n)
				}
			}
		})
	}
}
