package ldapsource

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/go-ldap/ldap/v3"
)

// This file decodes the LDAP messages of a search (RFC 4511, section 4.5.2)
// straight from the bytes read, for the bulk user search. go-ldap decodes
// every message into a tree of *ber.Packet (a bytes.Buffer, a description
// string and a copy of the value for each element), about 30 KB of garbage
// per user entry (go-asn1-ber/asn1-ber#49), which costs more than reading the
// entry. Here a message is read into a reused buffer and an entry costs a
// handful of allocations: its DN, one string and one []byte holding all its
// values, and the slices pointing into them.
//
// LDAP uses BER with definite lengths only (RFC 4511, section 5.1); anything
// else is rejected as malformed, as is any length beyond maxMessageSize.

// maxMessageSize bounds one LDAP message (and so any length inside one). A
// user entry is a few kilobytes; AD's largest, with a photo and certificates,
// well under a megabyte.
const maxMessageSize = 64 << 20

// errMalformed: the server sent bytes that are not the LDAP message expected.
var errMalformed = errors.New("malformed LDAP message from the server")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// BER identifiers used by the search (RFC 4511, section 4).
const (
	tagBoolean      = 0x01
	tagInteger      = 0x02
	tagOctetString  = 0x04
	tagEnumerated   = 0x0a
	tagSequence     = 0x30
	tagSet          = 0x31
	tagBindResponse = 0x61 // [APPLICATION 1] constructed
	tagEntry        = 0x64 // SearchResultEntry, [APPLICATION 4]
	tagDone         = 0x65 // SearchResultDone, [APPLICATION 5]
	tagReference    = 0x73 // SearchResultReference, [APPLICATION 19]
	tagExtendedResp = 0x78 // ExtendedResponse, [APPLICATION 24]
	tagIntermediate = 0x79 // IntermediateResponse, [APPLICATION 25]
	tagControls     = 0xa0 // [0] constructed, in LDAPMessage
	tagReferral     = 0xa3 // [3] constructed, in LDAPResult
)

// berLength decodes a definite length at the start of b, returning it and
// the number of bytes it took.
func berLength(b []byte) (n, size int, err error) {
	if len(b) == 0 {
		return 0, 0, malformed("truncated length")
	}
	c := b[0]
	if c < 0x80 {
		return int(c), 1, nil
	}
	if c == 0x80 {
		return 0, 0, malformed("indefinite length (not allowed in LDAP)")
	}
	k := int(c & 0x7f)
	if k > 4 {
		return 0, 0, malformed("length of %d bytes", k)
	}
	if len(b) < 1+k {
		return 0, 0, malformed("truncated length")
	}
	var v uint64
	for _, d := range b[1 : 1+k] {
		v = v<<8 | uint64(d)
	}
	if v > maxMessageSize {
		return 0, 0, malformed("length %d exceeds the limit of %d bytes", v, maxMessageSize)
	}
	return int(v), 1 + k, nil
}

// berNext splits the first element off b: its identifier, its contents and
// what follows it.
func berNext(b []byte) (tag byte, content, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, malformed("truncated element")
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, malformed("multi-byte tag %#x", tag)
	}
	n, size, err := berLength(b[1:])
	if err != nil {
		return 0, nil, nil, err
	}
	b = b[1+size:]
	if n > len(b) {
		return 0, nil, nil, malformed("element %#x of %d bytes where %d remain", tag, n, len(b))
	}
	return tag, b[:n], b[n:], nil
}

