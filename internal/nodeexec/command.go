package nodeexec

import (
	"errors"
	"fmt"
	"strconv"
)

// Command is one remote operation, described as data. The Pool quotes Argv
// with Join just before sending it, so no element is ever interpreted by the
// remote shell.
type Command struct {
	// Op names the operation in errors and logs, e.g. "pct-exec".
	Op string
	// Argv is the program and its arguments. No element may contain a NUL
	// byte. Argv appears in logs and errors: never put a secret in it.
	Argv []string
	// Stdin is sent to the command's standard input, followed by EOF. It
	// may hold any bytes, secrets included; it is never logged.
	Stdin []byte
	// Sudo marks a command that needs root. When the Pool runs as a
	// non-root user in sudo mode (see SudoMode), such a command is run as
	// "sudo -n -- argv...". It has no effect for root.
	Sudo bool
	// Retry marks a command that is safe to run twice: when the connection
	// drops while it runs, the Pool reconnects and runs it once more instead
	// of returning a ConnectionDroppedError.
	Retry bool
	// MaxOutput bounds the bytes of output (both streams together) the
	// command may print: beyond it the Pool stops the command, delivers
	// nothing more and returns an *OutputLimitError. 0: no bound.
	MaxOutput int
}

// Named returns a copy of c whose Op is op, for callers that build a command
// from a generic builder but want their own operation name in errors.
func (c Command) Named(op string) Command {
	c.Op = op
	return c
}

// Validate reports whether c can be sent: it needs an Op and a program, and
// no argument may contain a NUL byte.
func (c Command) Validate() error {
	if c.Op == "" {
		return errors.New("command has no operation name")
	}
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		return fmt.Errorf("command %q has no program", c.Op)
	}
	if _, err := Join(c.Argv); err != nil {
		return fmt.Errorf("command %q: %w", c.Op, err)
	}
	return nil
}

// String returns the quoted command line, for logs. A command that does not
// validate is shown with a marker instead of its arguments.
func (c Command) String() string {
	line, err := Join(c.Argv)
	if err != nil {
		return c.Op + ": <invalid command: " + err.Error() + ">"
	}
	return line
}

// PctExec runs argv inside container vmid: pct exec <vmid> -- argv...
func PctExec(vmid int, argv ...string) Command {
	return Command{
		Op:   "pct-exec",
		Argv: append([]string{"pct", "exec", strconv.Itoa(vmid), "--"}, argv...),
		Sudo: true,
	}
}

// PctExecScript runs a bash script inside container vmid, the script on
// standard input and args as its positional parameters:
// pct exec <vmid> -- bash -s -- args...
//
// Because bash reads the script from standard input as it runs, a command in
// the script that reads standard input would swallow the rest of the
// script: such commands must read from /dev/null (cmd </dev/null).
func PctExecScript(vmid int, script []byte, args ...string) Command {
	c := PctExec(vmid, append([]string{"bash", "-s", "--"}, args...)...)
	c.Op = "pct-exec-script"
	c.Stdin = script
	return c
}

// FlockWaitSeconds is how long Flock waits for the lock before failing, the
// same order as PVE's own config lock timeout.
const FlockWaitSeconds = 10

// Flock runs inner while holding an exclusive flock(1) on lockfile, e.g.
// PVE's /run/lock/lxc/pve-config-<vmid>.lock:
// flock -w 10 -- lockfile inner.argv...
// It keeps inner's name, standard input and retry flag, and needs root.
func Flock(lockfile string, inner Command) Command {
	argv := []string{"flock", "-w", strconv.Itoa(FlockWaitSeconds), "--", lockfile}
	return Command{
		Op:    inner.Op,
		Argv:  append(argv, inner.Argv...),
		Stdin: inner.Stdin,
		Sudo:  true,
		Retry: inner.Retry,
	}
}

// Cat prints the file at path: cat -- path.
func Cat(path string) Command {
	return Command{Op: "cat", Argv: []string{"cat", "--", path}, Sudo: true, Retry: true}
}
