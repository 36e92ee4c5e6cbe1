// Package demo runs the project's demo: the provider built from the tree
// applies examples/demo to pvesim, the Proxmox VE simulator, through the
// Terraform CLI, then shows that a second apply changes nothing.
//
// Everything happens under one temporary directory: the binaries, the
// simulator's state, the Terraform CLI configuration (dev_overrides, the
// user's own ~/.terraformrc is never read nor written), a copy of the
// example and its state. The simulator and every command run in process
// groups of their own; on return, also after an interrupt, they are all
// stopped and the directory is removed.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/bench"
)

// Options configure Run.
type Options struct {
	// RepoDir is the repository's root (where go.mod is).
	RepoDir string
	// Terraform is the Terraform-compatible CLI (terraform or tofu).
	Terraform string
	// TaskDelay is how long each simulated Proxmox VE task runs.
	TaskDelay time.Duration
	// Out receives the progress lines.
	Out io.Writer
	// Abort, when closed after ctx ended, kills the running command at
	// once instead of waiting for it to stop gracefully.
	Abort <-chan struct{}
	// Grace is how long Terraform may take to stop after an interrupt
	// before it is killed; 30s when zero.
	Grace time.Duration
}

// ErrInterrupted is what Run returns when ctx ended before the demo did.
var ErrInterrupted = errInterrupted

// moduleLine is the go.mod line that identifies the repository.
const moduleLine = "module github.com/phoenix-hypervisor/terraform-provider-phoenix"

// FindRepo returns the repository's root: dir or the closest parent holding
// the project's go.mod.
func FindRepo(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte(moduleLine)) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%s is not inside the terraform-provider-phoenix repository", dir)
		}
	}
}

// FindTerraform returns the CLI to use: name when set, else terraform, else
// tofu from PATH.
func FindTerraform(name string) (string, error) {
	if name != "" {
		return exec.LookPath(name)
	}
	for _, n := range []string{"terraform", "tofu"} {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no terraform or tofu on PATH: run 'make terraform' (it builds OpenTofu from the Go module proxy) or install Terraform >= 1.8")
}

// CheckBubblewrap fails with install instructions when bwrap, which the
// simulator's SSH servers run commands in, is missing.
func CheckBubblewrap() error {
	if _, err := exec.LookPath("bwrap"); err != nil {
		return errors.New("the simulator runs node and container commands in bubblewrap sandboxes, and bwrap is not on PATH.\n" +
			"Install it, then run make demo again:\n" +
			"  Debian/Ubuntu: sudo apt-get install bubblewrap\n" +
			"  Fedora:        sudo dnf install bubblewrap\n" +
			"(make demo and make test install it, with the other packages they need, when run as root on Debian)")
	}
	return nil
}

// demo is one run.
type demo struct {
	o       Options
	p       *printer
	tmp     string
	bin     string
	work    string
	env     []string
	sim     *exec.Cmd
	simDone chan error
	logs    int
	names   map[string]string
}

// Run runs the demo. It returns ErrInterrupted when ctx ends first; either
// way the simulator is stopped and the temporary directory removed before
// it returns.
func Run(ctx context.Context, o Options) (err error) {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Grace == 0 {
		o.Grace = 30 * time.Second
	}
	if o.TaskDelay == 0 {
		o.TaskDelay = 300 * time.Millisecond
	}
	d := &demo{o: o, p: &printer{w: o.Out, start: time.Now()}, names: map[string]string{}}
	if err := CheckBubblewrap(); err != nil {
		return err
	}
	if d.tmp, err = os.MkdirTemp("", "phoenix-demo-"); err != nil {
		return err
	}
	d.p.line("temporary directory %s (removed on exit)", d.tmp)
	defer func() {
		if cerr := d.cleanup(); err == nil {
			err = cerr
		}
	}()
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"Building the provider and the simulator", d.build},
		{"Starting pvesim, the Proxmox VE simulator", d.startSim},
		{"Writing the Terraform CLI configuration (dev_overrides) and copying examples/demo", d.configure},
		{"terraform plan", d.plan},
		{"terraform apply", d.apply},
		{"Outputs", d.outputs},
		{"Second terraform apply: nothing may change", d.reapply},
		{"terraform destroy", d.destroy},
	}
	for i, s := range steps {
		if ctx.Err() != nil {
			return errInterrupted
		}
		d.p.step("[%d/%d] %s", i+1, len(steps), s.name)
		if err := s.fn(ctx); err != nil {
			if errors.Is(err, errInterrupted) || ctx.Err() != nil {
				return errInterrupted
			}
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	d.p.step("Demo complete")
	return nil
}

func (d *demo) build(ctx context.Context) error {
	d.bin = filepath.Join(d.tmp, "bin")
	if err := os.MkdirAll(d.bin, 0o755); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", d.bin+string(filepath.Separator), ".", "./internal/pvesim/cmd/pvesim")
	cmd.Dir = d.o.RepoDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := runGroup(ctx, d.o.Abort, d.o.Grace, cmd); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out.String())
	}
	d.p.detail("built terraform-provider-phoenix and pvesim into %s", d.bin)
	return nil
}

