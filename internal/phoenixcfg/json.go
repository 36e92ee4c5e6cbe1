package phoenixcfg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// maxProblems bounds the problems reported at once.
const maxProblems = 25

// parser collects the problems found in a document. Each problem starts
// with the JSON path it is about, e.g. lxc_configs["950"].memory_mb.
type parser struct {
	problems []string
}

func (p *parser) fail(at, format string, args ...any) {
	p.problems = append(p.problems, at+": "+fmt.Sprintf(format, args...))
}

// err returns the problems one a line, at most maxProblems of them; nil
// when there is none.
func (p *parser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	shown := p.problems
	more := ""
	if len(shown) > maxProblems {
		more = fmt.Sprintf("\n... and %d more problems", len(shown)-maxProblems)
		shown = shown[:maxProblems]
	}
	return errors.New(strings.Join(shown, "\n") + more)
}

// member is one member of a JSON object, in document order.
type member struct {
	key string
	raw json.RawMessage
}

// jsonKind names the JSON type of a syntactically valid value.
func jsonKind(raw json.RawMessage) string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// compactJSON returns raw on one line, keys in document order.
func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(bytes.TrimSpace(raw))
	}
	return b.String()
}

// jsonString encodes s as a JSON string, leaving <, > and & as they are.
func jsonString(s string) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // A string always encodes.
	return bytes.TrimSpace(b.Bytes())
}

// shortJSON is compactJSON cut to a length fit for an error message.
func shortJSON(raw json.RawMessage) string {
	s := compactJSON(raw)
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// syntaxError describes invalid JSON by line and column.
func syntaxError(doc []byte) error {
	var v any
	err := json.Unmarshal(doc, &v)
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := lineColumn(doc, syn.Offset)
		return fmt.Errorf("invalid JSON at line %d, column %d: %s", line, col, syn.Error())
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

// lineColumn returns the 1-based line and column of the byte a
// json.SyntaxError stopped at (its Offset counts the bytes read, that byte
// included).
func lineColumn(doc []byte, offset int64) (int, int) {
	at := int(min(max(offset-1, 0), int64(len(doc))))
	before := doc[:at]
	line := bytes.Count(before, []byte("\n")) + 1
	col := at - bytes.LastIndexByte(before, '\n')
	return line, col
}

// require reports each of keys that the object at at lacks among its
// members.
func (p *parser) require(at string, members []member, keys ...string) {
	for _, key := range keys {
		if !slices.ContainsFunc(members, func(m member) bool { return m.key == key }) {
			p.fail(at+"."+key, "required field is missing")
		}
	}
}

// object decodes a JSON object keeping the order of its members. It reports
// a non-object value or a duplicate key and returns ok false.
func (p *parser) object(at string, raw json.RawMessage) ([]member, bool) {
	if k := jsonKind(raw); k != "object" {
		p.fail(at, "expected an object, got %s", shortJSON(raw))
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		p.fail(at, "%v", err)
		return nil, false
	}
	var members []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			p.fail(at, "%v", err)
			return nil, false
		}
		key, isString := tok.(string)
		if !isString {
			p.fail(at, "unexpected %v", tok)
			return nil, false
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			p.fail(at, "%v", err)
			return nil, false
		}
		if seen[key] {
			p.fail(at, "duplicate key %q", key)
			return nil, false
		}
		seen[key] = true
		members = append(members, member{key: key, raw: value})
	}
	return members, true
}

func (p *parser) array(at string, raw json.RawMessage) ([]json.RawMessage, bool) {
	if jsonKind(raw) != "array" {
		p.fail(at, "expected an array, got %s", shortJSON(raw))
		return nil, false
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		p.fail(at, "%v", err)
		return nil, false
	}
	return items, true
}

func (p *parser) str(at string, raw json.RawMessage) (string, bool) {
	if jsonKind(raw) != "string" {
		p.fail(at, "expected a string, got %s", shortJSON(raw))
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.fail(at, "%v", err)
		return "", false
	}
	return s, true
}

// nonEmpty is str with the schema's minLength 1.
func (p *parser) nonEmpty(at string, raw json.RawMessage) (string, bool) {
	s, ok := p.str(at, raw)
	if ok && s == "" {
		p.fail(at, "must not be empty")
		return "", false
	}
	return s, ok
}

// boolean reads a JSON boolean (not a Proxmox VE spelling: the document's
// schema types these fields as booleans).
func (p *parser) boolean(at string, raw json.RawMessage) (bool, bool) {
	if jsonKind(raw) != "boolean" {
		p.fail(at, "expected a boolean, got %s", shortJSON(raw))
		return false, false
	}
	return bytes.HasPrefix(bytes.TrimSpace(raw), []byte("true")), true
}

// integer accepts an integral JSON number within [lo, hi].
func (p *parser) integer(at string, raw json.RawMessage, lo, hi int64) (int64, bool) {
	if jsonKind(raw) != "number" {
		p.fail(at, "expected an integer, got %s", shortJSON(raw))
		return 0, false
	}
	text := string(bytes.TrimSpace(raw))
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(text, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			p.fail(at, "expected an integer, got %s", text)
			return 0, false
		}
		n = int64(f)
	}
	if n < lo || n > hi {
		if hi == math.MaxInt64 {
			p.fail(at, "must be at least %d, got %d", lo, n)
		} else {
			p.fail(at, "must be between %d and %d, got %d", lo, hi, n)
		}
		return 0, false
	}
	return n, true
}

// stringList decodes an array of strings; element errors name the index.
// It returns nil after a problem.
func (p *parser) stringList(at string, raw json.RawMessage) []string {
	items, ok := p.array(at, raw)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		s, ok := p.str(fmt.Sprintf("%s[%d]", at, i), item)
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	return out
}

// check verifies the JSON type of a field that reaches no argument; kind is
// one of the values of unmappedKinds.
func (p *parser) check(at, kind string, raw json.RawMessage) {
	switch kind {
	case "string", "boolean", "object", "array":
		if jsonKind(raw) != kind {
			article := "a"
			if kind == "array" || kind == "object" {
				article = "an"
			}
			p.fail(at, "expected %s %s, got %s", article, kind, shortJSON(raw))
		}
	case "string|null":
		if k := jsonKind(raw); k != "string" && k != "null" {
			p.fail(at, "expected a string or null, got %s", shortJSON(raw))
		}
	case "integer":
		p.integer(at, raw, math.MinInt64, math.MaxInt64)
	case "number":
		if jsonKind(raw) != "number" {
			p.fail(at, "expected a number, got %s", shortJSON(raw))
		}
	case "array<string>":
		p.stringList(at, raw)
	case "array<object>":
		if items, ok := p.array(at, raw); ok {
			for i, item := range items {
				if jsonKind(item) != "object" {
					p.fail(fmt.Sprintf("%s[%d]", at, i), "expected an object, got %s", shortJSON(item))
				}
			}
		}
	}
}
