// Command pvesim runs the Proxmox VE API simulator until SIGINT or SIGTERM.
//
//	go run ./internal/pvesim/cmd/pvesim --listen 127.0.0.1:0 --nodes pve1 --state-dir DIR
//
// When ready it prints one JSON line on stdout: endpoint, ca_file,
// api_token (root@pam's token, no privilege separation), provider_token
// (the least-privilege, privilege-separated token), tokens, nodes (and user,
// password_file, state_dir). Everything else goes to stderr.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim/simssh"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	if err := run(os.Args[1:], os.Stdout, sig); err != nil {
		fmt.Fprintln(os.Stderr, "pvesim:", err)
		os.Exit(1)
	}
}

// run starts the simulator, writes the start line to stdout and serves
// until stop receives.
func run(args []string, stdout io.Writer, stop <-chan os.Signal) error {
	fs := flag.NewFlagSet("pvesim", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	nodes := fs.String("nodes", "pve1", "comma-separated node names")
	stateDir := fs.String("state-dir", "", "state directory (config files, volumes); required")
	taskDelay := fs.Duration("task-delay", pvesim.DefaultTaskDelay, "how long each task runs")
	apiLatency := fs.Duration("api-latency", 0, "delay added to every API call")
	execLatency := fs.Duration("exec-latency", 0, "how long each pct exec on a node waits, as lxc-attach takes on a real node (PUT /_sim/exec-latency changes it)")
	faultJSON := fs.String("fault-json", "", "fault rules to activate: a JSON object or array (see POST /_sim/faults)")
	faultFile := fs.String("fault-file", "", "file holding fault rules as JSON")
	templates := fs.String("templates", "", "comma-separated extra templates for local:vztmpl")
	accessFile := fs.String("access-file", "", "file of user.cfg lines (user:, token:, group:, role:, acl:) applied on top of the default users and tokens")
	var acls multiFlag
	fs.Var(&acls, "acl", "a user.cfg line to apply on top of the defaults, e.g. 'acl:1:/vms:phoenix@pve!provider:PVEAuditor:' (repeatable)")
	withSSH := fs.Bool("ssh", true, "run an SSH server per node (bubblewrap sandboxes); the start line then has an \"ssh\" member")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stateDir == "" {
		return errors.New("--state-dir is required")
	}
	opts := pvesim.Options{
		Listen:     *listen,
		StateDir:   *stateDir,
		TaskDelay:  *taskDelay,
		APILatency: *apiLatency,
	}
	if *execLatency < 0 {
		return errors.New("--exec-latency must not be negative")
	}
	opts.ExecLatency = *execLatency
	if *taskDelay == 0 {
		opts.TaskDelay = -1
	}
	if *withSSH {
		opts.StartSSH = simssh.Starter()
	}
	if *accessFile != "" {
		b, err := os.ReadFile(*accessFile)
		if err != nil {
			return fmt.Errorf("--access-file: %w", err)
		}
		opts.Access = append(opts.Access, strings.Split(string(b), "\n")...)
	}
	opts.Access = append(opts.Access, acls...)
	for n := range strings.SplitSeq(*nodes, ",") {
		if n = strings.TrimSpace(n); n != "" {
			opts.Nodes = append(opts.Nodes, n)
		}
	}
	for tpl := range strings.SplitSeq(*templates, ",") {
		if tpl = strings.TrimSpace(tpl); tpl != "" {
			opts.Templates = append(opts.Templates, tpl)
		}
	}
	for _, src := range []struct{ data, name string }{{*faultJSON, "--fault-json"}, {readFile(*faultFile), "--fault-file"}} {
		if strings.TrimSpace(src.data) == "" {
			continue
		}
		rules, err := parseFaults(src.data)
		if err != nil {
			return fmt.Errorf("%s: %w", src.name, err)
		}
		opts.Faults = append(opts.Faults, rules...)
	}
	if *faultFile != "" && readFile(*faultFile) == "" {
		return fmt.Errorf("--fault-file: cannot read %s", *faultFile)
	}

	sim, err := pvesim.New(opts)
	if err != nil {
		return err
	}
	line, err := json.Marshal(sim.StartLine())
	if err != nil {
		_ = sim.Close()
		return err
	}
	if _, err := fmt.Fprintln(stdout, string(line)); err != nil {
		_ = sim.Close()
		return err
	}
	<-stop
	done := make(chan error, 1)
	go func() { done <- sim.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		return errors.New("shutdown timed out")
	}
}

func readFile(path string) string {
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

func parseFaults(s string) ([]pvesim.Fault, error) {
	s = strings.TrimSpace(s)
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if strings.HasPrefix(s, "[") {
		var fs []pvesim.Fault
		return fs, dec.Decode(&fs)
	}
	var f pvesim.Fault
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	return []pvesim.Fault{f}, nil
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, "; ") }

func (m *multiFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}
