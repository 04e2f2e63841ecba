package user

import (
	"bytes"
	"strings"
	"testing"
)

// A canonical lowercase UUID packs into 17 bytes; anything else, even a UUID
// in another case or without its dashes, packs raw with its length.
func TestAppendPackedID_CanonicalUUIDTakes17Bytes(t *testing.T) {
	for _, c := range []struct {
		id   string
		size int
	}{
		{"7f3c1e2a-0000-4000-8000-000000000123", 17},
		{"ffffffff-ffff-ffff-ffff-ffffffffffff", 17},
		{"00000000-0000-0000-0000-000000000000", 17},
		{"7F3C1E2A-0000-4000-8000-000000000123", 37},
		{"7f3c1e2a000040008000000000000123", 33},
		{"7f3c1e2a-0000-4000-8000-00000000012g", 37},
		{"7f3c1e2a-0000-4000-8000_000000000123", 37},
		{"7f3c1e2a-0000-4000-8000-0000000001234", 38},
		{"plat-42", 8},
		{"", 1},
		{strings.Repeat("x", 200), 202},
	} {
		p := AppendPackedID(nil, c.id)
		if len(p) != c.size {
			t.Errorf("AppendPackedID(%q) takes %d bytes, want %d", c.id, len(p), c.size)
		}
		if got, n := UnpackID(p); got != c.id || n != len(p) {
			t.Errorf("UnpackID(AppendPackedID(%q)) = %q, %d; want it back in %d bytes", c.id, got, n, len(p))
		}
	}
}

// Every string packs and unpacks to itself, whatever follows it; distinct
// strings pack to distinct forms, neither the start of the other.
func FuzzPackedID(f *testing.F) {
	for _, s := range []string{"", "plat-1", "7f3c1e2a-0000-4000-8000-000000000123", "7F3C1E2A-0000-4000-8000-000000000123",
		"0123456789abcdef", "\x00", "\x80\x01", strings.Repeat("é", 100)} {
		f.Add(s, "7f3c1e2a-0000-4000-8000-000000000124", []byte("tail"))
	}
	f.Fuzz(func(t *testing.T, a, b string, tail []byte) {
		pa := AppendPackedID([]byte("head"), a)
		if !bytes.HasPrefix(pa, []byte("head")) {
			t.Fatalf("AppendPackedID(head, %q) = %q: dst overwritten", a, pa)
		}
		pa = pa[len("head"):]
		withTail := append(append([]byte(nil), pa...), tail...)
		if n := PackedIDLen(withTail); n != len(pa) {
			t.Fatalf("PackedIDLen(packed %q + %q) = %d, want %d", a, tail, n, len(pa))
		}
		if got, n := UnpackID(withTail); got != a || n != len(pa) {
			t.Fatalf("UnpackID(packed %q + %q) = %q, %d", a, tail, got, n)
		}
		pb := AppendPackedID(nil, b)
		if a != b && (bytes.HasPrefix(pa, pb) || bytes.HasPrefix(pb, pa)) {
			t.Fatalf("%q packs to %x, %q to %x: one starts the other", a, pa, b, pb)
		}
		if a == b && !bytes.Equal(pa, pb) {
			t.Fatalf("%q packs to %x and %x", a, pa, pb)
		}
		// Any bytes: no panic, and what is read is what packs back.
		if id, n := UnpackID(tail); n > 0 {
			if p := AppendPackedID(nil, id); !bytes.Equal(p, tail[:n]) {
				t.Fatalf("UnpackID(%x) = %q in %d bytes, which packs to %x", tail, id, n, p)
			}
		} else if n != 0 || id != "" || PackedIDLen(tail) != 0 {
			t.Fatalf("UnpackID(%x) = %q, %d; PackedIDLen %d", tail, id, n, PackedIDLen(tail))
		}
	})
}
