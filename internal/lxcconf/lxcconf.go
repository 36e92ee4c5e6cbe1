package lxcconf

import (
	"bytes"
	"crypto/sha1" // PVE defines its config digest as SHA-1.
	"encoding/hex"
	"regexp"
	"strings"
)

// PendingSection is the name of the section holding pending changes.
const PendingSection = "pve:pending"

// KV is one raw LXC line: Key is the full key ("lxc.mount.entry") and Value
// the value as PVE reads it (surrounding whitespace removed).
type KV struct {
	Key, Value string
}

// Config is a parsed PVE container config file. The zero value is an empty
// file. A Config is not safe for concurrent use.
type Config struct {
	// sections[0] is the main section; the others follow in file order.
	sections []*Section
}

// Section is one section of a config file: the main section, a snapshot or
// the pending section. It stays valid while the Config is edited; after
// DeleteSection removed it, editing it no longer affects the Config.
type Section struct {
	name  string
	lines []*line
}

type kind uint8

const (
	kindBlank    kind = iota // Only whitespace.
	kindComment              // '#' line, a description line.
	kindDescr                // "description: text", appended to the description.
	kindDescrSet             // "description: " and only whitespace: sets it.
	kindHeader               // "[name]".
	kindKey                  // "key: value".
	kindLXC                  // "lxc.key: value" or "lxc.key = value".
	kindOther                // Anything PVE cannot parse.
)

// line is one line of the file: text without its terminator, eol is "\n" or
// "" (only possible for the last line of the file).
type line struct {
	text  string
	eol   string
	kind  kind
	key   string // Section name for headers, key for key and lxc lines.
	value string // Value as PVE reads it.
}

// Perl's \s on byte strings is [\t\n\x0B\f\r ]; Go's \s lacks \x0B.
const (
	ws    = `[\t\n\x0B\f\r ]`
	nonWS = `[^\t\n\x0B\f\r ]`
)

