package sshd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDockerInstallSafeguardsInCT runs the install script's safeguards
// against the container stand-ins: the repair of an interrupted dpkg, the
// fingerprint check of Docker's apt key (coreutils, then gpg once gnupg is
// installed), apt's refusal while the dpkg journal is not empty, and the
// lock against a concurrent run.
func TestDockerInstallSafeguardsInCT(t *testing.T) {
	t.Parallel()
	install := dockerScript(t, "phoenix_hypervisor_feature_install_docker.sh")
	dockerKey, err := os.ReadFile(filepath.Join("standins", "ct", "keys", "docker-release-key.asc"))
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t)
	e.mustRun("cat > /etc/apparmor.d/lxc/lxc-docker-secure", testProfile)
	e.mustRun("apparmor_parser -r /etc/apparmor.d/lxc-containers", "")
	secure := []string{"lxc.apparmor.profile: lxc-docker-secure", "lxc.apparmor.allow_nesting: 1"}
	const installCmd = "pct exec 105 -- env PHOENIX_RETRY_DELAY=0 PHOENIX_APT_ATTEMPTS=1 bash -s -- --network-target 1.1.1.1"

	// Without nesting docker's postinst fails: dpkg is left with docker-ce
	// half configured.
	e.addCT(105, ctConf(105, "keyctl=1", secure...), true)
	if r := e.run(installCmd, install); r.exit == 0 {
		t.Fatalf("install without nesting succeeded: %s", r)
	}
	if r := e.mustRun("pct exec 105 -- dpkg --audit", ""); !strings.Contains(r.stdout, "only half configured") || !strings.Contains(r.stdout, " docker-ce ") {
		t.Fatalf("dpkg --audit after the failed postinst: %s", r)
	}

	// With nesting the next run first completes dpkg's work.
	e.addCT(105, ctConf(105, "nesting=1,keyctl=1", secure...), true)
	r := e.run(installCmd, install)
	if r.exit != 0 || !strings.Contains(r.stdout, "phoenix-docker: [dpkg] running dpkg --configure -a") ||
		!strings.Contains(r.stdout, "phoenix-docker: [dpkg] Setting up docker-ce") || !strings.Contains(r.stdout, "\nphoenix-docker: result installed_version=5:") || !strings.Contains(r.stdout, " changed=1 ") {
		t.Fatalf("install after nesting was enabled: %s", r)
	}
	if r := e.mustRun("pct exec 105 -- dpkg --audit", ""); r.stdout != "" {
		t.Errorf("dpkg --audit after the repair: %s", r)
	}

	// dpkg killed while it unpacks docker-ce, as make test-userland does to
	// Debian's real dpkg: the package is left half-installed ("reinstreq"),
	// apt-get refuses until "dpkg --configure -a", which does not mend it,
	// and a plain "apt-get install" calls it the newest version; the script
	// reinstalls it.
	e.mustRun("pct exec 105 -- apt-get -y remove docker-ce", "")
	if err := SetCTFault(e.state, "pve1", 105, FaultDpkgInterrupt, 1); err != nil {
		t.Fatal(err)
	}
	if r := e.run(installCmd, install); r.exit == 0 || !strings.Contains(r.stdout, "E: Sub-process /usr/bin/dpkg exited unexpectedly") {
		t.Fatalf("install with dpkg killed: %s", r)
	}
	if r := e.run("pct exec 105 -- apt-get -y install docker-ce", ""); r.exit != 100 || !strings.Contains(r.stderr, "dpkg was interrupted") {
		t.Errorf("apt-get after the kill: %s", r)
	}
	e.mustRun("pct exec 105 -- dpkg --configure -a", "")
	if r := e.mustRun("pct exec 105 -- dpkg --audit", ""); !strings.Contains(r.stdout, "in a mess due to serious problems") || !strings.Contains(r.stdout, " docker-ce ") {
		t.Errorf("dpkg --audit after dpkg --configure -a: %s", r)
	}
	if r := e.mustRun("pct exec 105 -- apt-get -y install docker-ce", ""); !strings.Contains(r.stdout, "docker-ce is already the newest version") || !strings.Contains(r.stdout, "1 not fully installed or removed.") {
		t.Errorf("apt-get install of a half-installed package: %s", r)
	}
	if r := e.mustRun("pct exec 105 -- dpkg-query -W '-f=${Status}' docker-ce", ""); r.stdout != "install reinstreq half-installed" {
		t.Errorf("docker-ce after a plain apt-get install: %s", r)
	}
	r = e.run(installCmd, install)
	if r.exit != 0 || !strings.Contains(r.stdout, "[packages] docker-ce is half-installed (dpkg: reinstreq): reinstalling it") || !strings.Contains(r.stdout, "1 reinstalled") {
		t.Fatalf("install after the kill: %s", r)
	}
	if r := e.mustRun("pct exec 105 -- dpkg --audit", ""); r.stdout != "" {
		t.Errorf("dpkg --audit after the reinstall: %s", r)
	}
	if r := e.mustRun("pct exec 105 -- cat /etc/apt/keyrings/docker.asc", ""); r.stdout != string(dockerKey) {
		t.Errorf("the key in the CT is not Docker's: %s", r)
	}

	// A key replaced inside the CT is put back, verified by coreutils (no
	// gpg in a fresh CT), and apt accepts the repository again.
	e.mustRun("pct exec 105 -- bash -c 'echo tampered > /etc/apt/keyrings/docker.asc'", "")
	e.mustRun("pct exec 105 -- systemctl stop docker", "")
	r = e.run(installCmd, install)
	if r.exit != 0 || !strings.Contains(r.stdout, "is not Docker's release key 9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88") ||
		!strings.Contains(r.stdout, "has the expected fingerprint") {
		t.Fatalf("install with a tampered key: %s", r)
	}
	if r := e.mustRun("pct exec 105 -- cat /etc/apt/keyrings/docker.asc", ""); r.stdout != string(dockerKey) {
		t.Errorf("the tampered key was not replaced: %s", r)
	}
	e.mustRun("pct exec 105 -- apt-get -q update", "")

	// With gnupg installed the script asks gpg; the run changes nothing.
	e.mustRun("pct exec 105 -- apt-get install -y gnupg", "")
	r = e.mustRun("pct exec 105 -- gpg --batch --no-keyring --show-keys --with-colons /etc/apt/keyrings/docker.asc", "")
	if !strings.Contains(r.stdout, "\nfpr:::::::::9DC858229FC7DD38854AE2D88D81803C0EBFCD88:\n") {
		t.Errorf("gpg --show-keys: %s", r)
	}
	if r := e.run(installCmd, install); r.exit != 0 || !strings.HasSuffix(r.stdout, "changed=0 packages= items=\n") {
		t.Errorf("install with gpg present: %s", r)
	}
	// The first octets of the real "gpg --dearmor" of Docker's key.
	if r := e.mustRun("pct exec 105 -- bash -c 'gpg --dearmor < /etc/apt/keyrings/docker.asc | od -An -tx1 | head -n1'", ""); r.stdout != " 99 02 0d 04 58 ad da 2a 01 10 00 e1 5a 96 7c ff\n" {
		t.Errorf("gpg --dearmor: %s", r)
	}

	// A journal entry in /var/lib/dpkg/updates: apt refuses until the
	// script's dpkg --configure -a.
	e.mustRun(`pct exec 105 -- bash -c 'printf "Package: docker-ce\nStatus: install ok half-configured\nVersion: %s\n" "$(dpkg-query -W -f="\${Version}" docker-ce)" > /var/lib/dpkg/updates/0001'`, "")
	if r := e.run("pct exec 105 -- apt-get install -y lsb-release", ""); r.exit != 100 || !strings.Contains(r.stderr, "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem.") {
		t.Errorf("apt-get with a dpkg journal: %s", r)
	}
	r = e.run(installCmd, install)
	if r.exit != 0 || !strings.Contains(r.stdout, "dpkg was interrupted: /var/lib/dpkg/updates holds journal files") {
		t.Fatalf("install with a dpkg journal: %s", r)
	}
	e.mustRun("pct exec 105 -- apt-get install -y lsb-release", "")

	// A run holding the lock: another one waits, then gives up.
	holder := make(chan result, 1)
	go func() {
		sess, err := e.client.NewSession()
		if err != nil {
			holder <- result{exit: -1, stderr: err.Error()}
			return
		}
		defer func() { _ = sess.Close() }()
		err = sess.Run("pct exec 105 -- flock /run/phoenix-docker.lock sleep 8")
		r := result{}
		if err != nil {
			r.exit, r.stderr = -1, err.Error()
		}
		holder <- r
	}()
	deadline := time.Now().Add(20 * time.Second)
	for e.run("pct exec 105 -- flock -n /run/phoenix-docker.lock true", "").exit == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the lock holder never took the lock")
		}
		time.Sleep(100 * time.Millisecond)
	}
	r = e.run("pct exec 105 -- env PHOENIX_LOCK_TIMEOUT=1 bash -s -- --network-target 1.1.1.1", install)
	if r.exit == 0 || !strings.Contains(r.stdout, "FATAL: another run of this script still holds /run/phoenix-docker.lock after 1 s") {
		t.Errorf("install while another run holds the lock: %s", r)
	}
	if h := <-holder; h.exit != 0 {
		t.Errorf("lock holder: %s", h)
	}
	if r := e.run(installCmd, install); r.exit != 0 || !strings.HasSuffix(r.stdout, "changed=0 packages= items=\n") {
		t.Errorf("install after the lock was released: %s", r)
	}
}
