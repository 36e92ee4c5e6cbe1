package nodeexec

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	cases := map[string]string{
		"":            "''",
		"pct":         "pct",
		"/etc/pve/a":  "/etc/pve/a",
		"a-b_c.d:e,f": "a-b_c.d:e,f",
		"user@host+1": "user@host+1",
		"two words":   "'two words'",
		"it's":        `'it'\''s'`,
		"a=b":         "'a=b'",
		"~":           "'~'",
		"%1":          "'%1'",
		"{a,b}":       "'{a,b}'",
		"$(x)":        "'$(x)'",
		"line\nnext":  "'line\nnext'",
		"é":           "'é'",
	}
	for in, want := range cases {
		got, err := Quote(in)
		if err != nil || got != want {
			t.Errorf("Quote(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestQuoteAndJoinRefuseNUL(t *testing.T) {
	if _, err := Quote("a\x00b"); !errors.Is(err, ErrNUL) {
		t.Fatalf("Quote: want ErrNUL, got %v", err)
	}
	_, err := Join([]string{"ok", "", "bad\x00"})
	if !errors.Is(err, ErrNUL) || !strings.Contains(err.Error(), "argument 2") {
		t.Fatalf("Join: want ErrNUL naming argument 2, got %v", err)
	}
}

// printArgvFunc is a shell function printing each argument followed by a
// NUL byte, in the shell itself, so no other program is involved.
const printArgvFunc = `p() { for a in "$@"; do printf '%s' "$a"; printf '\000'; done; }; p `

// shells returns the POSIX shells found on this machine; sh always.
func shells(t testing.TB) []string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	for _, sh := range []string{"sh", "bash", "dash"} {
		p, err := exec.LookPath(sh)
		if err != nil {
			continue
		}
		// sh is often a link to dash or bash: run each shell once.
		resolved, err := filepath.EvalSymlinks(p)
		if err != nil || seen[resolved] {
			continue
		}
		seen[resolved] = true
		out = append(out, p)
	}
	if len(out) == 0 {
		t.Skip("no POSIX shell installed; the round trip needs one to evaluate command lines")
	}
	return out
}

// shellArgv evaluates Join(argv) with sh -c and returns the words the shell
// saw.
func shellArgv(t testing.TB, sh string, argv []string) []string {
	t.Helper()
	line, err := Join(argv)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sh, "-c", printArgvFunc+line)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", "LC_ALL=C"}
	cmd.Dir = t.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s -c %q: %v, stderr %q", sh, line, err, stderr.String())
	}
	return splitNUL(out)
}

func TestJoinShellRoundTrip(t *testing.T) {
	for _, sh := range shells(t) {
		got := shellArgv(t, sh, trickyArgs)
		if !slices.Equal(got, trickyArgs) {
			t.Errorf("%s: got %q\nwant %q", sh, got, trickyArgs)
		}
	}
}

// FuzzQuoteRoundTrip checks that for any strings without NUL, the command
// line from Join, evaluated by real shells, yields exactly those strings;
// and that a string with NUL is refused rather than altered.
func FuzzQuoteRoundTrip(f *testing.F) {
	for _, a := range trickyArgs {
		f.Add(a, "x", "")
	}
	f.Add("a\x00b", "c", "d")
	sh := shells(f)
	f.Fuzz(func(t *testing.T, a, b, c string) {
		argv := []string{a, b, c}
		if strings.ContainsRune(a+b+c, 0) {
			if _, err := Join(argv); !errors.Is(err, ErrNUL) {
				t.Fatalf("Join accepted a NUL byte: %v", err)
			}
			return
		}
		for _, s := range sh {
			if got := shellArgv(t, s, argv); !slices.Equal(got, argv) {
				t.Fatalf("%s: got %q, want %q", s, got, argv)
			}
		}
	})
}
