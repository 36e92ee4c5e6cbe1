package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Terraform runs the Terraform CLI with the provider built from the tree
// installed through a dev_overrides CLI configuration.
type Terraform struct {
	Binary    string
	CLIConfig string
}

// NewTerraform writes the CLI configuration that points
// phoenix-hypervisor/phoenix (and the do-nothing phoenix-hypervisor/floor)
// at providerDir.
func NewTerraform(binary, workDir, providerDir string) (*Terraform, error) {
	rc := filepath.Join(workDir, "dev.tfrc")
	content := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"phoenix-hypervisor/phoenix\" = %q\n    \"phoenix-hypervisor/floor\" = %q\n  }\n  direct {}\n}\n", providerDir, providerDir)
	if err := os.WriteFile(rc, []byte(content), 0o600); err != nil {
		return nil, err
	}
	return &Terraform{Binary: binary, CLIConfig: rc}, nil
}

// Result is one run of the CLI.
type Result struct {
	Output   string
	Duration time.Duration
	ExitCode int
}

// Tail returns the last n lines of the output.
func (r Result) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(r.Output, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Run runs the CLI in dir. A non-zero exit is not an error: callers read
// ExitCode (plan -detailed-exitcode exits 2 on changes).
func (t *Terraform) Run(ctx context.Context, dir string, args ...string) (Result, error) {
	return t.RunEnv(ctx, dir, nil, args...)
}

// RunEnv is Run with extra environment variables (NAME=value) for the CLI
// and the provider processes it starts.
func (t *Terraform) RunEnv(ctx context.Context, dir string, extra []string, args ...string) (Result, error) {
	cmd := exec.CommandContext(ctx, t.Binary, args...) //nolint:gosec // the CLI named by the Makefile.
	cmd.Dir = dir
	env := []string{}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TF_LOG") || strings.HasPrefix(kv, "TF_CLI_CONFIG_FILE=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "TF_CLI_CONFIG_FILE="+t.CLIConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_INPUT=0")
	env = append(env, extra...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	r := Result{Output: out.String(), Duration: time.Since(start)}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		r.ExitCode = exit.ExitCode()
		return r, nil
	}
	return r, err
}

// Must runs the CLI and fails unless it exits 0.
func (t *Terraform) Must(ctx context.Context, dir string, args ...string) (Result, error) {
	r, err := t.Run(ctx, dir, args...)
	if err != nil {
		return r, err
	}
	if r.ExitCode != 0 {
		return r, fmt.Errorf("terraform %s in %s exited %d:\n%s", strings.Join(args, " "), dir, r.ExitCode, r.Tail(30))
	}
	return r, nil
}

// Version returns the first line of "terraform version".
func (t *Terraform) Version(ctx context.Context, dir string) string {
	r, err := t.Run(ctx, dir, "version")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(r.Output, "\n") {
		if strings.HasPrefix(line, "Terraform v") || strings.HasPrefix(line, "OpenTofu v") {
			return strings.TrimSpace(line)
		}
	}
	return "unknown"
}

// Fleet describes the containers of one workspace.
type Fleet struct {
	N        int
	Nodes    []string
	VMIDBase int
	// Verify is docker.verify_on_refresh.
	Verify bool
	// Sources, when set, are the containers to clone (Docker already
	// installed), source i on node i % len(Nodes); container i clones
	// source i % len(Sources), which is on its own node as long as
	// len(Sources) is a multiple of len(Nodes). Else every container is
	// created from the template.
	Sources []int
	// Started false leaves the containers stopped (the clone sources).
	Started bool
	// Name is the resource name.
	Name string
}

// benchTemplate is the OS template of the fleet.
const benchTemplate = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"

// VMIDs lists the container IDs of the fleet.
func (f Fleet) VMIDs() []int {
	out := make([]int, f.N)
	for i := range out {
		out[i] = f.VMIDBase + i
	}
	return out
}

// SourceOf is the source container i clones (0 when it is created from
// the template).
func (f Fleet) SourceOf(i int) int {
	if len(f.Sources) == 0 {
		return 0
	}
	return f.Sources[i%len(f.Sources)]
}

// NodesUsed is how many nodes hold a container.
func (f Fleet) NodesUsed() int { return min(f.N, len(f.Nodes)) }

// providerHCL is the provider block for a simulator.
func providerHCL(s SimStart) string {
	var b strings.Builder
	fmt.Fprintf(&b, "provider \"phoenix\" {\n  endpoint       = %q\n  api_token      = %q\n  ca_certificate = file(%q)\n", s.Endpoint, s.APIToken, s.CAFile)
	fmt.Fprintf(&b, "  ssh {\n    username         = %q\n    private_key      = file(%q)\n    known_hosts_file = %q\n", s.SSH.User, s.SSH.PrivateKeyFile, s.SSH.KnownHostsFile)
	for _, name := range sortedKeys(s.SSH.Nodes) {
		n := s.SSH.Nodes[name]
		fmt.Fprintf(&b, "    node {\n      name    = %q\n      address = %q\n      port    = %d\n    }\n", name, n.Host, n.Port)
	}
	b.WriteString("  }\n}\n")
	return b.String()
}

// FleetHCL is the configuration of a fleet: N containers with a docker
// block, spread round-robin over the nodes, each with its own address.
func FleetHCL(s SimStart, f Fleet) string {
	var b strings.Builder
	b.WriteString("terraform {\n  required_providers {\n    phoenix = { source = \"phoenix-hypervisor/phoenix\" }\n  }\n}\n\n")
	b.WriteString(providerHCL(s))
	b.WriteString("\nlocals {\n")
	writeList(&b, "nodes", len(f.Nodes), func(i int) string { return strconv.Quote(f.Nodes[i]) })
	if f.Sources != nil {
		writeList(&b, "sources", len(f.Sources), func(i int) string { return strconv.Itoa(f.Sources[i]) })
	}
	b.WriteString("}\n\n")
	name := f.Name
	if name == "" {
		name = "ct"
	}
	fmt.Fprintf(&b, "resource \"phoenix_lxc_container\" %q {\n  count     = %d\n", name, f.N)
	b.WriteString("  node_name = local.nodes[count.index % length(local.nodes)]\n")
	fmt.Fprintf(&b, "  vmid      = %d + count.index\n", f.VMIDBase)
	fmt.Fprintf(&b, "  hostname  = \"%s-${count.index}\"\n", name)
	if f.Sources != nil {
		b.WriteString("  clone {\n    source_vmid = local.sources[count.index % length(local.sources)]\n  }\n")
	} else {
		fmt.Fprintf(&b, "  template  = %q\n", benchTemplate)
	}
	b.WriteString("  rootfs {\n    storage = \"local-lvm\"\n    size    = \"8G\"\n  }\n")
	if !f.Started {
		b.WriteString("  started   = false\n")
	}
	fmt.Fprintf(&b, "  network {\n    name   = \"eth0\"\n    bridge = \"vmbr0\"\n    ip     = \"${cidrhost(\"10.%d.0.0/16\", count.index + 10)}/16\"\n    gw     = \"10.%d.0.1\"\n  }\n", 10+f.VMIDBase/1000%200, 10+f.VMIDBase/1000%200)
	fmt.Fprintf(&b, "  docker {\n    verify_on_refresh = %v\n  }\n}\n", f.Verify)
	return b.String()
}

// writeList writes the local name = [item(0), ..., item(n-1)].
func writeList(b *strings.Builder, name string, n int, item func(int) string) {
	fmt.Fprintf(b, "  %s = [", name)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(item(i))
	}
	b.WriteString("]\n")
}

// BaselineHCL is N terraform_data resources: Terraform's own floor.
func BaselineHCL(n int) string {
	return fmt.Sprintf("resource \"terraform_data\" \"d\" {\n  count = %d\n  input = count.index\n}\n", n)
}

// FloorHCL is n floor_data resources of the do-nothing plugin provider
// (internal/bench/cmd/floorprovider), the plugin counterpart of
// BaselineHCL.
func FloorHCL(n int) string {
	return "terraform {\n  required_providers {\n    floor = { source = \"phoenix-hypervisor/floor\" }\n  }\n}\n\n" +
		fmt.Sprintf("resource \"floor_data\" \"d\" {\n  count = %d\n  input = tostring(count.index)\n}\n", n)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}
