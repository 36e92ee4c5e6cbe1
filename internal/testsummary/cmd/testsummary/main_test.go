package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestRunExitStatus(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no POSIX shell installed: the fake go test commands need one")
	}
	failEvent := `{"Action":"fail","Package":"example.com/p"}`
	for _, c := range []struct {
		name, script string
		want         int
	}{
		{"passes", `echo '{"Action":"pass","Package":"example.com/p"}'`, 0},
		{"keeps the command's status", `exit 3`, 3},
		{"a failure in the output fails the run", `echo '` + failEvent + `'`, 1},
		{"status and failure", `echo '` + failEvent + `'; exit 2`, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := run([]string{"sh", "-c", c.script}); got != c.want {
				t.Errorf("exit status %d, want %d", got, c.want)
			}
		})
	}
	if got := run([]string{"-bogus"}); got != 2 {
		t.Errorf("a flag instead of a command: exit status %d, want 2", got)
	}
}

func TestModulePath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "go.mod")
	if err := os.WriteFile(file, []byte("// comment\nmodule example.com/m\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := modulePath(file); got != "example.com/m" {
		t.Errorf("modulePath = %q", got)
	}
	if got := modulePath(filepath.Join(t.TempDir(), "go.mod")); got != "" {
		t.Errorf("without go.mod: %q", got)
	}
}
