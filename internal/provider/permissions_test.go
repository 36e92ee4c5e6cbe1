package provider

import (
	"fmt"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// TestRootOnlyReason follows pve-container's check_ct_modify_config_perm:
// a changed feature flag other than nesting (absent counts as ""), any
// feature change of a privileged container, bind and device mount points,
// dev[n] and hookscript are root@pam's only.
func TestRootOnlyReason(t *testing.T) {
	cases := []struct {
		key, old, new string
		unpriv        bool
		root          bool
	}{
		{"features", "", "nesting=1", true, false},
		{"features", "", "nesting=1,keyctl=1", true, true},
		{"features", "", "keyctl=1,nesting=1", true, true},
		{"features", "nesting=1,keyctl=1", "keyctl=1,nesting=1", true, false}, // same flags
		{"features", "keyctl=1,nesting=1", "nesting=0,keyctl=1", true, false}, // only nesting
		{"features", "keyctl=1,nesting=1", "nesting=1", true, true},           // keyctl 1 -> absent
		{"features", "nesting=1", "nesting=1,keyctl=0", true, true},           // absent -> 0 is a change
		{"features", "", "nesting=1", false, true},                            // privileged
		{"features", "nesting=1", "nesting=1", false, false},                  // no change at all
		{"features", "nesting=1,fuse=1", "", true, true},                      // delete
		{"mp0", "", "/srv/data,mp=/data", true, true},
		{"mp0", "", "volume=/dev/sdb1,mp=/data", true, true},
		{"mp0", "", "local-lvm:8,mp=/data", true, false},
		{"rootfs", "", "local-lvm:8", true, false},
		{"dev0", "", "/dev/dri/renderD128", true, true},
		{"hookscript", "", "local:snippets/h.pl", true, true},
		{"memory", "512", "1024", true, false},
	}
	for _, c := range cases {
		if got := rootOnlyReason(c.key, c.old, c.new, c.unpriv) != ""; got != c.root {
			t.Errorf("%s %q -> %q (unprivileged %v): root-only %v, want %v", c.key, c.old, c.new, c.unpriv, got, c.root)
		}
	}
}

func TestSplitRootOnly(t *testing.T) {
	actual := map[string]string{"unprivileged": "1", "features": "nesting=1", "memory": "512"}
	ch := configChange{Set: map[string]string{"features": "keyctl=1,nesting=1", "memory": "1024"}, Delete: []string{"hookscript", "tags"}}
	api, root := splitRootOnly(ch, actual, false)
	if !reflect.DeepEqual(api, configChange{Set: map[string]string{"memory": "1024"}, Delete: []string{"tags"}}) {
		t.Errorf("api part %+v", api)
	}
	if !reflect.DeepEqual(root, configChange{Set: map[string]string{"features": "keyctl=1,nesting=1"}, Delete: []string{"hookscript"}}) {
		t.Errorf("root part %+v", root)
	}
	// A root@pam identity sends everything through the API.
	if api, root := splitRootOnly(ch, actual, true); !reflect.DeepEqual(api, ch) || !root.empty() {
		t.Errorf("root@pam: api %+v root %+v", api, root)
	}
}

func TestWithoutRootOnlyFeatures(t *testing.T) {
	cases := []struct {
		in, out string
		unpriv  bool
		later   bool
	}{
		{"keyctl=1,nesting=1", "nesting=1", true, true},
		{"nesting=1", "nesting=1", true, false},
		{"keyctl=1", "", true, true},
		{"nesting=1", "", false, true},
		{"", "", true, false},
	}
	for _, c := range cases {
		out, later := withoutRootOnlyFeatures(c.in, c.unpriv)
		if out != c.out || later != c.later {
			t.Errorf("%q (unprivileged %v): %q %v, want %q %v", c.in, c.unpriv, out, later, c.out, c.later)
		}
	}
}

func TestPctSetCommand(t *testing.T) {
	cmd := pctSetCommand(101, map[string]string{"features": "keyctl=1,nesting=1", "hookscript": "local:snippets/a b"}, []string{"dev1", "dev0"}, "abc")
	want := []string{"pct", "set", "101", "--features", "keyctl=1,nesting=1", "--hookscript", "local:snippets/a b", "--delete", "dev0,dev1", "--digest", "abc"}
	if !reflect.DeepEqual(cmd.Argv, want) || !cmd.Sudo || cmd.Op != opSetConfigAsRoot {
		t.Fatalf("command %+v", cmd)
	}
}

// TestAccRootOnlyWithTokenNeedsSSH: with an API token and no ssh block, a
// docker block (which needs keyctl, reserved to root@pam) fails at plan
// time, naming the setting, the rule and both remedies; nothing reaches
// the cluster.
func TestAccRootOnlyWithTokenNeedsSSH(t *testing.T) {
	e := newAccEnv(t)
	e.resetLog()
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:   e.dockerCT("", ""),
			PlanOnly: true,
			ExpectError: phrases("Setting reserved to root@pam", "features = keyctl=1,nesting=1 (the docker block needs nesting and keyctl)",
				"changing feature flags other than nesting (keyctl) is only allowed for root@pam", "check_ct_modify_config_perm",
				"phoenix@pve!provider", "add an ssh block", "log in as root@pam with username and password"),
		}, {
			// A bind mount is root@pam's too: refused at plan time, with
			// PVE's reason.
			Config:   e.containerConfig(ctConfig{VMID: 4151, Unprivileged: true, Extra: mountBlock(0, "    path   = \"/data\"\n    volume = \"/srv/data\"\n")}),
			PlanOnly: true,
			ExpectError: phrases("Setting reserved to root@pam", "mp0 = /srv/data,mp=/data", "bind mount points are only allowed for root@pam",
				"add an ssh block"),
		}, {
			// So is a hookscript (check_ct_modify_config_perm's hookscript
			// branch).
			Config:   e.containerConfig(ctConfig{VMID: 4152, Unprivileged: true, Extra: "  hookscript = \"local:snippets/hook.sh\"\n  allow_lxc_hooks = true\n"}),
			PlanOnly: true,
			ExpectError: phrases("Setting reserved to root@pam", "hookscript = local:snippets/hook.sh",
				"changing the hookscript is only allowed for root@pam", "add an ssh block"),
		}},
		CheckDestroy: func(*terraform.State) error {
			if e.simOnly("checking that the refused plan made no mutating API call") && e.sim.CountMutating() != 0 {
				return fmt.Errorf("the refused plan changed the cluster")
			}
			return nil
		},
	})
}

