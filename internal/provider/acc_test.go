package provider

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim/simssh"
)

// testAccProtoV6ProviderFactories serves the provider in-process.
var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"phoenix": providerserver.NewProtocol6WithError(New("test")()),
}

// accEnv is where an acceptance test runs: the simulator by default, a real
// cluster when PHOENIX_ACC_ENDPOINT is set.
type accEnv struct {
	t        *testing.T
	sim      *pvesim.Sim
	endpoint string
	// token is the provider's API token: on the simulator the
	// least-privilege, privilege-separated token (ProviderRole on "/").
	token string
	// adminToken is what the test itself inspects and prepares the cluster
	// with: root@pam's token on the simulator, PHOENIX_ACC_ADMIN_API_TOKEN
	// (else the provider's token) on a real cluster.
	adminToken string
	// rootLogin, when set, makes the provider log in as root@pam with a
	// ticket instead of using token (PVE then lets the API change
	// root-only settings).
	rootLogin bool
	// allowForbidden lets a test provoke 403 answers.
	allowForbidden bool
	caPEM          string
	node           string
	template       string
	template2      string
	storage        string
	bridge         string
	client         *pve.Client
	// SSH access to the nodes (empty when the environment has none).
	sshKeyFile    string
	sshKnownHosts string
	sshNodes      map[string]simssh.Node
	sshInfo       *simssh.Info
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// withSSH starts the simulator's per-node SSH servers.
func withSSH(o *pvesim.Options) { o.StartSSH = simssh.Starter() }

// newAccEnv starts a simulator (or connects to the real cluster) for one test.
func newAccEnv(t *testing.T, opts ...func(*pvesim.Options)) *accEnv {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (make test does) to run it against pvesim, or PHOENIX_ACC_ENDPOINT for a real cluster")
	}
	e := &accEnv{t: t}
	if ep := os.Getenv("PHOENIX_ACC_ENDPOINT"); ep != "" {
		e.endpoint = ep
		e.token = os.Getenv("PHOENIX_ACC_API_TOKEN")
		e.adminToken = envOr("PHOENIX_ACC_ADMIN_API_TOKEN", e.token)
		if f := os.Getenv("PHOENIX_ACC_CA_CERTIFICATE_FILE"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			e.caPEM = string(b)
		}
		e.node = envOr("PHOENIX_ACC_NODE", "pve1")
		e.template = envOr("PHOENIX_ACC_TEMPLATE", "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst")
		e.template2 = envOr("PHOENIX_ACC_TEMPLATE2", "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst")
		e.storage = envOr("PHOENIX_ACC_STORAGE", "local-lvm")
		e.bridge = envOr("PHOENIX_ACC_BRIDGE", "vmbr0")
		e.sshKeyFile = os.Getenv("PHOENIX_ACC_SSH_PRIVATE_KEY_FILE")
		e.sshKnownHosts = os.Getenv("PHOENIX_ACC_SSH_KNOWN_HOSTS_FILE")
	} else {
		o := pvesim.Options{Nodes: []string{"pve1"}, TaskDelay: 20 * time.Millisecond}
		for _, f := range opts {
			f(&o)
		}
		e.sim = pvesim.Start(t, o)
		// The provider works within Proxmox VE's permissions: no test may
		// see the simulator refuse one of its calls (tests that provoke a
		// 403 on purpose set allowForbidden).
		t.Cleanup(func() {
			if e.allowForbidden {
				return
			}
			for _, r := range e.sim.Forbidden() {
				t.Errorf("the simulator refused %s %s by %s with 403: the provider must stay within its permissions", r.Method, r.Path, r.User)
			}
		})
		e.endpoint = e.sim.Endpoint
		e.token = e.sim.ProviderToken
		e.adminToken = e.sim.APIToken
		e.caPEM = string(e.sim.CAPEM)
		e.node = e.sim.Nodes[0]
		e.template = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
		e.template2 = "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst"
		e.storage = "local-lvm"
		e.bridge = "vmbr0"
		if info, ok := e.sim.SSH.(*simssh.Info); ok {
			e.sshInfo = info
			e.sshKeyFile = info.PrivateKeyFile
			e.sshKnownHosts = info.KnownHostsFile
			e.sshNodes = info.Nodes
		}
	}
	c, err := pve.New(pve.Config{Endpoint: e.endpoint, APIToken: e.adminToken, CACertificatePEM: e.caPEM})
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	return e
}

// simOnly reports whether a check that needs the simulator (its request
// and command logs, its state files, its faults, a cluster holding nothing
// else) can run; on a real cluster it says in the test log that the check
// was skipped, so that a pass never hides it.
func (e *accEnv) simOnly(what string) bool {
	if e.sim == nil {
		e.t.Logf("skipping %s on a real cluster: the check needs the simulator", what)
		return false
	}
	return true
}