func (d *demo) startSim(ctx context.Context) error {
	state := filepath.Join(d.tmp, "pvesim")
	simLog := filepath.Join(d.tmp, "pvesim.log")
	errFile, err := os.Create(simLog)
	if err != nil {
		return err
	}
	defer errFile.Close()
	lines := make(chan string, 1)
	d.sim = exec.Command(filepath.Join(d.bin, "pvesim"),
		"--state-dir", state, "--nodes", "pve1", "--task-delay", d.o.TaskDelay.String())
	d.sim.Stdout = &lineWriter{fn: func(s string) {
		select {
		case lines <- s:
		default:
		}
	}}
	d.sim.Stderr = errFile
	if err := startGroup(d.sim); err != nil {
		return err
	}
	d.simDone = make(chan error, 1)
	go func() { d.simDone <- d.sim.Wait() }()
	simFailed := func(what string) error {
		b, _ := os.ReadFile(simLog)
		return fmt.Errorf("pvesim %s:\n%s", what, strings.TrimSpace(string(b)))
	}
	var line string
	select {
	case line = <-lines:
	case err := <-d.simDone:
		d.simDone <- err
		return simFailed(fmt.Sprintf("exited (%v) before it was ready", err))
	case <-time.After(60 * time.Second):
		return simFailed("printed no start line within 60s")
	case <-ctx.Done():
		return errInterrupted
	}
	var sl bench.SimStart
	if err := json.Unmarshal([]byte(line), &sl); err != nil {
		return fmt.Errorf("pvesim start line: %w", err)
	}
	if sl.SSH == nil || len(sl.Nodes) == 0 {
		return errors.New("pvesim started without SSH servers: the docker block needs them")
	}
	node := sl.Nodes[0]
	ssh, ok := sl.SSH.Nodes[node]
	if !ok {
		return fmt.Errorf("pvesim start line has no SSH server for node %s", node)
	}
	d.p.detail("simulator pid %d, state in %s", d.sim.Process.Pid, state)
	d.p.detail("API %s (TLS with the simulator's own CA), node %s, SSH on %s:%d, task delay %s",
		sl.Endpoint, node, ssh.Host, ssh.Port, d.o.TaskDelay)
	vars := map[string]string{
		"endpoint":             sl.Endpoint,
		"api_token":            sl.APIToken,
		"ca_certificate_file":  sl.CAFile,
		"ssh_username":         sl.SSH.User,
		"ssh_private_key_file": sl.SSH.PrivateKeyFile,
		"ssh_known_hosts_file": sl.SSH.KnownHostsFile,
		"node_name":            node,
		"node_ssh_host":        ssh.Host,
		"node_ssh_port":        strconv.Itoa(ssh.Port),
	}
	d.env = terraformEnv(os.Environ())
	for k, v := range vars {
		d.env = append(d.env, "TF_VAR_"+k+"="+v)
	}
	return nil
}