// TestAccRootPamTicketUsesAPI: logged in as root@pam with a ticket, the
// provider sends root-only settings through the API like any other, with no
// SSH access at all.
func TestAccRootPamTicketUsesAPI(t *testing.T) {
	// SSH is configured, so a pct set would show in the node log.
	e := newAccEnv(t, withSSH)
	if !e.simOnly("root@pam's password") {
		t.Skip("needs the simulator's root@pam password: a real cluster's is not in the environment")
	}
	e.rootLogin = true
	e.resetLog()
	// keyctl and a bind mount: both root@pam's only.
	cfg := e.containerConfig(ctConfig{VMID: 4150, Unprivileged: true, Nesting: true,
		Extra: mountBlock(0, "    path   = \"/shared\"\n    volume = \"/srv/shared\"\n")})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: cfg,
			Check: func(*terraform.State) error {
				var post string
				for _, r := range e.sim.Requests() {
					// The read-only check of the bind source on the node
					// is the only command SSH may carry.
					if r.Source == "ssh" && !strings.Contains(r.Path, opCheckHostPaths) {
						return fmt.Errorf("SSH command with a root@pam login: %s", r.Path)
					}
					if r.Method == "POST" && strings.HasSuffix(r.Path, "/lxc") {
						post = r.User
					}
				}
				if post != "root@pam" {
					return fmt.Errorf("create sent by %q, want root@pam", post)
				}
				cfg, err := e.client.ContainerConfig(t.Context(), e.node, 4150)
				if err != nil {
					return err
				}
				if cfg.Values["features"] != "keyctl=1,nesting=1" {
					return fmt.Errorf("features %q", cfg.Values["features"])
				}
				if cfg.Values["mp0"] != "/srv/shared,mp=/shared" {
					return fmt.Errorf("mp0 %q", cfg.Values["mp0"])
				}
				return nil
			},
		}},
	})
}

// phrases matches the phrases in order, whatever the line breaks between
// their words.
func phrases(ps ...string) *regexp.Regexp {
	var parts []string
	for _, p := range ps {
		words := strings.Fields(p)
		for i, w := range words {
			words[i] = regexp.QuoteMeta(w)
		}
		parts = append(parts, strings.Join(words, `\s+`))
	}
	return regexp.MustCompile(`(?s)` + strings.Join(parts, ".*"))
}