// requirePhoenix is the terraform block every test configuration starts
// with.
const requirePhoenix = "terraform {\n  required_providers {\n    phoenix = { source = \"phoenix-hypervisor/phoenix\" }\n  }\n}\n"

// simConfigDir is the environment of a test that only the simulator can run
// (why says what it needs), and an empty directory for its configuration.
func simConfigDir(t *testing.T, why string) (*accEnv, string) {
	t.Helper()
	e := newAccEnv(t)
	if e.sim == nil {
		t.Skip(why)
	}
	return e, t.TempDir()
}

// providerHCL is the provider block for the environment.
func (e *accEnv) providerHCL() string {
	var ssh strings.Builder
	if e.sshKeyFile != "" {
		fmt.Fprintf(&ssh, "  ssh {\n    private_key      = file(%q)\n", e.sshKeyFile)
		if e.sshKnownHosts != "" {
			fmt.Fprintf(&ssh, "    known_hosts_file = %q\n", e.sshKnownHosts)
		}
		for name, n := range e.sshNodes {
			fmt.Fprintf(&ssh, "    node {\n      name    = %q\n      address = %q\n      port    = %d\n    }\n", name, n.Host, n.Port)
		}
		ssh.WriteString("  }\n")
	}
	auth := fmt.Sprintf("api_token      = %q", e.token)
	if e.rootLogin {
		auth = fmt.Sprintf("username       = \"root@pam\"\n  password       = %q", e.sim.Password)
	}
	return fmt.Sprintf(`
provider "phoenix" {
  endpoint       = %q
  %s
  ca_certificate = <<-EOT
%s
  EOT
%s}
`, e.endpoint, auth, strings.TrimSpace(e.caPEM), ssh.String())
}

// needSSH skips a test when the environment has no SSH access to the nodes.
func (e *accEnv) needSSH() {
	e.t.Helper()
	if e.sshKeyFile == "" {
		e.t.Skip("needs SSH access to the nodes: set PHOENIX_ACC_SSH_PRIVATE_KEY_FILE (and PHOENIX_ACC_SSH_KNOWN_HOSTS_FILE) for a real cluster")
	}
}

// newSimSSHEnv is the environment of a test that needs SSH access to the
// nodes and the simulator (what names what only the simulator offers; on a
// real cluster the test is skipped, saying so).
func newSimSSHEnv(t *testing.T, what string) *accEnv {
	t.Helper()
	e := newAccEnv(t, withSSH)
	e.needSSH()
	if !e.simOnly(what) {
		t.Skip("needs the simulator")
	}
	return e
}

// resetLog forgets the simulator's request log.
func (e *accEnv) resetLog() {
	if e.sim != nil {
		e.sim.ResetRequests()
	}
}

// checkNoMutations fails when the simulator saw a POST, PUT or DELETE since
// the last resetLog.
func (e *accEnv) checkNoMutations() func(*terraform.State) error {
	return func(*terraform.State) error {
		if !e.simOnly("checking that no mutating API call was made") {
			return nil
		}
		if n := e.sim.CountMutating(); n != 0 {
			var lines []string
			for _, r := range e.sim.Requests() {
				if r.Method != "GET" {
					lines = append(lines, r.Method+" "+r.Path)
				}
			}
			return fmt.Errorf("expected no mutating API call, got %d: %s", n, strings.Join(lines, ", "))
		}
		return nil
	}
}

// createSnapshot takes a snapshot of container vmid on e.node through the
// API, as a person or a backup job would (the provider never does), and
// waits for its task.
func (e *accEnv) createSnapshot(vmid int, name, description string) error {
	ctx := context.Background()
	params := map[string]string{"snapname": name}
	if description != "" {
		params["description"] = description
	}
	var upid string
	if err := e.client.API().Post(ctx, fmt.Sprintf("/nodes/%s/lxc/%d/snapshot", url.PathEscape(e.node), vmid), params, &upid); err != nil {
		return fmt.Errorf("snapshot %s of CT %d: %w", name, vmid, err)
	}
	return e.client.WaitTask(ctx, upid)
}

// deleteSnapshot deletes snapshot name of container vmid on e.node through
// the API and waits for its task.
func (e *accEnv) deleteSnapshot(vmid int, name string) error {
	ctx := context.Background()
	var upid string
	if err := e.client.API().Delete(ctx, fmt.Sprintf("/nodes/%s/lxc/%d/snapshot/%s", url.PathEscape(e.node), vmid, url.PathEscape(name)), &upid); err != nil {
		return fmt.Errorf("delete snapshot %s of CT %d: %w", name, vmid, err)
	}
	return e.client.WaitTask(ctx, upid)
}

