package rest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// get returns the value at a dotted path ("ResponseStatus.ErrorCode",
// "Results.0.UserId") in a decoded JSON value; "" is v itself. A key holding
// dots ("@odata.nextLink") is found too: at each object the longest run of
// path parts naming a key is taken.
func get(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	parts := strings.Split(path, ".")
	for i := 0; i < len(parts); i++ {
		part := parts[i]
		switch vv := v.(type) {
		case map[string]any:
			var e any
			ok := false
			for j := len(parts); j > i && !ok; j-- {
				if e, ok = lookupKey(vv, strings.Join(parts[i:j], ".")); ok {
					i = j - 1
				}
			}
			if !ok {
				return nil, false
			}
			v = e
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(vv) {
				return nil, false
			}
			v = vv[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// lookupKey finds key in m, in any case: platforms differ in case.
func lookupKey(m map[string]any, key string) (any, bool) {
	if e, ok := m[key]; ok {
		return e, true
	}
	for k, x := range m {
		if strings.EqualFold(k, key) {
			return x, true
		}
	}
	return nil, false
}

// text formats a JSON scalar as text: "" for null and absent values.
func text(v any, ok bool) string {
	if !ok || v == nil {
		return ""
	}
	switch vv := v.(type) {
	case string:
		return vv
	case json.Number:
		return vv.String()
	case bool:
		return strconv.FormatBool(vv)
	case map[string]any, []any:
		b, _ := json.Marshal(vv)
		return string(b)
	}
	return fmt.Sprint(v)
}

// present reports whether an error code holds a value: not null, "", 0 or false.
func present(v any, ok bool) bool {
	switch t := text(v, ok); t {
	case "", "0", "false":
		return false
	}
	return true
}

func decodeJSON(b []byte) (any, error) {
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
