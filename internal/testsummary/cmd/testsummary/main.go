// Command testsummary is what make test runs go test through: it prints
// what plain go test prints (ok lines, failed tests, build errors), then
// how many tests passed, failed and were skipped, and why each skipped.
//
//	testsummary go test -json [flags] [packages]
//	go test -json [flags] [packages] 2>&1 | testsummary
//
// Given a command, it runs it and exits with its status (or 1 when the
// output shows a failure the status does not); when the command has -v
// among its arguments, all test output is printed as it comes, as go test
// -v prints it. Reading standard input, it
// exits with 1 when the output shows a failure. Package paths in the
// summary are relative to the module in ./go.mod.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/testsummary"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 && strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(os.Stderr, "usage: testsummary [go test -json ARGS...]  (or pipe go test -json output in)")
		return 2
	}
	s := testsummary.New(os.Stdout, os.Stderr, modulePath("go.mod"))

	// Ctrl-C reaches go test through the terminal: keep reading until its
	// output ends, so what ran is still printed and summarized.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)

	if len(args) == 0 {
		if err := s.Read(os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			s.Finish()
			return 1
		}
		if s.Finish() {
			return 1
		}
		return 0
	}

	for _, a := range args {
		if a == "-v" || a == "-v=true" || a == "-test.v" || a == "-test.v=true" {
			s.Verbose = true
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin = os.Stdin
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		return 1
	}
	go func() {
		for sig := range sigs {
			if sig != os.Interrupt {
				_ = cmd.Process.Signal(sig)
			}
		}
	}()
	readErr := s.Read(out)
	code := 0
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() > 0 {
			code = exit.ExitCode()
		} else {
			code = 1
			fmt.Fprintln(os.Stderr, "testsummary:", err)
		}
	}
	if readErr != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", readErr)
		if code == 0 {
			code = 1
		}
	}
	s.ExitStatus(code)
	if s.Finish() && code == 0 {
		code = 1
	}
	return code
}

// modulePath returns the module path declared in the go.mod file, or ""
// when there is none.
func modulePath(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
