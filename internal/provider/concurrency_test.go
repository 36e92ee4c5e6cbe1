package provider

// Many containers at once.
//
// TestAccConcurrency creates, updates and destroys a fleet of containers,
// all with a docker block, through the Terraform CLI with -parallelism=20:
// on one node, and spread over two nodes. Every apply must succeed, the
// simulator must hold exactly the containers in state (no orphans), the plan
// after the update must be empty, and each node's SSH server must see at most
// one connection per provider process that needs SSH (terraform starts one
// for the plan walk and one for the apply walk of a command), however many
// containers there are. Each scenario has 50 containers; the test is too
// heavy for make test and runs only with PHOENIX_ACC_HEAVY=1.
//
// With PHOENIX_RECORD_RELIABILITY=1 the figures are written to
// testdata/reliability/concurrency.json for the reliability guide. Schema:
//
//	{
//	  "command":     string, // reproduces the figures
//	  "containers":  int,    // per scenario
//	  "parallelism": int,    // terraform -parallelism
//	  "docker":      bool,   // every container has a docker block
//	  "scenarios": [{
//	    "name":  string,   // "one_node" or "two_nodes"
//	    "nodes": [string],
//	    "phases": [{
//	      "phase":           string, // "create", "update", "plan_after_update", "destroy"
//	      "seconds":         number, // wall time of the terraform command
//	      "ok":              bool,   // the command succeeded (and the plan was empty)
//	      "containers":      int,    // containers on the simulator afterwards
//	      "in_state":        int,    // containers in the state afterwards
//	      "orphans":         int,    // on the simulator but not in state: 0
//	      "api_requests":    int,    // API requests during the phase
//	      "ssh_commands":    int,    // SSH commands during the phase
//	      "ssh_connections": {"<node>": {"accepted": int, "peak": int}}
//	    }]
//	  }]
//	}

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim/simssh"
)

// heavyEnv turns on the full-size load tests.
const heavyEnv = "PHOENIX_ACC_HEAVY"

const concurrencyParallelism = 20

type concurrencyFigures struct {
	Command     string                `json:"command"`
	Containers  int                   `json:"containers"`
	Parallelism int                   `json:"parallelism"`
	Docker      bool                  `json:"docker"`
	Scenarios   []concurrencyScenario `json:"scenarios"`
}

type concurrencyScenario struct {
	Name   string             `json:"name"`
	Nodes  []string           `json:"nodes"`
	Phases []concurrencyPhase `json:"phases"`
}

type concurrencyPhase struct {
	Phase          string               `json:"phase"`
	Seconds        float64              `json:"seconds"`
	OK             bool                 `json:"ok"`
	Containers     int                  `json:"containers"`
	InState        int                  `json:"in_state"`
	Orphans        int                  `json:"orphans"`
	APIRequests    int                  `json:"api_requests"`
	SSHCommands    int                  `json:"ssh_commands"`
	SSHConnections map[string]connCount `json:"ssh_connections"`
}

type connCount struct {
	Accepted int `json:"accepted"`
	Peak     int `json:"peak"`
}

func TestAccConcurrency(t *testing.T) {
	if os.Getenv(heavyEnv) != "1" {
		t.Skip("load test of 2 x 50 containers with Docker (several minutes on 2 cores, a 6-container run took 4 minutes on a busy machine): set " + heavyEnv + "=1 to run it")
	}
	const n = 50
	fig := concurrencyFigures{
		Command:     fmt.Sprintf("TF_ACC=1 %s=1 go test ./internal/provider -run '^TestAccConcurrency$' -count=1 -v -timeout 60m", heavyEnv),
		Containers:  n,
		Parallelism: concurrencyParallelism,
		Docker:      true,
	}
	for _, nodes := range [][]string{{"pve1"}, {"pve1", "pve2"}} {
		name := map[int]string{1: "one_node", 2: "two_nodes"}[len(nodes)]
		t.Run(name, func(t *testing.T) {
			fig.Scenarios = append(fig.Scenarios, runConcurrency(t, name, nodes, n))
		})
	}
	if !t.Failed() {
		saveFigures(t, "concurrency.json", fig)
	}
}

