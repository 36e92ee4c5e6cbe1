package pve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// FlexInt is an integer that PVE sends either as a JSON number or as a
// string ("100"); null and "" decode as 0.
type FlexInt int64

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		fl, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return fmt.Errorf("not an integer: %s", b)
		}
		n = int64(fl)
	}
	*f = FlexInt(n)
	return nil
}

// FlexBool is a boolean that PVE sends as 0/1, "0"/"1" or true/false.
type FlexBool bool

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexBool) UnmarshalJSON(b []byte) error {
	s := strings.ToLower(string(bytes.Trim(b, `"`)))
	switch s {
	case "", "null", "0", "false", "no", "off":
		*f = false
	case "1", "true", "yes", "on":
		*f = true
	default:
		return fmt.Errorf("not a boolean: %s", b)
	}
	return nil
}

// configValue renders one value of a PVE config answer as the string PVE
// would write in the config file.
func configValue(raw json.RawMessage) (string, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", false, err
	}
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return x, true, nil
	case json.Number:
		return x.String(), true, nil
	case bool:
		if x {
			return "1", true, nil
		}
		return "0", true, nil
	default:
		return string(raw), true, nil
	}
}
