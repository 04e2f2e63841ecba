package rest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// get returns the value at a dotted path ("ResponseStatus.ErrorCode",
// "Results.0.UserId") in a decoded JSON value; "" is v itself.
func get(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	for _, part := range strings.Split(path, ".") {
		switch vv := v.(type) {
		case map[string]any:
			e, ok := vv[part]
			if !ok {
				// Platforms differ in case; accept any.
				for k, x := range vv {
					if strings.EqualFold(k, part) {
						e, ok = x, true
						break
					}
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
