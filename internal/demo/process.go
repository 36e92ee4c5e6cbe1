package demo

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// errInterrupted is returned when the demo was interrupted (Ctrl-C).
var errInterrupted = errors.New("interrupted")

// startGroup starts cmd in a process group of its own, so that a Ctrl-C
// in the terminal reaches the demo only: the demo then stops each child
// itself, in order, and the group lets it kill whatever a child left.
func startGroup(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A grandchild holding the output pipe open must not block Wait.
	cmd.WaitDelay = 5 * time.Second
	return cmd.Start()
}

// killGroup sends sig to the process group led by pid; a group already
// gone is not an error.
func killGroup(pid int, sig syscall.Signal) {
	if pid > 0 {
		_ = syscall.Kill(-pid, sig)
	}
}

// runGroup runs cmd to completion in its own process group. When ctx ends
// first, the group gets SIGINT (Terraform then stops gracefully and saves
// its state), and SIGKILL after grace or as soon as abort is closed.
// Whatever the group still holds after the command exits is killed.
func runGroup(ctx context.Context, abort <-chan struct{}, grace time.Duration, cmd *exec.Cmd) error {
	if err := startGroup(cmd); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		killGroup(pid, syscall.SIGINT)
		select {
		case err = <-done:
		case <-time.After(grace):
			killGroup(pid, syscall.SIGKILL)
			err = <-done
		case <-abort:
			killGroup(pid, syscall.SIGKILL)
			err = <-done
		}
		if err == nil {
			err = errInterrupted
		}
	}
	killGroup(pid, syscall.SIGKILL)
	if ctx.Err() != nil {
		return errInterrupted
	}
	return err
}

// processAlive reports whether a process with this pid exists and is not a
// zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && b[i+2] != 'Z'
		}
	}
	return true
}

// removeAll removes dir, first making read-only directories (as the
// simulator's containers may leave) writable.
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