// containers lists the containers the cluster holds.
func (e *accEnv) containers() []pve.Resource {
	e.t.Helper()
	rs, err := e.client.ClusterResources(context.Background(), "vm")
	if err != nil {
		e.t.Fatal(err)
	}
	var out []pve.Resource
	for _, r := range rs {
		if r.Type == "lxc" {
			out = append(out, r)
		}
	}
	return out
}

// withAccess adds user.cfg lines to the simulator's access configuration.
func withAccess(lines ...string) func(*pvesim.Options) {
	return func(o *pvesim.Options) { o.Access = append(o.Access, lines...) }
}

// withRoleOnRoot defines role with privs and grants it on "/" to the
// provider's user and token, beside their ProviderRole.
func withRoleOnRoot(role, privs string) func(*pvesim.Options) {
	roles := pvesim.ProviderRole + "," + role
	return withAccess(
		"role:"+role+":"+privs+":",
		"acl:1:/:phoenix@pve:"+roles+":",
		"acl:1:/:"+pvesim.ProviderTokenID+":"+roles+":",
	)
}

// withPrivilegedContainers grants the provider's user and token Sys.Modify
// on "/", which PVE requires to create a privileged container.
var withPrivilegedContainers = withRoleOnRoot("PhoenixPrivileged", "Sys.Modify")

// checkSetAsRoot asserts that the provider ran "pct set <vmid>" with args on
// the node since the last resetLog (a setting PVE reserves to root@pam).
func (e *accEnv) checkSetAsRoot(vmid int, args string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if !e.simOnly("the node's command log") {
			return nil
		}
		want := fmt.Sprintf("pct set %d %s", vmid, args)
		_, writes := simssh.SSHCommands(e.sim)
		for _, w := range writes {
			if strings.Contains(w, want) {
				return nil
			}
		}
		return fmt.Errorf("no %q among the node writes %q", want, writes)
	}
}

// checkNoForbidden asserts that the simulator refused no API call (403)
// since the last resetLog.
func (e *accEnv) checkNoForbidden() resource.TestCheckFunc {
	return func(*terraform.State) error {
		if !e.simOnly("the API log") {
			return nil
		}
		for _, r := range e.sim.Requests() {
			if r.Status == 403 {
				return fmt.Errorf("the API refused %s %s (%s): 403", r.Method, r.Path, r.User)
			}
		}
		return nil
	}
}

// checkRequests asserts that the API saw want calls of method on a path
// ending in suffix since the last resetLog (a node's own pct set counts
// too: it is what the provider caused).
func (e *accEnv) checkRequests(method, suffix string, want int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if !e.simOnly("counting " + method + " " + suffix) {
			return nil
		}
		n := 0
		for _, r := range e.sim.Requests() {
			if r.Source != "ssh" && r.Method == method && strings.HasSuffix(r.Path, suffix) {
				n++
			}
		}
		if n != want {
			return fmt.Errorf("%s ...%s: %d calls, want %d", method, suffix, n, want)
		}
		return nil
	}
}

// checkNoRestart asserts that vmid was not started, stopped, shut down or
// rebooted since the last resetLog.
func (e *accEnv) checkNoRestart(vmid int) resource.TestCheckFunc {
	var checks []resource.TestCheckFunc
	for _, op := range []string{"start", "stop", "reboot", "shutdown"} {
		checks = append(checks, e.checkRequests("POST", fmt.Sprintf("/lxc/%d/status/%s", vmid, op), 0))
	}
	return resource.ComposeTestCheckFunc(checks...)
}

// checkRebooted asserts that vmid was rebooted once since the last resetLog.
func (e *accEnv) checkRebooted(vmid int) resource.TestCheckFunc {
	return e.checkRequests("POST", fmt.Sprintf("/lxc/%d/status/reboot", vmid), 1)
}

// diskAndNIC renders a container's rootfs block and its eth0 network block
// (gw left out when empty).
func diskAndNIC(storage, size, bridge, ip, gw string) string {
	hcl := fmt.Sprintf("  rootfs {\n    storage = %q\n    size    = %q\n  }\n  network {\n    name   = \"eth0\"\n    bridge = %q\n    ip     = %q\n", storage, size, bridge, ip)
	if gw != "" {
		hcl += fmt.Sprintf("    gw     = %q\n", gw)
	}
	return hcl + "  }\n"
}

// importVerify is a step that imports the test container (ctAddr), by id
// or, when id is "", by its own ID, and compares what the import reads with
// the state; the template and the timeouts are not read back.
func importVerify(id string) resource.TestStep {
	return resource.TestStep{ResourceName: ctAddr, ImportState: true, ImportStateId: id, ImportStateVerify: true,
		ImportStateVerifyIgnore: []string{"template", "timeouts"}}
}

// planAction expects the plan to take action on the test container
// (ctAddr) before the apply.
func planAction(action plancheck.ResourceActionType) resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(ctAddr, action)}}
}