// TestAccMissingPrivilege removes each privilege of the recommended role in
// turn from the provider's token: the apply fails before the create, naming
// the privilege and its path, and the cluster is left as it was.
func TestAccMissingPrivilege(t *testing.T) {
	probe := newAccEnv(t)
	if !probe.simOnly("changing the token's role") {
		t.Skip("runs on the simulator only: it rewrites the token's ACLs")
	}
	for _, priv := range pvesim.ProviderRolePrivileges {
		t.Run(priv, func(t *testing.T) {
			t.Parallel()
			var keep []string
			for _, p := range pvesim.ProviderRolePrivileges {
				if p != priv {
					keep = append(keep, p)
				}
			}
			// The user holds the whole role, its privilege-separated token
			// the role less one privilege.
			e := newAccEnv(t, withAccess(
				"user:reduced@pve:1:0::::::",
				"token:reduced@pve!t:0:1::",
				"role:Reduced:"+strings.Join(keep, ",")+":",
				"acl:1:/:reduced@pve:"+pvesim.ProviderRole+":",
				"acl:1:/:reduced@pve!t:Reduced:",
			))
			e.token = e.sim.Tokens["reduced@pve!t"]
			vms := "/vms/4300"
			cfg := e.containerConfig(ctConfig{VMID: 4300, Cores: 2, Memory: 1024, Tags: []string{"acc"}, Unprivileged: true, Extra: "  features = { nesting = true }\n"})
			wantPath := map[string]string{
				"Datastore.AllocateSpace": "/storage/local-lvm", "SDN.Use": "/sdn/zones/localnetwork/" + e.bridge,
			}[priv]
			if priv == "VM.Clone" {
				// Only a clone needs VM.Clone: clone a container the test made.
				src := 4301
				upid, err := e.client.CreateContainer(t.Context(), e.node, map[string]string{
					"vmid": "4301", "ostemplate": e.template, "rootfs": e.storage + ":4",
				})
				if err == nil {
					err = e.client.WaitTask(t.Context(), upid)
				}
				if err != nil {
					t.Fatal(err)
				}
				cfg = e.providerHCL() + fmt.Sprintf(`
resource "phoenix_lxc_container" "test" {
  node_name    = %q
  vmid         = 4300
  unprivileged = true
  clone {
    source_vmid = %d
  }
}
`, e.node, src)
				vms = fmt.Sprintf("/vms/%d", src)
			}
			if wantPath == "" {
				wantPath = vms
			}
			before := len(e.containers())
			e.resetLog()
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      cfg,
					ExpectError: phrases("Missing Proxmox VE privileges", "reduced@pve!t lacks", priv+" on "+wantPath),
				}},
			})
			if n := len(e.containers()); n != before {
				t.Errorf("%d containers after the refused apply, %d before", n, before)
			}
			for _, r := range e.sim.Requests() {
				if r.User == "reduced@pve!t" && r.Method != "GET" {
					t.Errorf("the refused apply sent %s %s", r.Method, r.Path)
				}
				if r.Status == 403 {
					t.Errorf("the API refused %s %s: the check should have come first", r.Method, r.Path)
				}
			}
		})
	}
}

// reducedAccess gives reduced@pve the whole provider role and its
// privilege-separated token reduced@pve!t the role less the privileges
// named, plus extra ACL lines.
func reducedAccess(without []string, extra ...string) func(*pvesim.Options) {
	var keep []string
	for _, p := range pvesim.ProviderRolePrivileges {
		if !slices.Contains(without, p) {
			keep = append(keep, p)
		}
	}
	return withAccess(append([]string{
		"user:reduced@pve:1:0::::::",
		"token:reduced@pve!t:0:1::",
		"role:Reduced:" + strings.Join(keep, ",") + ":",
		"acl:1:/:reduced@pve:" + pvesim.ProviderRole + ":",
		"acl:1:/:reduced@pve!t:Reduced:",
	}, extra...)...)
}

// checkMemory fails unless container vmid's memory is want.
func (e *accEnv) checkMemory(vmid int, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		cfg, err := e.client.ContainerConfig(e.t.Context(), e.node, vmid)
		if err != nil {
			return err
		}
		if cfg.Values["memory"] != want {
			return fmt.Errorf("memory %s, want %s", cfg.Values["memory"], want)
		}
		return nil
	}
}

// withToken renders the configuration for another API token.
func (e *accEnv) withToken(token, cfg string) string {
	return strings.Replace(cfg, fmt.Sprintf("api_token      = %q", e.token), fmt.Sprintf("api_token      = %q", token), 1)
}

