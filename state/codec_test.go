package state

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestDecodeStrings_MatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`["a"]`, `["a","b"]`, `["a,b","c"]`, `["", ""]`, `["",""]`, `[]`, `["a", "b"]`,
		`["x\"y","z"]`, `["\u00e9"]`, `["a","b","c"]`, `[ "a" ]`, `["a",`, `["a"]x`,
	} {
		var want []string
		werr := json.Unmarshal([]byte(in), &want)
		if len(want) == 0 {
			want = nil
		}
		got, err := decodeStrings(in)
		if (err != nil) != (werr != nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeStrings(%s) = %q, %v; encoding/json: %q, %v", in, got, err, want, werr)
		}
	}
}

func TestDecodeMap_MatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"a":"b"}`, `{"a":"b","c":"d"}`, `{"a":"b,c","d":":"}`, `{}`, `{"a": "b"}`,
		`{"a":"b" , "c":"d"}`, `{"a\"":"b"}`, `{"a":"b","a":"c"}`, `{"a":1}`, `{"a":"b"`, `{"":""}`,
	} {
		var want map[string]string
		werr := json.Unmarshal([]byte(in), &want)
		if len(want) == 0 {
			want = nil
		}
		got, err := decodeMap(in)
		if (err != nil) != (werr != nil) || (werr == nil && !reflect.DeepEqual(got, want)) {
			t.Errorf("decodeMap(%s) = %q, %v; encoding/json: %q, %v", in, got, err, want, werr)
		}
	}
}

func TestParseTime_RoundTripsAndAcceptsRFC3339(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2025, 2, 28, 23, 59, 59, 999999999, time.UTC),
		time.Date(1999, 12, 31, 0, 0, 0, 1, time.FixedZone("X", -5*3600)),
	} {
		got, err := parseTime(formatTime(tm))
		if err != nil || !got.Equal(tm) || got.Location() != time.UTC {
			t.Errorf("round trip of %v = %v, %v", tm, got, err)
		}
	}
	if got, err := parseTime("2025-03-01T10:00:00+01:00"); err != nil || !got.Equal(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("RFC 3339 = %v, %v", got, err)
	}
	for _, bad := range []string{"2025-02-30T00:00:00.000000000Z", "2025-13-01T00:00:00.000000000Z", "yesterday"} {
		if _, err := parseTime(bad); err == nil {
			t.Errorf("parseTime(%q): no error", bad)
		}
	}
}
