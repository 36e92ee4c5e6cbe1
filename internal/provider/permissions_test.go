package provider

import (
	"fmt"
	"reflect"
	"regexp"
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
		}},
		CheckDestroy: func(*terraform.State) error {
			if e.sim != nil && e.sim.CountMutating() != 0 {
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
	e := newAccEnv(t)
	if !e.simOnly("root@pam's password") {
		t.Skip("needs the simulator's root@pam password: a real cluster's is not in the environment")
	}
	e.rootLogin = true
	e.resetLog()
	cfg := e.containerConfig(ctConfig{VMID: 4150, Unprivileged: true, Nesting: true})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: cfg,
			Check: func(*terraform.State) error {
				var post string
				for _, r := range e.sim.Requests() {
					if r.Source == "ssh" {
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