// TestAccMissingPrivilegeOnUpdateAndDestroy: an update and a destroy check
// the identity's privileges before their first change too, and the check
// follows Proxmox VE's ACL rules (a non-propagating ACL below "/" does not
// take away what "/" grants; NoAccess on a container does).
func TestAccMissingPrivilegeOnUpdateAndDestroy(t *testing.T) {
	var noAllocate []string
	for _, p := range pvesim.ProviderRolePrivileges {
		if p != "VM.Allocate" {
			noAllocate = append(noAllocate, p)
		}
	}
	e := newAccEnv(t, reducedAccess([]string{"VM.Config.Memory"},
		// An auditor role on /vms that does not propagate: /vms/4310 still
		// inherits from "/" (PVE::AccessControl::roles).
		"acl:0:/vms:reduced@pve!t:PVEAuditor:",
		"user:noalloc@pve:1:0::::::", "token:noalloc@pve!t:0:1::",
		"role:NoAllocate:"+strings.Join(noAllocate, ",")+":",
		"acl:1:/:noalloc@pve:"+pvesim.ProviderRole+":", "acl:1:/:noalloc@pve!t:NoAllocate:",
		// NoAccess on a container cancels what "/" grants there.
		"acl:1:/vms/4311:reduced@pve:NoAccess:",
	))
	if !e.simOnly("tokens with reduced ACLs") {
		t.Skip("runs on the simulator only: it defines its own tokens")
	}
	reduced, noAllocToken := e.sim.Tokens["reduced@pve!t"], e.sim.Tokens["noalloc@pve!t"]
	base := e.containerConfig(ctConfig{VMID: 4310, Memory: 1024, Unprivileged: true})
	more := e.containerConfig(ctConfig{VMID: 4310, Memory: 2048, Unprivileged: true})
	tagged := e.containerConfig(ctConfig{VMID: 4310, Memory: 1024, Tags: []string{"audited"}, Unprivileged: true})
	gone := e.providerHCL()
	memory := func(want string) resource.TestCheckFunc { return e.checkMemory(4310, want) }
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: base},
			{
				// The token lacks VM.Config.Memory: the update stops first.
				PreConfig:   e.resetLog,
				Config:      e.withToken(reduced, more),
				ExpectError: phrases("Missing Proxmox VE privileges", "reduced@pve!t lacks", "VM.Config.Memory on /vms/4310, for memory"),
				Check:       memory("1024"),
			},
			{
				// It may still change what it holds, despite the auditor ACL on /vms.
				Config: e.withToken(reduced, tagged),
				Check:  memory("1024"),
			},
			{
				// NoAccess on the user's /vms/4311: its token may not create it.
				Config:      e.withToken(reduced, tagged+strings.Replace(strings.Replace(e.containerConfig(ctConfig{VMID: 4311, Unprivileged: true}), `"test"`, `"other"`, 1), e.providerHCL(), "", 1)),
				ExpectError: phrases("Missing Proxmox VE privileges", "reduced@pve!t lacks", "VM.Allocate on /vms/4311, for vmid"),
			},
			{
				// Without VM.Allocate the destroy stops first.
				Config:      e.withToken(noAllocToken, gone),
				ExpectError: phrases("Missing Proxmox VE privileges", "noalloc@pve!t lacks", "VM.Allocate on /vms/4310, for the destroy"),
			},
			{
				// Still there, and the full token sees no change to make.
				Config:   tagged,
				PlanOnly: true,
			},
		},
		CheckDestroy: e.checkNoContainers(),
	})
}

// TestAccCloneRootOnlyWithoutSSH: a clone whose source has feature flags
// other than nesting cannot drop them with a token and no SSH: the apply
// says so before cloning (planning cannot read the source). Keeping the
// source's flags needs no root: the clone goes through.
func TestAccCloneRootOnlyWithoutSSH(t *testing.T) {
	e := newAccEnv(t)
	if !e.simOnly("root@pam's password for the source") {
		t.Skip("needs the simulator's root@pam password to give the source keyctl")
	}
	root, err := pve.New(pve.Config{Endpoint: e.endpoint, Username: "root@pam", Password: e.sim.Password, CACertificatePEM: e.caPEM})
	if err != nil {
		t.Fatal(err)
	}
	upid, err := root.CreateContainer(t.Context(), e.node, map[string]string{
		"vmid": "4401", "ostemplate": e.template, "rootfs": e.storage + ":4", "features": "keyctl=1,nesting=1",
	})
	if err == nil {
		err = root.WaitTask(t.Context(), upid)
	}
	if err != nil {
		t.Fatal(err)
	}
	clone := func(features string) string {
		return e.providerHCL() + fmt.Sprintf(`
resource "phoenix_lxc_container" "test" {
  node_name    = %q
  vmid         = 4402
  unprivileged = true
%s  clone {
    source_vmid = 4401
  }
}
`, e.node, features)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: clone(""),
				ExpectError: phrases("the clone of 4401 would turn its source's features", "changing feature flags other than nesting (keyctl)",
					"add an ssh block", "Or set features to the source's."),
				Check: func(*terraform.State) error {
					if n := len(e.containers()); n != 1 {
						return fmt.Errorf("%d containers after the refused clone, want only the source", n)
					}
					return nil
				},
			},
			{Config: clone("  features = { nesting = true, keyctl = true }\n")},
		},
	})
}

