package state

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// timeLayout is how timestamps are stored: UTC, fixed width, so that the text
// sorts as the time does and a nanosecond round-trips.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// nullTime is t as a column value: NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return formatTime(t)
}

// parseTime reads a stored timestamp; "" (NULL) is the zero time. Besides the
// layout dirsync writes, RFC 3339 is accepted, for rows edited by hand.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, ok := parseLayout(s); ok {
		return t, nil
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	return t.UTC(), err
}

// parseLayout is a fast parser for exactly timeLayout, which Snapshot reads three
// times per record. It reports false for anything else.
func parseLayout(s string) (time.Time, bool) {
	// 2006-01-02T15:04:05.000000000Z
	if len(s) != len(timeLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
		s[13] != ':' || s[16] != ':' || s[19] != '.' || s[29] != 'Z' {
		return time.Time{}, false
	}
	ok := true
	num := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				ok = false
				return 0
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec, nsec := num(11, 13), num(14, 16), num(17, 19), num(20, 29)
	if !ok || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // e.g. February 30th: let time.Parse report it
		return time.Time{}, false
	}
	return t, true
}

// marshalJSON encodes v without HTML escaping (the text is read by people in
// the sqlite3 shell, never by a browser), or returns NULL for an empty value.
func marshalJSON[T any](v T, empty bool) (any, error) {
	if empty {
		return nil, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// decodeStrings decodes a JSON array of strings; "" (NULL) is nil. Snapshot runs
// it for every record, so the common case, no escapes, is split by hand: without
// a backslash, every '"' in the text delimits a string.
func decodeStrings(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if strings.HasPrefix(s, `["`) && strings.HasSuffix(s, `"]`) && !strings.ContainsRune(s, '\\') {
		inner := s[2 : len(s)-2]
		if !strings.Contains(inner, `"`) {
			return []string{inner}, nil
		}
		parts := strings.Split(inner, `","`)
		if n := strings.Count(inner, `"`); n == 2*(len(parts)-1) {
			return parts, nil
		}
	}
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		out = nil
	}
	return out, nil
}

// decodeMap decodes a JSON object of strings; "" (NULL) is nil. Like
// decodeStrings, it splits the common case, no escapes, by hand.
func decodeMap(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	if m, ok := splitMap(s); ok {
		return m, nil
	}
	var out map[string]string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		out = nil
	}
	return out, nil
}

// splitMap decodes {"k":"v",...} when the text holds no backslash, so that every
// '"' delimits a string. It reports false for anything else.
func splitMap(s string) (map[string]string, bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' || strings.ContainsRune(s, '\\') {
		return nil, false
	}
	// {"a":"b","c":"d"} splits on '"' into "{", "a", ":", "b", ",", "c", ":", "d", "}".
	parts := strings.Split(s, `"`)
	if len(parts)%4 != 1 || parts[0] != "{" || parts[len(parts)-1] != "}" {
		return nil, false
	}
	m := make(map[string]string, len(parts)/4)
	for i := 1; i+3 < len(parts); i += 4 {
		// The last pair is followed by the "}" checked above.
		if parts[i+1] != ":" || (i+3 < len(parts)-1 && parts[i+3] != ",") {
			return nil, false
		}
		m[parts[i]] = parts[i+2]
	}
	if len(m) == 0 {
		return nil, false
	}
	return m, true
}