var (
	// The less frequent expressions of parse_pct_config (the key and raw
	// LXC ones are matched by hand in matchKey and matchLXC). Perl's /i is
	// spelled out: Go's case folding would also match 'K' (U+212A) and 'ſ'
	// (U+017F), which Perl does not on byte strings.
	rePending   = regexp.MustCompile(`^\[[pP][vV][eE]:[pP][eE][nN][dD][iI][nN][gG]\]` + ws + `*$`)
	reHeader    = regexp.MustCompile(`^\[([a-zA-Z][a-zA-Z0-9_\-]+)\]` + ws + `*$`)
	reDescr     = regexp.MustCompile(`^(description):` + ws + `*(.*` + nonWS + `)` + ws + `*$`)
	reSnapstate = regexp.MustCompile(`snapstate:` + ws + `*(prepare|delete)` + ws + `*$`)
	reDelete    = regexp.MustCompile(`^delete:` + ws + `*(.*` + nonWS + `)` + ws + `*$`)

	reValidKey     = regexp.MustCompile(`^[a-z][a-z_]*[0-9]*$`)
	reValidLXCKey  = regexp.MustCompile(`^lxc\.[a-z0-9_\-\.]+$`)
	reValidSection = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_\-]+$`)
)

// classify fills in kind, key and value of l from its text, the way
// parse_pct_config reads a line; pending tells whether the line is in the
// pending section (the only one where PVE reads "delete"). The cheap tests in
// front of the expressions only skip an expression that cannot match.
func classify(l *line, pending bool) {
	t := l.text
	l.kind, l.key, l.value = kindOther, "", ""
	if isBlank(t) {
		l.kind = kindBlank
		return
	}
	if strings.HasPrefix(t, "[") {
		if rePending.MatchString(t) {
			l.kind, l.key = kindHeader, PendingSection
			return
		}
		if m := reHeader.FindStringSubmatch(t); m != nil {
			l.kind, l.key = kindHeader, m[1]
			return
		}
	}
	if strings.HasPrefix(t, "#") {
		l.kind = kindComment
		return
	}
	if key, value, ok := matchLXC(t); ok {
		l.kind, l.key, l.value = kindLXC, key, value
		return
	}
	if strings.HasPrefix(t, "description:") {
		if m := reDescr.FindStringSubmatch(t); m != nil {
			l.kind, l.key, l.value = kindDescr, m[1], m[2]
			return
		}
	}
	if strings.Contains(t, "snapstate:") {
		if m := reSnapstate.FindStringSubmatch(t); m != nil {
			l.kind, l.key, l.value = kindKey, "snapstate", m[1]
			return
		}
	}
	if strings.HasPrefix(t, "delete:") {
		if m := reDelete.FindStringSubmatch(t); m != nil {
			// PVE warns about "delete" outside [pve:pending] and ignores it.
			if pending {
				l.kind, l.key, l.value = kindKey, "delete", m[1]
			}
			return
		}
	}
	if key, value, ok := matchKey(t); ok {
		l.kind, l.key, l.value = kindKey, key, value
		if key == descriptionKey {
			l.kind = kindDescrSet
		}
	}
}

// matchLXC matches t against ^(lxc\.[a-z0-9_\-\.]+)(:|\s*=)\s*(.*?)\s*$
// (Perl's \s) and returns the groups 1 and 3. No backtracking is needed: the
// key characters exclude ':', '=' and whitespace.
func matchLXC(t string) (key, value string, ok bool) {
	if !strings.HasPrefix(t, "lxc.") {
		return "", "", false
	}
	i := len("lxc.")
	for i < len(t) && isLXCKeyChar(t[i]) {
		i++
	}
	if i == len("lxc.") || i == len(t) {
		return "", "", false
	}
	key = t[:i]
	if t[i] == ':' {
		i++
	} else {
		for i < len(t) && isSpace(t[i]) {
			i++
		}
		if i == len(t) || t[i] != '=' {
			return "", "", false
		}
		i++
	}
	return key, trimSpace(t[i:]), true
}

// matchKey matches t against ^([a-z][a-z_]*\d*):\s*(.+?)\s*$ (Perl's \s)
// and returns the two groups. The lazy group takes the text between leading
// and trailing whitespace; when there is only whitespace it is left with the
// last character.
func matchKey(t string) (key, value string, ok bool) {
	if t == "" || t[0] < 'a' || t[0] > 'z' {
		return "", "", false
	}
	i := 1
	for i < len(t) && (t[i] >= 'a' && t[i] <= 'z' || t[i] == '_') {
		i++
	}
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i+1 >= len(t) || t[i] != ':' {
		return "", "", false
	}
	key, rest := t[:i], t[i+1:]
	if value = trimSpace(rest); value == "" {
		value = rest[len(rest)-1:]
	}
	return key, value, true
}

func isLXCKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// isSpace reports whether c is in Perl's \s for byte strings.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\x0b', '\f', '\r':
		return true
	}
	return false
}

// trimSpace removes Perl whitespace from both ends of t.
func trimSpace(t string) string {
	i, j := 0, len(t)
	for i < j && isSpace(t[i]) {
		i++
	}
	for j > i && isSpace(t[j-1]) {
		j--
	}
	return t[i:j]
}

// isBlank reports whether t holds only Perl whitespace.
func isBlank(t string) bool {
	return trimSpace(t) == ""
}

// Parse splits data into sections and lines. It keeps every byte, so Bytes
// returns data unchanged until the Config is edited. Lines PVE would warn
// about are kept as they are and ignored by the accessors; Parse currently
// accepts any input and returns an error only for future, stricter checks.
func Parse(data []byte) (*Config, error) {
	main := &Section{}
	c := &Config{sections: []*Section{main}}
	cur := main
	rest := string(data)
	for rest != "" {
		l := &line{}
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			l.text, l.eol, rest = rest[:i], "\n", rest[i+1:]
		} else {
			l.text, rest = rest, ""
		}
		classify(l, cur.name == PendingSection)
		if l.kind == kindHeader {
			cur = &Section{name: l.key}
			c.sections = append(c.sections, cur)
		}
		cur.lines = append(cur.lines, l)
	}
	return c, nil
}

// init makes the zero value an empty file.
func (c *Config) init() {
	if len(c.sections) == 0 {
		c.sections = []*Section{{}}
	}
}

// Bytes returns the file content: the parsed input with the edits applied.
func (c *Config) Bytes() []byte {
	c.init()
	n := 0
	for _, s := range c.sections {
		for _, l := range s.lines {
			n += len(l.text) + len(l.eol)
		}
	}
	var b bytes.Buffer
	b.Grow(n)
	for _, s := range c.sections {
		for _, l := range s.lines {
			b.WriteString(l.text)
			b.WriteString(l.eol)
		}
	}
	return b.Bytes()
}

// Digest returns PVE's digest of a config file: the hex SHA-1 of its bytes.
// PVE compares it with the digest parameter of config updates.
func Digest(data []byte) string {
	sum := sha1.Sum(data)
	return hex.EncodeToString(sum[:])
}

// Main returns the main section (the current configuration). It is never nil.
func (c *Config) Main() *Section {
	c.init()
	return c.sections[0]
}

// Section returns the snapshot section with that name, or the pending
// section for PendingSection, or nil if there is none. Snapshot names are
// case sensitive. When a name appears twice, the last section wins, as in
// PVE.
func (c *Config) Section(name string) *Section {
	c.init()
	for i := len(c.sections) - 1; i > 0; i-- {
		if c.sections[i].name == name {
			return c.sections[i]
		}
	}
	return nil
}

// Sections returns the non-main sections in file order.
func (c *Config) Sections() []*Section {
	c.init()
	out := make([]*Section, len(c.sections)-1)
	copy(out, c.sections[1:])
	return out
}

// Snapshots returns the snapshot sections (all but main and pending) in file
// order.
func (c *Config) Snapshots() []*Section {
	c.init()
	var out []*Section
	for _, s := range c.sections[1:] {
		if s.name != PendingSection {
			out = append(out, s)
		}
	}
	return out
}

// ValidSectionName reports whether name can be written as a section header
// that PVE reads back with the same name: PendingSection or a snapshot name
// matching [a-zA-Z][a-zA-Z0-9_-]+.
func ValidSectionName(name string) bool {
	return name == PendingSection || reValidSection.MatchString(name)
}

// AddSection returns the section called name, adding it when absent. A new
// pending section goes before the first snapshot (where PVE writes it), a new
// snapshot at the end of the file, each preceded by a blank line. It panics
// when ValidSectionName(name) is false.
func (c *Config) AddSection(name string) *Section {
	if s := c.Section(name); s != nil {
		return s
	}
	if !ValidSectionName(name) {
		panic("lxcconf: invalid section name " + quote(name))
	}
	at := len(c.sections)
	if name == PendingSection {
		at = 1 // Right after main: every other section is a snapshot.
	}
	prev := c.sections[at-1]
	// A separating blank line before the header, as PVE writes it.
	if n := len(prev.lines); n > 0 {
		prev.lines[n-1].eol = "\n"
		if prev.lines[n-1].kind != kindBlank {
			prev.lines = append(prev.lines, &line{text: "", eol: "\n", kind: kindBlank})
		}
	}
	s := &Section{name: name, lines: []*line{{text: "[" + name + "]", eol: "\n", kind: kindHeader, key: name}}}
	if at < len(c.sections) {
		// Keep the following header separated too.
		s.lines = append(s.lines, &line{text: "", eol: "\n", kind: kindBlank})
	}
	c.sections = append(c.sections, nil)
	copy(c.sections[at+1:], c.sections[at:])
	c.sections[at] = s
	return s
}

// DeleteSection removes every section called name and reports whether there
// was one. The main section cannot be removed. When the removed section was
// the last one, the blank lines that separated it from the section before
// are removed too.
func (c *Config) DeleteSection(name string) bool {
	c.init()
	removed := false
	for i := len(c.sections) - 1; i > 0; i-- {
		if c.sections[i].name != name {
			continue
		}
		removed = true
		last := i == len(c.sections)-1
		c.sections = append(c.sections[:i], c.sections[i+1:]...)
		if last {
			prev := c.sections[i-1]
			for n := len(prev.lines); n > 0 && prev.lines[n-1].kind == kindBlank; n-- {
				prev.lines = prev.lines[:n-1]
			}
		}
	}
	return removed
}

// insertLine inserts l before index i of s.lines. When the line before had
// no terminator (it ended the file), it gets one and l ends the file instead.
func (s *Section) insertLine(i int, l *line) {
	if i > 0 && s.lines[i-1].eol == "" {
		s.lines[i-1].eol = "\n"
		l.eol = ""
	}
	s.lines = append(s.lines, nil)
	copy(s.lines[i+1:], s.lines[i:])
	s.lines[i] = l
}

func quote(s string) string {
	return "\"" + strings.ReplaceAll(s, "\"", "\\\"") + "\""
}