func runConcurrency(t *testing.T, name string, nodes []string, n int) concurrencyScenario {
	e := newAccEnv(t, withSSH, func(o *pvesim.Options) { o.Nodes = nodes })
	e.needSSH()
	if e.sim == nil {
		t.Skip("needs the simulator: orphans and SSH connections are counted there")
	}
	sc := concurrencyScenario{Name: name, Nodes: nodes}
	dir := t.TempDir()
	quoted := make([]string, len(nodes))
	for i, node := range nodes {
		quoted[i] = fmt.Sprintf("%q", node)
	}
	config := func(description string) string {
		return requirePhoenix + e.providerHCL() + fmt.Sprintf(`
locals {
  nodes = [%s]
}

resource "phoenix_lxc_container" "fleet" {
  count        = %d
  node_name    = local.nodes[count.index %% length(local.nodes)]
  vmid         = 5000 + count.index
  hostname     = "fleet-${count.index}"
  template     = %q
  unprivileged = true
  description  = %q
%s  docker {}
}
`, strings.Join(quoted, ", "), n, e.template, description,
			diskAndNIC(e.storage, "2G", e.bridge, "10.20.${floor(count.index / 200)}.${count.index % 200 + 2}/16", "10.20.255.254"))
	}
	phase := func(label, description string, args ...string) {
		t.Helper()
		writeFile(t, filepath.Join(dir, "main.tf"), config(description))
		e.resetLog()
		for _, node := range nodes {
			e.sshInfo.Server(node).ResetConnStats()
		}
		start := time.Now()
		out, err := runTerraform(t, dir, args...)
		p := concurrencyPhase{Phase: label, Seconds: roundSeconds(time.Since(start)), OK: err == nil, SSHConnections: map[string]connCount{}}
		if err != nil {
			t.Errorf("%s: %v\n%s", label, err, lastLines(out, 40))
		}
		reads, writes := simssh.SSHCommands(e.sim)
		p.SSHCommands = len(reads) + len(writes)
		p.APIRequests = len(e.sim.Requests()) - p.SSHCommands
		// Processes that need SSH: the plan walk (refresh checks Docker) and
		// the apply walk.
		maxConns := 2
		for _, node := range nodes {
			st := e.sshInfo.Server(node).ConnStats()
			p.SSHConnections[node] = connCount{Accepted: st.Accepted, Peak: st.Peak}
			if st.Accepted > maxConns {
				t.Errorf("%s: node %s saw %d SSH connections for %d containers, want at most %d (one per provider process)", label, node, st.Accepted, n, maxConns)
			}
		}
		inState := stateVMIDs(t, dir)
		onSim := map[int]bool{}
		for _, r := range e.containers() {
			onSim[int(r.VMID)] = true
		}
		p.Containers, p.InState = len(onSim), len(inState)
		for vmid := range onSim {
			if !inState[vmid] {
				p.Orphans++
			}
		}
		for vmid := range inState {
			if !onSim[vmid] {
				t.Errorf("%s: container %d is in state but not on the simulator", label, vmid)
			}
		}
		if p.Orphans != 0 {
			t.Errorf("%s: %d containers on the simulator are not in state", label, p.Orphans)
		}
		t.Logf("%s: %.1f s, ok=%v, %d containers (%d in state, %d orphans), %d API requests, %d SSH commands, SSH connections %v",
			label, p.Seconds, p.OK, p.Containers, p.InState, p.Orphans, p.APIRequests, p.SSHCommands, p.SSHConnections)
		sc.Phases = append(sc.Phases, p)
	}
	par := fmt.Sprintf("-parallelism=%d", concurrencyParallelism)
	phase("create", "created", "apply", "-auto-approve", "-input=false", "-no-color", par)
	if got := sc.Phases[0].Containers; got != n {
		t.Fatalf("create left %d containers, want %d", got, n)
	}
	phase("update", "updated", "apply", "-auto-approve", "-input=false", "-no-color", par)
	phase("plan_after_update", "updated", "plan", "-detailed-exitcode", "-input=false", "-no-color", par)
	phase("destroy", "updated", "destroy", "-auto-approve", "-input=false", "-no-color", par)
	if got := sc.Phases[len(sc.Phases)-1].Containers; got != 0 {
		t.Errorf("destroy left %d containers", got)
	}
	return sc
}

// stateVMIDs reads the vmids of the containers in dir's state.
func stateVMIDs(t *testing.T, dir string) map[int]bool {
	t.Helper()
	out := map[int]bool{}
	b, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate"))
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Resources []struct {
			Type      string `json:"type"`
			Instances []struct {
				Attributes struct {
					VMID int `json:"vmid"`
				} `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Resources {
		if r.Type != "phoenix_lxc_container" {
			continue
		}
		for _, i := range r.Instances {
			out[i.Attributes.VMID] = true
		}
	}
	return out
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
