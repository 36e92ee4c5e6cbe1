package simssh

import (
	"testing"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
)

// TestExecLatencyReachesNodes: the simulator's exec latency is what the
// nodes' pct stand-in waits per pct exec (sshd's TestExecLatencyPerPctExec
// times the wait), from the next command on after a change.
func TestExecLatencyReachesNodes(t *testing.T) {
	s, info := Start(t, pvesim.Options{TaskDelay: -1, ExecLatency: 250 * time.Millisecond})
	show := `printf '%s' "${PHOENIX_SIM_EXEC_LATENCY:-none}"`
	if out, errOut, code := run(t, info, show); code != 0 || out != "0.250000" {
		t.Errorf("node sees %q (exit %d, %s), want 0.250000", out, code, errOut)
	}
	s.SetExecLatency(0)
	if out, _, _ := run(t, info, show); out != "none" {
		t.Errorf("after SetExecLatency(0) the node sees %q", out)
	}
}
