package pvesim

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// TestEnvKeptAsRuntimeLines follows write_pct_config and parse_pct_config
// in PVE::LXC::Config: env is written as one lxc.environment.runtime line
// per NUL-separated entry (before the other raw lines),
// read back joined with NUL, and never listed among the raw lxc lines; on
// a running container it waits in [pve:pending] (not in
// $LXC_FASTPLUG_OPTIONS, vmconfig_hotplug_pending skips it).
func TestEnvKeptAsRuntimeLines(t *testing.T) {
	s := startSim(t, Options{})
	root := rootAuth(t, s)
	createCTAs(t, s, root, 100, url.Values{"env": {"A=1\x00B=two words"}})
	conf := readConf(t, s, 100)
	if !strings.Contains(conf, "lxc.environment.runtime: A=1\nlxc.environment.runtime: B=two words\n") || strings.Contains(conf, "env:") {
		t.Fatalf("env in the config file:\n%s", conf)
	}
	cfg := config(t, s, 100)
	if cfg["env"] != "A=1\x00B=two words" || cfg["lxc"] != nil {
		t.Fatalf("GET config: env %q, lxc %v", cfg["env"], cfg["lxc"])
	}

	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve1/lxc/100/status/start", nil).upid(t))
	callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"env": {"C=3"}}, root).ok(t)
	if cur := current(t, s, 100); cur["env"] != "A=1\x00B=two words" {
		t.Fatalf("env changed at once on a running container: %q", cur["env"])
	}
	if p := pendingOf(t, s, 100); p["env"] != "C=3" {
		t.Fatalf("pending env %q", p["env"])
	}
	if !strings.Contains(readConf(t, s, 100), "[pve:pending]\nlxc.environment.runtime: C=3\n") {
		t.Fatalf("pending env in the file:\n%s", readConf(t, s, 100))
	}
	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve1/lxc/100/status/stop", nil).upid(t))
	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve1/lxc/100/status/start", nil).upid(t))
	if cfg = config(t, s, 100); cfg["env"] != "C=3" {
		t.Fatalf("after a restart env is %q", cfg["env"])
	}
	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve1/lxc/100/status/stop", nil).upid(t))
	callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"delete": {"env"}}, root).ok(t)
	if cfg = config(t, s, 100); cfg["env"] != nil || strings.Contains(readConf(t, s, 100), "lxc.environment.runtime") {
		t.Fatalf("env after its delete: %q\n%s", cfg["env"], readConf(t, s, 100))
	}
	// The schema's pattern: NAME=value entries, one NUL between two.
	for _, bad := range []string{"not a variable", "A=1\x00\x00B=2", "A=1\x00"} {
		r := callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"env": {bad}}, root)
		if r.status != http.StatusBadRequest || !strings.Contains(r.raw, "value does not match the regex pattern") {
			t.Errorf("env %q: %d %q", bad, r.status, r.raw)
		}
	}
}

// TestEnvReadRestricted follows delete_read_restricted_options in PVE::LXC
// ($options_with_restricted_read): GET config and GET pending leave env out
// for a reader without VM.Config.Options on the container.
func TestEnvReadRestricted(t *testing.T) {
	s := startSim(t, Options{Access: limitedAccess("VM.Config.Options")})
	limited := tokenAuth(s.Tokens["limited@pve!t"])
	createCTAs(t, s, rootAuth(t, s), 100, url.Values{"env": {"SECRET=x"}, "cores": {"1"}})
	cfg := callWith(t, s, http.MethodGet, "/nodes/pve1/lxc/100/config", nil, limited).obj(t)
	if _, ok := cfg["env"]; ok || cfg["cores"] == nil {
		t.Fatalf("a reader without VM.Config.Options sees %v", cfg)
	}
	for _, it := range callWith(t, s, http.MethodGet, "/nodes/pve1/lxc/100/pending", nil, limited).list(t) {
		if m, _ := it.(map[string]any); m["key"] == "env" {
			t.Fatalf("GET pending shows env to a reader without VM.Config.Options: %v", m)
		}
	}
	if cfg = config(t, s, 100); cfg["env"] != "SECRET=x" {
		t.Fatalf("root's token does not see env: %v", cfg)
	}
}

// TestHookscriptChecked follows PVE::GuestHelpers::check_hookscript, which
// update_pct_config runs for a hookscript on create and update, with
// PVE::Storage::path: the storage must exist and parse the name, the
// volume must be a snippet, exist and be executable. It is fast-pluggable
// ($LXC_FASTPLUG_OPTIONS): a running container gets it at once.
func TestHookscriptChecked(t *testing.T) {
	s := startSim(t, Options{Snippets: []string{"hook.sh"}})
	root := rootAuth(t, s)
	noexec := SnippetPath(s.StateDir, "pve1", "local:snippets/noexec.sh")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"local:snippets/missing.sh":  "script 'local:snippets/missing.sh' does not exist",
		"local:snippets/noexec.sh":   "script 'local:snippets/noexec.sh' is not executable",
		"local:vztmpl/x.tar.zst":     "'local:vztmpl/x.tar.zst' is not in the snippets directory",
		"local:hooks/x.sh":           "unable to parse directory volume name 'hooks/x.sh'",
		"local-lvm:snippets/hook.sh": "lvm name 'snippets/hook.sh' contains illegal characters",
		"nosuch:snippets/hook.sh":    "storage 'nosuch' does not exist",
		"local-lvm:vm-100-disk-0":    "'local-lvm:vm-100-disk-0' is not in the snippets directory",
	}
	for vol, want := range cases {
		r := callWith(t, s, http.MethodPost, "/nodes/pve1/lxc", createForm("101", url.Values{"hookscript": {vol}}), root)
		if r.status != http.StatusInternalServerError || r.reason != want {
			t.Errorf("create with hookscript %s: %d %q, want 500 %q", vol, r.status, r.reason, want)
		}
	}
	if ids := s.srv.store.list("pve1"); len(ids) != 0 {
		t.Fatalf("a refused create left containers %v", ids)
	}
	createCTAs(t, s, root, 102, url.Values{"hookscript": {"local:snippets/hook.sh"}})
	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve1/lxc/102/status/start", nil).upid(t))
	r := callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/102/config", url.Values{"hookscript": {"local:snippets/noexec.sh"}}, root)
	if r.status != http.StatusInternalServerError || r.reason != "script 'local:snippets/noexec.sh' is not executable" {
		t.Fatalf("update to a script that is not executable: %d %q", r.status, r.reason)
	}
	if err := os.Chmod(noexec, 0o755); err != nil {
		t.Fatal(err)
	}
	callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/102/config", url.Values{"hookscript": {"local:snippets/noexec.sh"}}, root).ok(t)
	if cur := current(t, s, 102); cur["hookscript"] != "local:snippets/noexec.sh" {
		t.Fatalf("hookscript is not applied at once on a running container: %v", cur["hookscript"])
	}
}