// TestConfigNeedsOfRootOnlySettings: a setting that goes to the node as
// root still needs the privilege PVE's check_ct_modify_config_perm would
// check were it not root@pam's: VM.Config.Disk for a bind or device mount,
// VM.Config.Options for devN and hookscript, VM.Allocate for feature flags.
func TestConfigNeedsOfRootOnlySettings(t *testing.T) {
	cases := []struct {
		key, old, value string
		want            string
	}{
		{"mp0", "", "/srv/data,mp=/data", "VM.Config.Disk on /vms/101, for mount_point"},
		{"mp1", "", "/dev/sdb1,mp=/disk", "VM.Config.Disk on /vms/101, for mount_point"},
		{"dev0", "", "/dev/dri/renderD128", "VM.Config.Options on /vms/101, for device"},
		{"dev0", "/dev/dri/renderD128", "", "VM.Config.Options on /vms/101, for device"},
		{"hookscript", "", "local:snippets/h.sh", "VM.Config.Options on /vms/101, for hookscript"},
		{"features", "nesting=1", "keyctl=1,nesting=1", "VM.Allocate on /vms/101, for features"},
	}
	for _, c := range cases {
		var got []string
		for _, n := range configNeeds("/vms/101", c.key, c.old, c.value, true) {
			got = append(got, n.String())
		}
		if !slices.Equal(got, []string{c.want}) {
			t.Errorf("%s %q -> %q: %v, want %s", c.key, c.old, c.value, got, c.want)
		}
	}
}

// TestAccRootOnlyNeedsAPIPrivileges: with SSH access, settings that go to
// the node as root (a bind mount, a device, a hookscript) still need the
// API identity's privilege for them; a token without it is stopped before
// any change, and the message names the privilege and the path.
func TestAccRootOnlyNeedsAPIPrivileges(t *testing.T) {
	e := newAccEnv(t, withSSH, reducedAccess([]string{"VM.Config.Disk", "VM.Config.Options"}))
	if !e.simOnly("tokens with reduced ACLs") {
		t.Skip("runs on the simulator only: it defines its own tokens")
	}
	reduced := e.sim.Tokens["reduced@pve!t"]
	base := e.containerConfig(ctConfig{VMID: 4325, Unprivileged: true})
	bind := e.containerConfig(ctConfig{VMID: 4325, Unprivileged: true, Extra: mountBlock(0, "    path   = \"/data\"\n    volume = \"/srv/data\"\n")})
	dev := e.containerConfig(ctConfig{VMID: 4325, Unprivileged: true, Extra: "  device {\n    slot = 0\n    path = \"/dev/dri/renderD128\"\n  }\n"})
	unchanged := func(*terraform.State) error {
		cfg, err := e.client.ContainerConfig(t.Context(), e.node, 4325)
		if err != nil {
			return err
		}
		if cfg.Values["mp0"] != "" || cfg.Values["dev0"] != "" {
			return fmt.Errorf("the refused apply changed the container: mp0 %q dev0 %q", cfg.Values["mp0"], cfg.Values["dev0"])
		}
		return nil
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: base},
			{
				Config:      e.withToken(reduced, bind),
				ExpectError: phrases("Missing Proxmox VE privileges", "reduced@pve!t lacks", "VM.Config.Disk on /vms/4325, for mount_point"),
			},
			{
				Config:      e.withToken(reduced, dev),
				ExpectError: phrases("Missing Proxmox VE privileges", "reduced@pve!t lacks", "VM.Config.Options on /vms/4325, for device"),
			},
			{Config: base, Check: unchanged},
		},
	})
}
