package ldapsource

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"runtime"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// FuzzDecodeSearchResponses feeds arbitrary bytes to the wire reader as the
// stream of a search's responses. It must never panic or hang, must stop at
// the first error, and every entry it accepts must be the entry go-ldap's
// decoding (go-asn1-ber's packet tree, read the way go-ldap reads it) gives
// for the same message. The seed corpus is in testdata/fuzz.
func FuzzDecodeSearchResponses(f *testing.F) {
	for _, seed := range wireSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := messageReader{r: bufio.NewReaderSize(bytes.NewReader(data), 64)}
		var d entryDecoder
		for {
			b, err := r.next()
			if err != nil {
				return
			}
			resp, err := d.decodeSearchResponse(b, 1)
			if err != nil {
				return
			}
			if resp.entry != nil {
				if want, ok := goLDAPEntry(b); ok && !reflect.DeepEqual(resp.entry, want) {
					t.Fatalf("entry differs from go-ldap's:\n got %s\nwant %s", describe(resp.entry), describe(want))
				}
			}
		}
	})
}

// goLDAPEntry decodes the contents of an LDAPMessage holding a
// SearchResultEntry as go-ldap does (ber.ReadPacket, then go-ldap's
// unpackAttributes). ok is false when go-ldap would not accept it.
func goLDAPEntry(body []byte) (*ldap.Entry, bool) {
	full := append([]byte{tagSequence}, encodeLength(len(body))...)
	p, err := ber.DecodePacketErr(append(full, body...))
	if err != nil || len(p.Children) < 2 {
		return nil, false
	}
	op := p.Children[1]
	if len(op.Children) < 2 {
		return nil, false
	}
	dn, ok := op.Children[0].Value.(string)
	if !ok {
		return nil, false
	}
	e := &ldap.Entry{DN: dn, Attributes: make([]*ldap.EntryAttribute, 0, len(op.Children[1].Children))}
	for _, a := range op.Children[1].Children {
		if len(a.Children) < 2 {
			return nil, false
		}
		name, ok := a.Children[0].Value.(string)
		if !ok {
			return nil, false
		}
		vals := a.Children[1].Children
		ea := &ldap.EntryAttribute{Name: name, Values: make([]string, len(vals)), ByteValues: make([][]byte, len(vals))}
		for i, v := range vals {
			s, ok := v.Value.(string)
			if !ok {
				return nil, false
			}
			ea.Values[i], ea.ByteValues[i] = s, v.ByteValue
		}
		e.Attributes = append(e.Attributes, ea)
	}
	return e, true
}

func encodeLength(n int) []byte {
	if n < 0x80 {
		return []byte{byte(n)}
	}
	return []byte{0x84, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}

// wireSeeds are real search responses (as go-asn1-ber encodes them, like a
// server would) plus edge cases: the fuzzer's starting points.
func wireSeeds() [][]byte {
	str := func(s string) *ber.Packet {
		return ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, s, "")
	}
	entry := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "")
	entry.AppendChild(str("uid=jdoe,ou=people,dc=example,dc=com"))
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	for _, a := range []struct {
		name string
		vals []string
	}{
		{"uid", []string{"jdoe"}},
		{"mail", []string{"jdoe@example.com", "john@example.com"}},
		{"objectGUID", []string{"\xe0\x04\x25\x3f\x89\x4f\xd3\x11\x9a\x0c\x03\x05\xe8\x2c\x33\x01"}},
		{"displayName", []string{"Zoë 日本"}},
		{"description", []string{""}},
		{"memberOf", nil},
	} {
		attr := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		attr.AppendChild(str(a.name))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "")
		for _, v := range a.vals {
			set.AppendChild(str(v))
		}
		attr.AppendChild(set)
		list.AppendChild(attr)
	}
	entry.AppendChild(list)
	paging := ldap.NewControlPaging(500)
	paging.SetCookie([]byte{0x01, 0x02, 0x03})
	ref := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultReference, nil, "")
	ref.AppendChild(str("ldap://corp.example.com/CN=Configuration,DC=corp,DC=example,DC=com"))
	notice := ldapResultOp(ldap.ApplicationExtendedResponse, ldap.LDAPResultUnavailable, "bye")

	e := message(1, entry)
	stream := append(append(append(bytes.Clone(e), message(1, ref)...), message(1, ldapResultOp(ldap.ApplicationSearchResultDone, 0, ""), paging)...), e...)
	return [][]byte{
		e,
		stream,
		message(1, ldapResultOp(ldap.ApplicationSearchResultDone, ldap.LDAPResultSizeLimitExceeded, "size limit"), paging),
		message(1, ldapResultOp(ldap.ApplicationSearchResultDone, 0, "")),
		message(0, notice),
		e[:len(e)/2],
		{0x30, 0x84, 0x03, 0xff, 0xff, 0xff, 0x02},
		{0x30, 0x80, 0x00, 0x00},
		{},
	}
}

func TestEntryDecoder_FewAllocationsPerEntry(t *testing.T) {
	b := wireSeeds()[0]
	r := messageReader{r: bufio.NewReader(bytes.NewReader(b))}
	body, err := r.next()
	if err != nil {
		t.Fatal(err)
	}
	var d entryDecoder
	if _, err := d.decodeSearchResponse(body, 1); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.decodeSearchResponse(body, 1); err != nil {
			t.Fatal(err)
		}
	})
	// The entry, its DN, its values' []byte, four slices, and a string for
	// each of its 5 non-empty values.
	if allocs > 12 {
		t.Errorf("decoding an entry of 6 attributes, 5 non-empty values, took %v allocations, want at most 12", allocs)
	}
}

func TestMessageReader_DeclaredLengthCostsMemoryOnlyAsBytesArrive(t *testing.T) {
	// A message declaring 60 MiB, of which 100 bytes come.
	data := append([]byte{0x30, 0x84, 0x03, 0xc0, 0x00, 0x00}, make([]byte, 100)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := messageReader{r: bufio.NewReader(bytes.NewReader(data))}
	_, err := r.next()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("next = %v, want io.ErrUnexpectedEOF", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("reading a truncated 60 MiB message allocated %d bytes", n)
	}

	// Over the limit: refused before reading on.
	r = messageReader{r: bufio.NewReader(bytes.NewReader([]byte{0x30, 0x84, 0x04, 0x00, 0x00, 0x01}))}
	if _, err := r.next(); !errors.Is(err, errMalformed) {
		t.Fatalf("next = %v, want the message refused as over the limit", err)
	}
}
