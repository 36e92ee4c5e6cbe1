package lxcconf

import (
	"errors"
	"fmt"
	"strings"
)

// descriptionKey is the key under which Get, Set, Delete and Keys expose the
// section's description.
const descriptionKey = "description"

// Name returns the section name: "" for the main section, PendingSection for
// the pending section, else the snapshot name.
func (s *Section) Name() string {
	return s.name
}

// Get returns the value of key as PVE reads it (surrounding whitespace
// removed; the last line wins when the key repeats) and whether it is set.
// Get("description") returns Description. Raw LXC keys are read with LXC.
func (s *Section) Get(key string) (string, bool) {
	if key == descriptionKey {
		d := s.Description()
		return d, d != ""
	}
	for i := len(s.lines) - 1; i >= 0; i-- {
		if l := s.lines[i]; l.kind == kindKey && l.key == key {
			return l.value, true
		}
	}
	return "", false
}

// ValidKey reports whether key can be written as a "key: value" line that
// PVE reads back as key: it matches [a-z][a-z_]*[0-9]*.
func ValidKey(key string) bool {
	return reValidKey.MatchString(key)
}

// ValidLXCKey reports whether key can be written as a raw LXC line: it
// matches lxc\.[a-z0-9_.-]+.
func ValidLXCKey(key string) bool {
	return reValidLXCKey.MatchString(key)
}

// Check reports whether Set (for an "lxc." key: AddLXC) accepts
// key and value: the key is valid (see ValidKey and ValidLXCKey), the value
// is on one line (PVE rejects '\r' and '\n': "property contains a line
// feed") and the written line reads back as exactly key and value, which
// rules out leading or trailing whitespace, an empty value for a key that is
// not raw LXC, and "delete" outside the pending section. Any description is
// accepted.
func (s *Section) Check(key, value string) error {
	if key == descriptionKey {
		return nil
	}
	want := kindKey
	switch {
	case strings.HasPrefix(key, "lxc."):
		if !ValidLXCKey(key) {
			return fmt.Errorf("invalid raw LXC key %q", key)
		}
		want = kindLXC
	case !ValidKey(key):
		return fmt.Errorf("invalid key %q", key)
	case key == "delete" && s.name != PendingSection:
		return errors.New("property 'delete' is only allowed in [pve:pending]")
	}
	if strings.ContainsAny(value, "\r\n") {
		return fmt.Errorf("value of %q contains a line feed", key)
	}
	if l := s.newLine(key + ": " + value); l.kind != want || l.key != key || l.value != value {
		return fmt.Errorf("value %q of %q would not read back unchanged", value, key)
	}
	return nil
}

func (s *Section) mustCheck(key, value string) {
	if err := s.Check(key, value); err != nil {
		panic("lxcconf: " + err.Error())
	}
}

// Set sets key to value: the first line of key is rewritten in place (left
// untouched when it already holds value) and any other line of key is
// removed; when key is absent a line is added after the section's last key
// line (before its raw LXC lines if it has no key line yet).
// Set("description", d) is SetDescription(d). Raw LXC keys are set with
// DeleteLXC and AddLXC. Set panics when Check(key, value) returns an error or key starts
// with "lxc.".
func (s *Section) Set(key, value string) {
	if key == descriptionKey {
		s.SetDescription(value)
		return
	}
	if strings.HasPrefix(key, "lxc.") {
		panic("lxcconf: Set of raw LXC key " + quote(key) + ", use DeleteLXC and AddLXC")
	}
	s.mustCheck(key, value)
	if s.replace(kindKey, key, value, key+": "+value) {
		return
	}
	s.insertLine(s.insertIndex(kindKey), s.newLine(key+": "+value))
}

// Delete removes every line of key and reports whether there was one.
// Delete("description") removes the description.
func (s *Section) Delete(key string) bool {
	if key == descriptionKey {
		return s.remove(isDescription) > 0
	}
	return s.remove(func(l *line) bool { return l.kind == kindKey && l.key == key }) > 0
}