// berExpect splits the first element off b, which must have identifier want.
func berExpect(b []byte, want byte, what string) (content, rest []byte, err error) {
	tag, content, rest, err := berNext(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if tag != want {
		return nil, nil, malformed("%s: identifier %#x, want %#x", what, tag, want)
	}
	return content, rest, nil
}

// berInt decodes the contents of an INTEGER or ENUMERATED.
func berInt(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 8 {
		return 0, malformed("integer of %d bytes", len(b))
	}
	v := int64(int8(b[0])) // sign-extended
	for _, d := range b[1:] {
		v = v<<8 | int64(d)
	}
	return v, nil
}

// messageReader reads LDAP messages from a stream, one at a time, into a
// buffer it reuses: what next returns is valid until the following call.
type messageReader struct {
	r   *bufio.Reader
	buf []byte
}

// readChunk is the least a message's buffer grows by: the buffer grows as
// the bytes arrive, not by the length the peer declares.
const readChunk = 64 << 10

// next reads the next LDAPMessage and returns its contents (what follows
// the outer SEQUENCE's identifier and length). A stream that ends between
// messages gives io.EOF; one that ends inside a message io.ErrUnexpectedEOF.
func (m *messageReader) next() ([]byte, error) {
	tag, err := m.r.ReadByte()
	if err != nil {
		return nil, err
	}
	if tag != tagSequence {
		return nil, malformed("message identifier %#x, want a SEQUENCE", tag)
	}
	var hdr [5]byte
	if hdr[0], err = m.r.ReadByte(); err != nil {
		return nil, noEOF(err)
	}
	size := 1
	if hdr[0] > 0x80 && hdr[0] <= 0x84 {
		size += int(hdr[0] & 0x7f)
		if _, err := io.ReadFull(m.r, hdr[1:size]); err != nil {
			return nil, noEOF(err)
		}
	}
	n, _, err := berLength(hdr[:size])
	if err != nil {
		return nil, err
	}
	m.buf = m.buf[:0]
	for len(m.buf) < n {
		// Grow by what has arrived so far (at least readChunk): a declared
		// length costs at most twice the bytes actually sent.
		k := min(n-len(m.buf), max(readChunk, len(m.buf)))
		m.buf = slices.Grow(m.buf, k)
		start := len(m.buf)
		m.buf = m.buf[:start+k]
		if _, err := io.ReadFull(m.r, m.buf[start:]); err != nil {
			return nil, noEOF(err)
		}
	}
	return m.buf, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ldapMessage is an LDAPMessage split into its parts; op and controls are
// contents (without identifier and length) and point into the read buffer.
type ldapMessage struct {
	id       int64
	opTag    byte
	op       []byte
	controls []byte // nil when the message has none
}

// parseMessage splits the contents of an LDAPMessage.
func parseMessage(b []byte) (ldapMessage, error) {
	var m ldapMessage
	idBytes, b, err := berExpect(b, tagInteger, "message ID")
	if err != nil {
		return m, err
	}
	if m.id, err = berInt(idBytes); err != nil {
		return m, err
	}
	if m.opTag, m.op, b, err = berNext(b); err != nil {
		return m, fmt.Errorf("protocol operation: %w", err)
	}
	if len(b) > 0 {
		tag, controls, _, err := berNext(b)
		if err != nil {
			return m, fmt.Errorf("controls: %w", err)
		}
		if tag == tagControls {
			m.controls = controls
		}
	}
	return m, nil
}

// ldapResult is an LDAPResult (RFC 4511, section 4.1.9).
type ldapResult struct {
	code       uint16
	matchedDN  string
	diagnostic string
}

// parseResult decodes the contents of an LDAPResult.
func parseResult(b []byte) (ldapResult, error) {
	var r ldapResult
	code, b, err := berExpect(b, tagEnumerated, "result code")
	if err != nil {
		return r, err
	}
	c, err := berInt(code)
	if err != nil {
		return r, err
	}
	if c < 0 || c > 0xffff {
		return r, malformed("result code %d out of range", c)
	}
	r.code = uint16(c)
	matched, b, err := berExpect(b, tagOctetString, "matched DN")
	if err != nil {
		return r, err
	}
	diag, _, err := berExpect(b, tagOctetString, "diagnostic message")
	if err != nil {
		return r, err
	}
	r.matchedDN, r.diagnostic = string(matched), string(diag)
	return r, nil
}

// err is the result as go-ldap reports it: nil for success, else an
// *ldap.Error, so that ldap.IsErrorWithCode works on it.
func (r ldapResult) err() error {
	if r.code == ldap.LDAPResultSuccess {
		return nil
	}
	return &ldap.Error{ResultCode: r.code, MatchedDN: r.matchedDN, Err: errors.New(r.diagnostic)}
}

// parseReference decodes the contents of a SearchResultReference: its URIs.
func parseReference(b []byte) ([]string, error) {
	var uris []string
	for len(b) > 0 {
		uri, rest, err := berExpect(b, tagOctetString, "reference URI")
		if err != nil {
			return nil, err
		}
		uris = append(uris, string(uri))
		b = rest
	}
	if len(uris) == 0 {
		return nil, malformed("search reference without a URI")
	}
	return uris, nil
}

// pagingCookie finds the paged results control (RFC 2696) among the
// contents of a message's controls and returns its cookie; found is false
// when the control is absent.
func pagingCookie(b []byte) (cookie []byte, found bool, err error) {
	for len(b) > 0 {
		c, rest, err := berExpect(b, tagSequence, "control")
		if err != nil {
			return nil, false, err
		}
		b = rest
		oid, c, err := berExpect(c, tagOctetString, "control type")
		if err != nil {
			return nil, false, err
		}
		if string(oid) != ldap.ControlTypePaging {
			continue
		}
		if len(c) > 0 && c[0] == tagBoolean { // criticality
			if _, _, c, err = berNext(c); err != nil {
				return nil, false, err
			}
		}
		value, _, err := berExpect(c, tagOctetString, "paging control value")
		if err != nil {
			return nil, false, err
		}
		seq, _, err := berExpect(value, tagSequence, "paging control value")
		if err != nil {
			return nil, false, err
		}
		size, seq, err := berExpect(seq, tagInteger, "paging control size")
		if err != nil {
			return nil, false, err
		}
		if _, err := berInt(size); err != nil {
			return nil, false, err
		}
		cookie, _, err := berExpect(seq, tagOctetString, "paging control cookie")
		if err != nil {
			return nil, false, err
		}
		return slices.Clone(cookie), true, nil
	}
	return nil, false, nil
}

// maxInternedNames bounds attributeNames: a server sends the same few names
// in every entry, and a misbehaving one must not grow the cache forever.
const maxInternedNames = 1024

// entryDecoder decodes SearchResultEntry messages into *ldap.Entry values
// equal (reflect.DeepEqual) to those go-ldap returns for the same bytes.
type entryDecoder struct {
	// names holds the attribute names seen so far, so that each entry
	// shares them instead of allocating its own.
	names map[string]string
	// last holds the previous entry's attribute names by position: a
	// server sends them in the same order for every entry, so comparing
	// with it finds a name without hashing it.
	last []string
}

// name returns the attribute name b, the i-th of its entry.
func (d *entryDecoder) name(i int, b []byte) string {
	if i < len(d.last) && d.last[i] == string(b) { // no allocation
		return d.last[i]
	}
	s, ok := d.names[string(b)] // no allocation for the lookup
	if !ok {
		s = string(b)
		if d.names == nil {
			d.names = make(map[string]string)
		}
		if len(d.names) < maxInternedNames {
			d.names[s] = s
		}
	}
	if i < len(d.last) {
		d.last[i] = s
	} else if i == len(d.last) && i < maxInternedNames {
		d.last = append(d.last, s)
	}
	return s
}

// decode decodes the contents of a SearchResultEntry. The entry does not
// point into b. All the entry's ByteValues share one []byte, each
// attribute's slices capped so that appending to one cannot overwrite
// another's. Each of Values is a string of its own, as with go-ldap: a
// value kept (an ID, a username) keeps only itself in memory, not the
// whole entry.
func (d *entryDecoder) decode(b []byte) (*ldap.Entry, error) {
	dn, b, err := berExpect(b, tagOctetString, "entry DN")
	if err != nil {
		return nil, err
	}
	attrList, _, err := berExpect(b, tagSequence, "entry attributes")
	if err != nil {
		return nil, err
	}
	// First pass: validate and count.
	nAttrs, nValues, size := 0, 0, 0
	for rest := attrList; len(rest) > 0; {
		attr, r, err := berExpect(rest, tagSequence, "attribute")
		if err != nil {
			return nil, err
		}
		rest = r
		_, attr, err = berExpect(attr, tagOctetString, "attribute type")
		if err != nil {
			return nil, err
		}
		vals, _, err := berExpect(attr, tagSet, "attribute values")
		if err != nil {
			return nil, err
		}
		for len(vals) > 0 {
			v, r, err := berExpect(vals, tagOctetString, "attribute value")
			if err != nil {
				return nil, err
			}
			vals = r
			nValues++
			size += len(v)
		}
		nAttrs++
	}

	// Second pass: fill. Nothing can fail any more.
	blob := make([]byte, size)
	attrs := make([]ldap.EntryAttribute, nAttrs)
	ptrs := make([]*ldap.EntryAttribute, nAttrs)
	values := make([]string, nValues)
	byteValues := make([][]byte, nValues)
	off, vi := 0, 0
	for i, rest := 0, attrList; len(rest) > 0; i++ {
		attr, r, _ := berExpect(rest, tagSequence, "")
		rest = r
		name, attr, _ := berExpect(attr, tagOctetString, "")
		vals, _, _ := berExpect(attr, tagSet, "")
		first := vi
		for len(vals) > 0 {
			v, r, _ := berExpect(vals, tagOctetString, "")
			vals = r
			end := off + copy(blob[off:], v)
			byteValues[vi] = blob[off:end:end]
			values[vi] = string(v)
			off = end
			vi++
		}
		a := &attrs[i]
		a.Name = d.name(i, name)
		a.Values = values[first:vi:vi]
		a.ByteValues = byteValues[first:vi:vi]
		ptrs[i] = a
	}
	return &ldap.Entry{DN: string(dn), Attributes: ptrs}, nil
}

// searchResponse is one decoded response to a search request.
type searchResponse struct {
	entry      *ldap.Entry // tagEntry
	references []string    // tagReference
	done       bool        // tagDone: result and cookie are set
	result     ldapResult
	cookie     []byte
	hasPaging  bool // the done message carried a paging control
}

// decodeSearchResponse decodes one message of a search's responses: an
// entry, a reference, the final result or an intermediate response (which a
// search that asked for none has no use for: it is skipped, as go-ldap's
// caller does). wantID is the search's message ID.
func (d *entryDecoder) decodeSearchResponse(b []byte, wantID int64) (searchResponse, error) {
	var r searchResponse
	m, err := parseMessage(b)
	if err != nil {
		return r, err
	}
	if m.id == 0 && m.opTag == tagExtendedResp {
		// An unsolicited notification (RFC 4511, section 4.4): in practice
		// the Notice of Disconnection; the server closes the connection.
		res, err := parseResult(m.op)
		if err != nil {
			return r, err
		}
		return r, fmt.Errorf("%w: the server sent a notice of disconnection (result code %d: %q)", errConnectionLost, res.code, res.diagnostic)
	}
	if m.id != wantID {
		return r, malformed("response to message %d, want %d", m.id, wantID)
	}
	switch m.opTag {
	case tagEntry:
		r.entry, err = d.decode(m.op)
		return r, err
	case tagReference:
		r.references, err = parseReference(m.op)
		return r, err
	case tagDone:
		if r.result, err = parseResult(m.op); err != nil {
			return r, err
		}
		r.done = true
		r.cookie, r.hasPaging, err = pagingCookie(m.controls)
		return r, err
	case tagIntermediate:
		return r, nil
	default:
		return r, malformed("unexpected response %#x to a search", m.opTag)
	}
}
