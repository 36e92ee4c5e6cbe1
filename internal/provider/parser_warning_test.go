package provider

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestAccOldParserWarns applies the Docker profile, through the Terraform
// CLI, to a container on a node whose apparmor_parser is 3.0.8 (PVE 8's):
// the apply succeeds and warns, naming the node, the version and what still
// holds (CVE-2016-1585 turns the profile's mount rules into generic ones
// before 3.0.10). A node with 3.0.10 draws no warning.
func TestAccOldParserWarns(t *testing.T) {
	t.Parallel()
	e := newAccEnv(t, withSSH)
	e.needSSH()
	if !e.simOnly("setting the node's parser version") {
		t.Skip("the parser version is the simulator's stand-in's: only on the simulator")
	}
	for i, tc := range []struct {
		version string
		warns   bool
	}{{"3.0.8", true}, {"3.0.10", false}} {
		t.Run(tc.version, func(t *testing.T) {
			e.sshInfo.Server(e.node).SetParserVersion(tc.version)
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "main.tf"), requirePhoenix+e.providerHCL()+fmt.Sprintf(`
resource "phoenix_lxc_container" "ct" {
  node_name        = %q
  vmid             = %d
  hostname         = "old-parser"
  template         = %q
  started          = false
  apparmor_profile = "lxc-docker-secure"
  rootfs {
    storage = %q
    size    = "8G"
  }
}
`, e.node, 4810+i, e.template, e.storage))
			out, err := runTerraform(t, dir, "apply", "-auto-approve", "-input=false", "-no-color")
			if err != nil {
				t.Fatalf("apply: %v\n%s", err, out)
			}
			defer func() {
				if out, err := runTerraform(t, dir, "destroy", "-auto-approve", "-input=false", "-no-color"); err != nil {
					t.Errorf("destroy: %v\n%s", err, out)
				}
			}()
			flat := strings.Join(strings.Fields(out), " ")
			warned := strings.Contains(flat, "Warning: "+parserWarningSummary)
			if warned != tc.warns {
				t.Fatalf("parser %s: warned = %v, want %v:\n%s", tc.version, warned, tc.warns, out)
			}
			if tc.warns {
				for _, want := range []string{"Node " + e.node, "apparmor_parser " + tc.version, "CVE-2016-1585"} {
					if !strings.Contains(flat, want) {
						t.Errorf("the warning does not say %q:\n%s", want, out)
					}
				}
			}
		})
	}
}