// Keys returns the keys set in the section, each once, in the order of
// their first line. Raw LXC keys are not included (see LXC); "description"
// is, where the first description line is, when the description is not
// empty.
func (s *Section) Keys() []string {
	var keys []string
	seen := map[string]bool{}
	hasDescr := s.Description() != ""
	for _, l := range s.lines {
		k := ""
		switch l.kind {
		case kindKey:
			k = l.key
		case kindComment, kindDescr, kindDescrSet:
			if hasDescr {
				k = descriptionKey
			}
		}
		if k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// LXC returns the raw LXC lines of the section in file order.
func (s *Section) LXC() []KV {
	var out []KV
	for _, l := range s.lines {
		if l.kind == kindLXC {
			out = append(out, KV{Key: l.key, Value: l.value})
		}
	}
	return out
}

// AddLXC adds the line "key: value" after the section's last raw LXC line
// (after its last line when it has none). It panics when key does not start
// with "lxc." or Check(key, value) returns an error.
func (s *Section) AddLXC(key, value string) {
	s.mustCheckLXC(key, value)
	s.insertLine(s.insertIndex(kindLXC), s.newLine(key+": "+value))
}

// DeleteLXC removes every raw LXC line of key and returns how many there
// were.
func (s *Section) DeleteLXC(key string) int {
	return s.remove(func(l *line) bool { return l.kind == kindLXC && l.key == key })
}

// Description returns the section's description as PVE reads it: each '#'
// line of the section decoded with DecodeText and followed by "\n" (so a
// description written by PVE ends with a newline), and the decoded text of
// any "description:" line.
func (s *Section) Description() string {
	var b strings.Builder
	set, hasSet := "", false
	for _, l := range s.lines {
		switch l.kind {
		case kindComment:
			b.WriteString(DecodeText(l.text[1:]))
			b.WriteByte('\n')
		case kindDescr:
			b.WriteString(DecodeText(l.value))
		case kindDescrSet:
			set, hasSet = l.value, true
		}
	}
	// PVE keeps what it collected only when it is true for Perl; a
	// whitespace-only "description:" line is then the value, verbatim.
	if d := b.String(); d != "" && d != "0" {
		return d
	}
	if hasSet {
		return set
	}
	return ""
}

func isDescription(l *line) bool {
	return l.kind == kindComment || l.kind == kindDescr || l.kind == kindDescrSet
}

// SetDescription replaces the description. Every '#' line and
// "description:" line of the section is removed (PVE treats them all as the
// description), then d is written as PVE does: split on "\n" (trailing empty
// lines dropped), each line encoded with EncodeText behind a '#', at the top
// of the section. An empty d removes the description.
func (s *Section) SetDescription(d string) {
	s.remove(isDescription)
	parts := strings.Split(d, "\n")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	at := 0
	if len(s.lines) > 0 && s.lines[0].kind == kindHeader {
		at = 1
	}
	for _, p := range parts {
		l := s.newLine("#" + EncodeText(p))
		s.insertLine(at, l)
		at++
	}
}

func (s *Section) mustCheckLXC(key, value string) {
	if !strings.HasPrefix(key, "lxc.") {
		panic("lxcconf: raw LXC key " + quote(key) + " does not start with \"lxc.\"")
	}
	s.mustCheck(key, value)
}

// newLine returns a line of s with text and a "\n" terminator.
func (s *Section) newLine(text string) *line {
	l := &line{text: text, eol: "\n"}
	classify(l, s.name == PendingSection)
	return l
}

// replace makes the first line of kind k and key hold value (rewriting it as
// text only when its value differs) and removes the other lines of that key.
// It reports whether there was such a line.
func (s *Section) replace(k kind, key, value, text string) bool {
	first := -1
	for i, l := range s.lines {
		if l.kind == k && l.key == key {
			first = i
			break
		}
	}
	if first < 0 {
		return false
	}
	if l := s.lines[first]; l.value != value {
		if strings.HasSuffix(l.text, "\r") {
			text += "\r" // Keep a CRLF line ending.
		}
		l.text = text
		classify(l, s.name == PendingSection)
	}
	firstLine := s.lines[first]
	s.remove(func(l *line) bool { return l != firstLine && l.kind == k && l.key == key })
	return true
}

// remove deletes the lines for which drop is true and returns how many. When
// the removed line ended a file that lacked a final newline, the file now
// ends with the newline of the line before.
func (s *Section) remove(drop func(*line) bool) int {
	kept := s.lines[:0]
	n := 0
	for _, l := range s.lines {
		if drop(l) {
			n++
			continue
		}
		kept = append(kept, l)
	}
	clear(s.lines[len(kept):])
	s.lines = kept
	return n
}

// insertIndex returns where a new line of kind k (kindKey or kindLXC) goes:
// after the last line of that kind; failing that, a key goes before the
// first raw LXC line; otherwise after the last non-blank line of the section
// (the header, for an empty snapshot), or at the top of an empty main
// section.
func (s *Section) insertIndex(k kind) int {
	firstLXC := -1
	lastNonBlank := -1
	for i := len(s.lines) - 1; i >= 0; i-- {
		l := s.lines[i]
		if l.kind == k {
			return i + 1
		}
		if l.kind == kindLXC {
			firstLXC = i
		}
		if lastNonBlank < 0 && l.kind != kindBlank {
			lastNonBlank = i
		}
	}
	if k == kindKey && firstLXC >= 0 {
		return firstLXC
	}
	return lastNonBlank + 1
}
