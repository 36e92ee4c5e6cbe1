package nodeexec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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

// persistentShell is one long-running shell that reads command lines on
// standard input and answers each with "<argc>\0<arg>\0...". Parsing a
// line read from input is the same parser as sh -c; keeping the process
// alive lets the fuzzer try thousands of inputs a second instead of paying
// a process start for each.
type persistentShell struct {
	path string
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
}

const printCountArgvFunc = `p() { printf '%s\000' "$#"; for a in "$@"; do printf '%s' "$a"; printf '\000'; done; }`

func startShell(path string) (*persistentShell, error) {
	cmd := exec.Command(path)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", "LC_ALL=C"}
	cmd.Dir = os.TempDir()
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if _, err := io.WriteString(in, printCountArgvFunc+"\n"); err != nil {
		return nil, err
	}
	return &persistentShell{path: path, cmd: cmd, in: in, out: bufio.NewReader(out)}, nil
}

func (s *persistentShell) close() {
	_ = s.in.Close()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// words sends "p <line>" and returns the words p received.
func (s *persistentShell) words(line string) ([]string, error) {
	type answer struct {
		words []string
		err   error
	}
	done := make(chan answer, 1)
	go func() {
		field := func() (string, error) {
			f, err := s.out.ReadString(0)
			return strings.TrimSuffix(f, "\x00"), err
		}
		n, err := field()
		if err != nil {
			done <- answer{err: err}
			return
		}
		count, err := strconv.Atoi(n)
		if err != nil {
			done <- answer{err: fmt.Errorf("bad argument count %q", n)}
			return
		}
		words := make([]string, 0, count)
		for range count {
			w, err := field()
			if err != nil {
				done <- answer{err: err}
				return
			}
			words = append(words, w)
		}
		done <- answer{words: words}
	}()
	if _, err := io.WriteString(s.in, "p "+line+"\n"); err != nil {
		return nil, err
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case a := <-done:
		return a.words, a.err
	case <-timer.C:
		return nil, errors.New("no answer: the shell is still reading the command, so the quoting left something open")
	}
}

// shellPool keeps one persistentShell per shell binary for the process.
var shellPool = struct {
	sync.Mutex
	shells map[string]*persistentShell
}{shells: map[string]*persistentShell{}}

// persistentWords evaluates Join(argv) in the long-running shell at path,
// replacing the shell after any failure.
func persistentWords(path string, argv []string) ([]string, error) {
	line, err := Join(argv)
	if err != nil {
		return nil, err
	}
	shellPool.Lock()
	defer shellPool.Unlock()
	s := shellPool.shells[path]
	if s == nil {
		if s, err = startShell(path); err != nil {
			return nil, err
		}
		shellPool.shells[path] = s
	}
	words, err := s.words(line)
	if err != nil {
		s.close()
		delete(shellPool.shells, path)
	}
	return words, err
}

// FuzzQuoteRoundTrip checks that for any strings without NUL, the command
// line from Join, evaluated by every POSIX shell installed (dash and bash
// here), yields exactly those strings; and that a string with NUL is
// refused rather than altered. Each input goes through long-running shells;
// inputs with a quote, a backslash or a newline are also run through a
// fresh sh -c, as sshd does.
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
			got, err := persistentWords(s, argv)
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			if !slices.Equal(got, argv) {
				t.Fatalf("%s: got %q, want %q", s, got, argv)
			}
		}
		if strings.ContainsAny(a+b+c, "'\\\n") {
			if got := shellArgv(t, sh[0], argv); !slices.Equal(got, argv) {
				t.Fatalf("%s -c: got %q, want %q", sh[0], got, argv)
			}
		}
	})
}