// terraformEnv is the environment Terraform runs with: the user's, without
// what would change what the demo does (their CLI configuration, logging,
// extra arguments, variables, and the provider's own PHOENIX_* and
// PROXMOX_VE_* settings, which could point at a real cluster).
func terraformEnv(environ []string) []string {
	drop := []string{"TF_CLI_CONFIG_FILE=", "TERRAFORM_CONFIG=", "TF_LOG", "TF_CLI_ARGS", "TF_VAR_", "TF_WORKSPACE=",
		"TF_DATA_DIR=", "TF_PLUGIN_CACHE_DIR=", "PHOENIX_", "PROXMOX_VE_", "TF_INPUT=", "TF_IN_AUTOMATION="}
	var env []string
outer:
	for _, kv := range environ {
		for _, p := range drop {
			if strings.HasPrefix(kv, p) {
				continue outer
			}
		}
		env = append(env, kv)
	}
	return append(env, "TF_INPUT=0", "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
}

// cliConfig is the Terraform CLI configuration the demo writes: the
// provider comes from dir, every other one from its registry.
func cliConfig(dir string) string {
	return fmt.Sprintf(`provider_installation {
  dev_overrides {
    "phoenix-hypervisor/phoenix" = %q
  }
  direct {}
}
`, dir)
}

func (d *demo) configure(context.Context) error {
	rc := filepath.Join(d.tmp, "terraform.rc")
	if err := os.WriteFile(rc, []byte(cliConfig(d.bin)), 0o600); err != nil {
		return err
	}
	d.env = append(d.env, "TF_CLI_CONFIG_FILE="+rc)
	d.p.detail("TF_CLI_CONFIG_FILE=%s (~/.terraformrc is not used)", rc)
	d.work = filepath.Join(d.tmp, "work")
	if err := os.MkdirAll(d.work, 0o755); err != nil {
		return err
	}
	src := filepath.Join(d.o.RepoDir, "examples", "demo")
	files, err := filepath.Glob(filepath.Join(src, "*.tf"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no .tf file in %s", src)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d.work, filepath.Base(f)), b, 0o600); err != nil {
			return err
		}
	}
	d.p.detail("examples/demo copied to %s: the state is written there, not in the repository", d.work)
	d.p.detail("variables from the simulator's start line: TF_VAR_endpoint, _api_token, _ca_certificate_file, _ssh_private_key_file, _ssh_known_hosts_file, _node_ssh_host, _node_ssh_port")
	d.p.detail("no terraform init: dev_overrides serves the provider and the example needs no other one")
	return nil
}

// terraform runs the CLI in the work directory. With render, its -json
// output is rendered as progress, and the provider's log (TF_LOG_PROVIDER
// written to a file, never to the screen) is followed for the steps inside
// each container; otherwise its output lines are printed as they come.
func (d *demo) terraform(ctx context.Context, render bool, args ...string) (string, error) {
	cmd := exec.Command(d.o.Terraform, args...)
	cmd.Dir = d.work
	cmd.Env = d.env
	var out bytes.Buffer
	var ui *uiRenderer
	var tail *tailer
	switch {
	case render:
		d.logs++
		logPath := filepath.Join(d.tmp, fmt.Sprintf("provider-%d.log", d.logs))
		cmd.Env = append(cmd.Env, "TF_LOG_PROVIDER=DEBUG", "TF_LOG_PATH="+logPath)
		lr := newLogRenderer(d.p, d.names)
		tail = startTail(logPath, lr.render)
		defer lr.flush()
		ui = &uiRenderer{p: d.p, applyOnly: args[len(args)-1] == "tfplan", sync: tail.sync}
		lw := &lineWriter{fn: func(s string) {
			out.WriteString(s + "\n")
			ui.render(s)
		}}
		defer lw.flush()
		cmd.Stdout = lw
	default:
		f := &humanFilter{}
		lw := &lineWriter{fn: func(s string) {
			out.WriteString(s + "\n")
			if l, ok := f.keep(s); ok {
				d.p.detail("| %s", l)
			}
		}}
		defer lw.flush()
		cmd.Stdout = lw
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := runGroup(ctx, d.o.Abort, d.o.Grace, cmd)
	if tail != nil {
		tail.close()
	}
	if err != nil {
		if errors.Is(err, errInterrupted) {
			return out.String(), err
		}
		msg := strings.TrimSpace(stderr.String())
		if ui != nil && len(ui.errors) > 0 {
			msg = strings.Join(ui.errors, "\n")
		}
		return out.String(), fmt.Errorf("terraform %s: %w\n%s", args[0], err, msg)
	}
	return out.String(), nil
}

func (d *demo) plan(ctx context.Context) error {
	if _, err := d.terraform(ctx, true, "plan", "-input=false", "-out=tfplan", "-json"); err != nil {
		return err
	}
	cmd := exec.Command(d.o.Terraform, "show", "-json", "tfplan")
	cmd.Dir, cmd.Env = d.work, d.env
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := runGroup(ctx, d.o.Abort, d.o.Grace, cmd); err != nil {
		return fmt.Errorf("terraform show: %w\n%s", err, stderr.String())
	}
	var plan struct {
		ResourceChanges []struct {
			Address string `json:"address"`
			Change  struct {
				After map[string]any `json:"after"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal(out.Bytes(), &plan); err != nil {
		return fmt.Errorf("terraform show -json: %w", err)
	}
	for _, rc := range plan.ResourceChanges {
		a := rc.Change.After
		if v, ok := a["vmid"].(float64); ok {
			d.names[strconv.Itoa(int(v))] = rc.Address
		}
		profile, _ := a["effective_apparmor_profile"].(string)
		if profile == "" {
			profile = "(known after apply)"
		}
		d.p.detail("%s: vmid %s, AppArmor profile %s, features %s", rc.Address, describe(a["vmid"]), profile, features(a["features"]))
	}
	return nil
}

// describe renders a planned value; unknown values are null in the plan's
// after object.
func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "(known after apply)"
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// features lists the planned features that are on.
func features(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return describe(v)
	}
	var on []string
	for k, x := range m {
		if b, ok := x.(bool); ok && b {
			on = append(on, k)
		}
		if l, ok := x.([]any); ok && len(l) > 0 {
			on = append(on, fmt.Sprintf("%s=%v", k, l))
		}
	}
	if len(on) == 0 {
		return "none"
	}
	sort.Strings(on)
	return strings.Join(on, ", ")
}

// humanFilter shortens Terraform's human output for the demo: the warning
// about dev_overrides (expected here) becomes one line, and the outputs,
// already shown, are left out.
type humanFilter struct {
	inWarning, inOutputs bool
}

func (f *humanFilter) keep(line string) (string, bool) {
	switch {
	case f.inOutputs:
		return "", false
	case f.inWarning:
		if strings.HasSuffix(strings.TrimSpace(line), "releases.") {
			f.inWarning = false
		}
		return "", false
	case strings.HasPrefix(line, "Warning: Provider development overrides are in effect"):
		f.inWarning = true
		return "(warning: provider development overrides are in effect, as the demo intends)", true
	case strings.HasPrefix(line, "Outputs:"):
		f.inOutputs = true
		return "Outputs: as above", true
	}
	return line, true
}

func (d *demo) apply(ctx context.Context) error {
	_, err := d.terraform(ctx, true, "apply", "-input=false", "-json", "tfplan")
	return err
}

func (d *demo) outputs(ctx context.Context) error {
	cmd := exec.Command(d.o.Terraform, "output", "-json")
	cmd.Dir, cmd.Env = d.work, d.env
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := runGroup(ctx, d.o.Abort, d.o.Grace, cmd); err != nil {
		return fmt.Errorf("terraform output: %w\n%s", err, stderr.String())
	}
	lines, err := formatOutputs(out.Bytes())
	if err != nil {
		return err
	}
	for _, l := range lines {
		d.p.detail("%s", l)
	}
	return nil
}

func (d *demo) reapply(ctx context.Context) error {
	out, err := d.terraform(ctx, false, "apply", "-input=false", "-auto-approve", "-no-color")
	if err != nil {
		return err
	}
	if !strings.Contains(out, "No changes.") {
		return errors.New("the second apply did not report \"No changes.\": the provider sees a difference on an unchanged configuration")
	}
	return nil
}

func (d *demo) destroy(ctx context.Context) error {
	_, err := d.terraform(ctx, true, "destroy", "-input=false", "-auto-approve", "-json")
	return err
}

// cleanup stops the simulator (SIGTERM, then SIGKILL to its group after
// 15s) and removes the temporary directory.
func (d *demo) cleanup() error {
	var errs []error
	if d.sim != nil && d.sim.Process != nil {
		pid := d.sim.Process.Pid
		d.p.step("Stopping the simulator (pid %d)", pid)
		_ = d.sim.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-d.simDone:
			// A simulator stopped by SIGTERM exits with status 0.
			if err != nil {
				errs = append(errs, fmt.Errorf("simulator: %w", err))
			}
		case <-time.After(15 * time.Second):
			killGroup(pid, syscall.SIGKILL)
			errs = append(errs, fmt.Errorf("the simulator did not stop within 15s: killed (%w)", <-d.simDone))
		}
		killGroup(pid, syscall.SIGKILL)
		if processAlive(pid) {
			errs = append(errs, fmt.Errorf("simulator pid %d still running", pid))
		}
	}
	if d.tmp != "" {
		d.p.step("Removing %s", d.tmp)
		if err := removeAll(d.tmp); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func itoa(i int) string { return strconv.Itoa(i) }
