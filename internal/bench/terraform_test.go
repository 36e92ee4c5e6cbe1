package bench

import (
	"strings"
	"testing"
)

func simStart() SimStart {
	s := SimStart{Endpoint: "https://127.0.0.1:8006/", CAFile: "/s/ca.pem", APIToken: "root@pam!phoenix=secret", Nodes: []string{"pve1", "pve2"}}
	s.SSH = &SimSSH{User: "root", PrivateKeyFile: "/s/id", KnownHostsFile: "/s/kh",
		Nodes: map[string]SimNode{"pve1": {"127.0.0.1", 2201}, "pve2": {"127.0.0.1", 2202}}}
	return s
}

func TestFleetHCL(t *testing.T) {
	f := Fleet{N: 3, Nodes: []string{"pve1", "pve2"}, VMIDBase: 1000, Verify: false, Started: true, Name: "ct"}
	hcl := FleetHCL(simStart(), f)
	for _, want := range []string{
		"count     = 3", "vmid      = 1000 + count.index", "template  = \"" + benchTemplate + "\"",
		"verify_on_refresh = false", "port    = 2202", "ca_certificate = file(\"/s/ca.pem\")",
	} {
		if !strings.Contains(hcl, want) {
			t.Errorf("fleet HCL lacks %q:\n%s", want, hcl)
		}
	}
	if strings.Contains(hcl, "clone") || strings.Contains(hcl, "started") {
		t.Errorf("a started template fleet has no clone block and no started line:\n%s", hcl)
	}
	f.Sources, f.Started = []int{900, 901, 902, 903}, false
	hcl = FleetHCL(simStart(), f)
	for _, want := range []string{"sources = [900, 901, 902, 903]", "source_vmid = local.sources[count.index % length(local.sources)]", "started   = false"} {
		if !strings.Contains(hcl, want) {
			t.Errorf("clone fleet HCL lacks %q:\n%s", want, hcl)
		}
	}
	if strings.Contains(hcl, "template  =") {
		t.Errorf("a clone fleet has no template:\n%s", hcl)
	}
	// Every container clones a source on its own node (source j is on node
	// j % 2, container i on node i % 2).
	for i := range 12 {
		src := f.SourceOf(i)
		if (src-900)%2 != i%2 {
			t.Errorf("container %d (node %d) clones %d (node %d)", i, i%2, src, (src-900)%2)
		}
	}
	if (Fleet{N: 2}).SourceOf(1) != 0 {
		t.Error("a template fleet has no source")
	}
	if got := (Fleet{N: 1, Nodes: []string{"a", "b"}}).NodesUsed(); got != 1 {
		t.Errorf("NodesUsed = %d, want 1", got)
	}
}
