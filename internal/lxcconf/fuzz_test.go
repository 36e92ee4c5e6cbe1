package lxcconf

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func addSeeds(f *testing.F, add func(data []byte)) {
	for _, data := range corpus(f) {
		add(data)
	}
}

// FuzzRoundTrip checks that Parse never panics, that Bytes returns any
// accepted input unchanged, that reading a parsed config never panics, and
// that parsing is deterministic.
func FuzzRoundTrip(f *testing.F) {
	addSeeds(f, func(data []byte) { f.Add(data) })
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		if got := c.Bytes(); !bytes.Equal(got, data) {
			t.Fatalf("round trip changed the input:\n got %q\nwant %q", got, data)
		}
		if Digest(c.Bytes()) != Digest(data) {
			t.Fatal("digest of the parsed config differs from the digest of the input")
		}
		s1 := summary(c)
		c2, err := Parse(c.Bytes())
		if err != nil {
			t.Fatalf("reparse: %v", err)
		}
		if s2 := summary(c2); s1 != s2 {
			t.Fatalf("reparse reads differently:\n%q\n%q", s1, s2)
		}
	})
}

func sectionBytes(s *Section) string {
	var b strings.Builder
	for _, l := range s.lines {
		b.WriteString(l.text + l.eol)
	}
	return b.String()
}

// FuzzEditMain checks edits of the main section: other sections keep their
// bytes and the edited file reads back what was set.
func FuzzEditMain(f *testing.F) {
	addSeeds(f, func(data []byte) {
		f.Add(data, uint8(0), "cores", "4")
		f.Add(data, uint8(1), "lxc.apparmor.profile", "lxc-docker-secure")
		f.Add(data, uint8(2), "lxc.mount.entry", "/a a none bind 0 0")
		f.Add(data, uint8(3), "mp0", "")
		f.Add(data, uint8(4), "lxc.mount.entry", "")
		f.Add(data, uint8(5), "", "Owner: Jürgen\n\nline")
	})
	f.Fuzz(func(t *testing.T, data []byte, op uint8, key, value string) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		main := c.Main()
		var others []string
		for _, s := range c.Sections() {
			others = append(others, sectionBytes(s))
		}
		isLXC := strings.HasPrefix(key, "lxc.")
		switch op % 6 {
		case 0:
			if isLXC || main.Check(key, value) != nil || key == descriptionKey {
				return
			}
			main.Set(key, value)
		case 1:
			if !isLXC || main.Check(key, value) != nil {
				return
			}
			main.DeleteLXC(key)
			main.AddLXC(key, value)
		case 2:
			if !isLXC || main.Check(key, value) != nil {
				return
			}
			main.AddLXC(key, value)
		case 3:
			main.Delete(key)
		case 4:
			main.DeleteLXC(key)
		case 5:
			main.SetDescription(value)
		}
		var after []string
		for _, s := range c.Sections() {
			after = append(after, sectionBytes(s))
		}
		if !reflect.DeepEqual(others, after) {
			t.Fatalf("editing main changed other sections:\n%q\n%q", others, after)
		}
		re, err := Parse(c.Bytes())
		if err != nil {
			t.Fatalf("reparse: %v", err)
		}
		if !reflect.DeepEqual(sectionNames(re), sectionNames(c)) {
			t.Fatalf("sections changed: %q vs %q", sectionNames(re), sectionNames(c))
		}
		if got := string(re.Bytes()); got != string(c.Bytes()) {
			t.Fatal("edited config does not round trip")
		}
		m := re.Main()
		switch op % 6 {
		case 0:
			if got, ok := m.Get(key); !ok || got != value {
				t.Fatalf("Get(%q) = %q, %v after Set(%q)", key, got, ok, value)
			}
		case 1:
			n := 0
			for _, kv := range m.LXC() {
				if kv.Key == key {
					n++
					if kv.Value != value {
						t.Fatalf("raw %q = %q after DeleteLXC and AddLXC(%q)", key, kv.Value, value)
					}
				}
			}
			if n != 1 {
				t.Fatalf("%d raw lines of %q after DeleteLXC and AddLXC", n, key)
			}
		case 2:
			lxc := m.LXC()
			found := false
			for _, kv := range lxc {
				found = found || kv == KV{key, value}
			}
			if !found {
				t.Fatalf("raw line %q: %q missing after AddLXC", key, value)
			}
		case 3:
			if got, ok := m.Get(key); ok {
				t.Fatalf("Get(%q) = %q after Delete", key, got)
			}
		case 4:
			for _, kv := range m.LXC() {
				if kv.Key == key {
					t.Fatalf("raw line of %q left after DeleteLXC", key)
				}
			}
		case 5:
			// '%' is not encoded by PVE, so "%41" reads back as "A";
			// malformed UTF-8 reads back as U+FFFD.
			if strings.Contains(value, "%") || !utf8.ValidString(value) {
				return
			}
			want := strings.TrimRight(value, "\n")
			if want != "" {
				want += "\n"
			}
			if got := m.Description(); got != want {
				t.Fatalf("Description = %q after SetDescription(%q), want %q", got, value, want)
			}
		}
	})
}
