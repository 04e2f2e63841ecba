package user

import (
	"encoding/binary"
	"math/bits"
)

// Packed IDs: the compact form in which a reconciler holds directory and
// platform IDs in memory. Most directories identify entries by UUID
// (entryUUID, objectGUID) and many platforms their accounts too, so a
// canonical lowercase UUID (8-4-4-4-12 lowercase hex digits) packs into a
// tag byte and its 16 bytes; any other string packs raw, after its length.
// Packing is one-to-one and the packed forms are self-delimiting: two packed
// IDs hold the same bytes exactly when the IDs are the same, and neither
// starts the other, so packed IDs compare as the IDs do.

// packedUUID starts a packed UUID. Any other packed ID starts with its
// length + 1 as a uvarint, whose first byte is never 0.
const packedUUID = 0

// uuidDigits are where each byte of a canonical UUID's 16 starts in its text.
var uuidDigits = [16]uint8{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

const hexDigits = "0123456789abcdef"

// AppendPackedID appends id's packed form to dst: 17 bytes for a canonical
// lowercase UUID, its length and its bytes for any other.
func AppendPackedID(dst []byte, id string) []byte {
	if u, ok := parseUUID(id); ok {
		return append(append(dst, packedUUID), u[:]...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(id))+1)
	return append(dst, id...)
}

// PackedIDLen returns the length of the packed ID b starts with, or 0 when
// b starts with none (it is cut short, or not a form AppendPackedID makes).
func PackedIDLen(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	if b[0] == packedUUID {
		if len(b) < 17 {
			return 0
		}
		return 17
	}
	v, k := binary.Uvarint(b)
	if k <= 0 || k != (bits.Len64(v)+6)/7 || v-1 > uint64(len(b)-k) {
		return 0 // no uvarint, a longer one than needed, or cut short
	}
	if raw := b[k : k+int(v-1)]; isCanonicalUUID(raw) {
		return 0 // a UUID packs as one
	}
	return k + int(v-1)
}

// UnpackID returns the ID whose packed form b starts with and the length of
// that form, or "" and 0 when b starts with none (see PackedIDLen).
func UnpackID(b []byte) (id string, n int) {
	n = PackedIDLen(b)
	switch {
	case n == 0:
		return "", 0
	case b[0] == packedUUID:
		var text [36]byte
		for i, at := range uuidDigits {
			text[at], text[at+1] = hexDigits[b[1+i]>>4], hexDigits[b[1+i]&0xf]
		}
		text[8], text[13], text[18], text[23] = '-', '-', '-', '-'
		return string(text[:]), n
	default:
		_, k := binary.Uvarint(b)
		return string(b[k:n]), n
	}
}

// isCanonicalUUID reports whether s is a UUID in canonical form, its hex
// digits lowercase.
func isCanonicalUUID[T string | []byte](s T) bool {
	_, ok := parseUUID(s)
	return ok
}

// parseUUID returns the 16 bytes of s, a UUID in canonical form, its hex
// digits lowercase; ok is false when s is not one.
func parseUUID[T string | []byte](s T) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	var bad byte
	for i, at := range uuidDigits {
		hi, lo := unhex[s[at]], unhex[s[at+1]]
		bad |= hi | lo
		u[i] = hi<<4 | lo
	}
	return u, bad < 16
}

// unhex holds each lowercase hex digit's value, and 0xff for any other
// byte.
var unhex = func() (t [256]byte) {
	for c := range t {
		t[c] = 0xff
	}
	for v, c := range []byte(hexDigits) {
		t[c] = byte(v)
	}
	return t
}()
