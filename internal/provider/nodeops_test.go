package provider

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/apparmor"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/lxcconf"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/nodeexec"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim/sshd"
)

// nodeEnv is one simulated node (pvesim's SSH server on a temporary state
// dir) and a providerData whose ssh block points at it, host key verified
// strictly.
type nodeEnv struct {
	t      testing.TB
	state  string
	srv    *sshd.Server
	faults *sshd.Injector
	key    string // the client's private key (OpenSSH PEM)
	known  string // known_hosts holding the server's key
	data   *providerData

	mu     sync.Mutex
	events []sshd.Event
}

const testNode = "pve1"

func newNodeEnv(t testing.TB) *nodeEnv {
	t.Helper()
	e := &nodeEnv{t: t, state: t.TempDir(), faults: &sshd.Injector{}}
	keyPath, pub, err := sshd.EnsureClientKey(e.state)
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	e.key = string(key)
	srv, err := sshd.Start(sshd.Options{
		StateDir:       e.state,
		Node:           testNode,
		AuthorizedKeys: []ssh.PublicKey{pub},
		OnCommand: func(ev sshd.Event) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.events = append(e.events, ev)
		},
		Faults: e.faults.FaultSet,
	})
	if err != nil {
		t.Skipf("the pvesim SSH server cannot run here, so node operations cannot be exercised: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close ssh server: %v", err)
		}
	})
	e.srv = srv
	e.known = filepath.Join(e.state, "ssh", "known_hosts")
	if err := sshd.WriteKnownHosts(e.known, srv); err != nil {
		t.Fatal(err)
	}
	e.data = e.newProviderData(e.key, e.known)
	return e
}

// newProviderData returns a providerData whose ssh block reaches the node
// with key and known_hosts file known. Its pool is closed with the test.
func (e *nodeEnv) newProviderData(key, known string) *providerData {
	e.t.Helper()
	host, port, err := net.SplitHostPort(e.srv.Addr())
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		e.t.Fatal(err)
	}
	d := &providerData{Settings: settings{SSH: sshSettings{
		Config: nodeexec.Config{Username: "root", PrivateKey: key, KnownHostsFile: known},
		Nodes:  []sshNode{{Name: testNode, Address: host, Port: p}},
	}}}
	e.t.Cleanup(func() {
		if pool := d.node.pool; pool != nil {
			_ = pool.Close()
		}
	})
	return d
}

// addCT writes a container's config and rootfs volume, as the simulator
// core does on create, and marks it running.
func (e *nodeEnv) addCT(vmid int, conf string, running bool) {
	e.t.Helper()
	vol := filepath.Join(e.state, "volumes", testNode, "local-lvm", fmt.Sprintf("vm-%d-disk-0", vmid))
	for _, d := range []string{"etc", "var", "run", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(vol, d), 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := os.WriteFile(e.confPath(vmid), []byte(conf), 0o640); err != nil {
		e.t.Fatal(err)
	}
	run := filepath.Join(e.state, "runtime", testNode, fmt.Sprintf("%d.running", vmid))
	if running {
		if err := os.WriteFile(run, []byte(`{"pid":4242,"started":1700000000}`+"\n"), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *nodeEnv) confPath(vmid int) string {
	return filepath.Join(e.state, "nodes", testNode, "lxc", fmt.Sprintf("%d.conf", vmid))
}

func (e *nodeEnv) readConf(vmid int) string {
	e.t.Helper()
	b, err := os.ReadFile(e.confPath(vmid))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// rawLines returns the raw lxc.* lines of container vmid's main section, as
// the API reports them; none when the container has no config.
func (e *nodeEnv) rawLines(vmid int) [][2]string {
	e.t.Helper()
	b, err := os.ReadFile(e.confPath(vmid))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	cfg, err := lxcconf.Parse(b)
	if err != nil {
		e.t.Fatal(err)
	}
	var out [][2]string
	for _, kv := range cfg.Main().LXC() {
		out = append(out, [2]string{kv.Key, kv.Value})
	}
	return out
}

// applyProfile gives container vmid on testNode the AppArmor profile the
// way Create and Update do; see applyProfileOn.
func (e *nodeEnv) applyProfile(d *providerData, vmid int, profile string, docker bool) (bool, error) {
	e.t.Helper()
	return applyProfileOn(e.t, d, testNode, vmid, e.rawLines(vmid), profile, docker)
}

// applyProfileOn gives a container the AppArmor profile the way Create and
// Update do, through applyNodeConfig: the model keeps the container's other
// raw lines (current, as the API reports them) as Read maps them and asks
// for profile ("" for Proxmox VE's own); with docker it has a docker block,
// which adds lxc.apparmor.allow_nesting and has the profile installed on the
// node first.
func applyProfileOn(t testing.TB, d *providerData, node string, vmid int, current [][2]string, profile string, docker bool) (bool, error) {
	t.Helper()
	changed, _, err := applyProfileWarning(t, d, node, vmid, current, profile, docker)
	return changed, err
}

// applyProfileWarning is applyProfileOn with the warning the apply shows.
func applyProfileWarning(t testing.TB, d *providerData, node string, vmid int, current [][2]string, profile string, docker bool) (bool, string, error) {
	t.Helper()
	ctx := t.Context()
	m := &lxcContainerModel{
		ID:       types.StringValue(fmt.Sprintf("%s/%d", node, vmid)),
		NodeName: types.StringValue(node),
		VMID:     types.Int64Value(int64(vmid)),
	}
	if diags := applyRawLXC(ctx, m, current); diags.HasError() {
		t.Fatal(diags)
	}
	m.EffectiveAA = types.StringValue(profile)
	if docker {
		m.Docker = &dockerModel{}
	}
	r := &lxcContainerResource{data: d}
	return r.applyNodeConfig(ctx, m, current)
}

// waitEvents returns the server's events once there are at least n (they
// are reported just after the client sees the exit status).
func (e *nodeEnv) waitEvents(n int) []sshd.Event {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.mu.Lock()
		evs := append([]sshd.Event(nil), e.events...)
		e.mu.Unlock()
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("got %d ssh commands on the node, want at least %d", len(evs), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *nodeEnv) eventCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.events)
}

// writesSince returns the commands from index from on that changed the
// node's state.
func writesSince(evs []sshd.Event, from int) []string {
	var out []string
	for _, ev := range evs[from:] {
		if ev.Write {
			out = append(out, ev.Command)
		}
	}
	return out
}

// testConf is a CT config with a description, raw lines, a snapshot section
// holding its own raw lines and a pending section: only the main section may
// ever change.
const testConfMain = `#Docker host%0A
#managed by phoenix
arch: amd64
cores: 2
features: nesting=1,keyctl=1
hostname: ct102
memory: 2048
net0: name=eth0,bridge=vmbr0,ip=dhcp,type=veth
ostype: debian
parent: before-docker
rootfs: local-lvm:vm-102-disk-0,size=8G
unprivileged: 1
lxc.cgroup2.devices.allow: c 10:229 rwm
lxc.apparmor.profile = unconfined
lxc.mount.entry: /dev/fuse dev/fuse none bind,create=file 0 0
`

const testConfRest = `
[before-docker]
#snapshot comment  
arch: amd64
cores: 1
hostname: ct102
lxc.apparmor.profile: unconfined
memory: 1024
rootfs: local-lvm:vm-102-disk-0,size=8G
snaptime: 1700000000
unprivileged: 1

[pve:pending]
cores: 4
`

func TestApplyNodeConfigEditsOnlyTheMainSection(t *testing.T) {
	e := newNodeEnv(t)
	e.addCT(102, testConfMain+testConfRest, true)
	ops := e.data.NodeOps()

	changed, err := e.applyProfile(e.data, 102, dockerProfile.Name, true)
	if err != nil {
		t.Fatal(err)
	}
	if !changed {
		t.Error("the first apply reported no change")
	}
	// The raw lines are written again in the model's order, the lxc_config
	// lines then the AppArmor lines; every other line and section stays.
	wantMain := strings.Replace(testConfMain, "lxc.apparmor.profile = unconfined\n", "", 1) +
		"lxc.apparmor.profile: lxc-docker-secure\nlxc.apparmor.allow_nesting: 1\n"
	if got := e.readConf(102); got != wantMain+testConfRest {
		t.Fatalf("config after the apply:\n%s\nwant:\n%s", got, wantMain+testConfRest)
	}
	wantRaw := [][2]string{
		{"lxc.cgroup2.devices.allow", "c 10:229 rwm"},
		{"lxc.mount.entry", "/dev/fuse dev/fuse none bind,create=file 0 0"},
		{"lxc.apparmor.profile", "lxc-docker-secure"},
		{"lxc.apparmor.allow_nesting", "1"},
	}
	if got := e.rawLines(102); fmt.Sprint(got) != fmt.Sprint(wantRaw) {
		t.Errorf("raw lines = %v, want %v", got, wantRaw)
	}

	// The same values again: the lines the API reports are already right, so
	// nothing is sent to the node (the profile is known current).
	before := ops.Counts()
	changed, err = e.applyProfile(e.data, 102, dockerProfile.Name, true)
	if err != nil {
		t.Fatal(err)
	}
	if changed {
		t.Error("the second apply with the same values reported a change")
	}
	if after := ops.Counts(); after.Commands != before.Commands {
		t.Errorf("the second apply sent %d commands, want none", after.Commands-before.Commands)
	}

	// Back to PVE's default: both lines go, the snapshot keeps its own.
	changed, err = e.applyProfile(e.data, 102, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if !changed {
		t.Error("the apply back to the default reported no change")
	}
	wantMain = strings.Replace(testConfMain, "lxc.apparmor.profile = unconfined\n", "", 1)
	if got := e.readConf(102); got != wantMain+testConfRest {
		t.Fatalf("config after removing the profile:\n%s\nwant:\n%s", got, wantMain+testConfRest)
	}
}

func TestApplyNodeConfigWithoutNestingDropsAllowNesting(t *testing.T) {
	e := newNodeEnv(t)
	e.addCT(103, "arch: amd64\nrootfs: local-lvm:vm-103-disk-0,size=8G\nlxc.apparmor.profile: a\nlxc.apparmor.allow_nesting: 1\n", false)
	changed, err := e.applyProfile(e.data, 103, "lxc-default-cgns", false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "arch: amd64\nrootfs: local-lvm:vm-103-disk-0,size=8G\nlxc.apparmor.profile: lxc-default-cgns\n"; !changed || e.readConf(103) != want {
		t.Errorf("changed=%v, config:\n%s\nwant:\n%s", changed, e.readConf(103), want)
	}
}

func TestSetRawLXCConcurrentEditsBothLand(t *testing.T) {
	e := newNodeEnv(t)
	e.addCT(104, "arch: amd64\nrootfs: local-lvm:vm-104-disk-0,size=8G\n"+testConfRest, true)
	ops := e.data.NodeOps()

	// Both callers' reads of the file end before either writes (the node's
	// log of ended commands says so), so one write must find the file
	// changed under the lock and the whole edit run again.
	readsEnded := func() int {
		e.mu.Lock()
		defer e.mu.Unlock()
		n := 0
		for _, ev := range e.events {
			if strings.HasPrefix(ev.Command, "cat ") && strings.Contains(ev.Command, "/104.conf") {
				n++
			}
		}
		return n
	}
	var once sync.Once
	firstRound := make(chan struct{})
	ops.onCommand = func(_ string, cmd nodeexec.Command, _ bool) {
		if cmd.Op != opWriteLXCConfig {
			return
		}
		once.Do(func() {
			go func() {
				for deadline := time.Now().Add(30 * time.Second); readsEnded() < 2 && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
				close(firstRound)
			}()
		})
		<-firstRound
	}
	keys := []string{"lxc.phoenix.first", "lxc.phoenix.second"}
	errs := make(chan error, len(keys))
	for _, k := range keys {
		go func() {
			_, err := ops.SetRawLXC(t.Context(), testNode, 104, func(main *lxcconf.Section) bool {
				main.AddLXC(k, "1")
				return true
			})
			errs <- err
		}()
	}
	for range keys {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	conf := e.readConf(104)
	for _, k := range keys {
		if !strings.Contains(conf, k+": 1\n") {
			t.Errorf("edit of %s was lost:\n%s", k, conf)
		}
	}
	if !strings.HasSuffix(conf, testConfRest) {
		t.Errorf("the snapshot and pending sections changed:\n%s", conf)
	}
	c := ops.Counts()
	if c.ByOp[opWriteLXCConfig] != 3 || c.ByOp[opReadLXCConfig] != 3 {
		t.Errorf("ops = %v, want 3 reads and 3 writes (one write refused because the file changed)", c.ByOp)
	}
	refused := 0
	for _, ev := range e.waitEvents(c.Commands) {
		if strings.Contains(ev.Command, opWriteLXCConfig) && ev.Exit == errConfigChangedExit {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d writes were refused by the sha check, want 1", refused)
	}
}

// TestSetRawLXCHoldsTheConfigLock edits the file from the test while holding
// PVE's config lock between SetRawLXC's read and its write: the write waits
// for the lock, sees the file changed, and the edit is redone on top.
func TestSetRawLXCHoldsTheConfigLock(t *testing.T) {
	e := newNodeEnv(t)
	e.addCT(105, "arch: amd64\nrootfs: local-lvm:vm-105-disk-0,size=8G\n", true)
	ops := e.data.NodeOps()

	lock, err := os.OpenFile(filepath.Join(e.state, "locks", "pve-config-105.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Close() }()
	aboutToWrite := make(chan struct{})
	var once sync.Once
	ops.onCommand = func(_ string, cmd nodeexec.Command, _ bool) {
		if cmd.Op == opWriteLXCConfig {
			once.Do(func() { close(aboutToWrite) })
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := ops.SetRawLXC(t.Context(), testNode, 105, func(main *lxcconf.Section) bool {
			main.AddLXC("lxc.phoenix.mine", "1")
			return true
		})
		done <- err
	}()
	<-aboutToWrite
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	// What PVE does under its lock: rewrite the file.
	if err := os.WriteFile(e.confPath(105), []byte("arch: amd64\ncores: 3\nrootfs: local-lvm:vm-105-disk-0,size=8G\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, want := e.readConf(105), "arch: amd64\ncores: 3\nrootfs: local-lvm:vm-105-disk-0,size=8G\nlxc.phoenix.mine: 1\n"; got != want {
		t.Errorf("config:\n%s\nwant:\n%s", got, want)
	}
}

func TestSetRawLXCNothingToDoSendsNoWrite(t *testing.T) {
	e := newNodeEnv(t)
	conf := "arch: amd64\nrootfs: local-lvm:vm-106-disk-0,size=8G\nlxc.apparmor.profile:   lxc-docker-secure  \n"
	e.addCT(106, conf, false)
	ops := e.data.NodeOps()
	// An edit that claims a change but leaves the bytes alone writes
	// nothing.
	changed, err := ops.SetRawLXC(t.Context(), testNode, 106, func(*lxcconf.Section) bool {
		return true
	})
	if err != nil || changed {
		t.Fatalf("SetRawLXC = %v, %v; want false, nil", changed, err)
	}
	if c := ops.Counts(); c.Writes != 0 || c.Commands != 1 {
		t.Errorf("counts = %+v, want one read and no write", c)
	}
	if e.readConf(106) != conf {
		t.Error("the config changed")
	}
}

func TestSetRawLXCRefusesBadEditsWithoutWriting(t *testing.T) {
	e := newNodeEnv(t)
	e.addCT(107, "arch: amd64\nrootfs: local-lvm:vm-107-disk-0,size=8G\n"+testConfRest, false)
	ops := e.data.NodeOps()
	_, err := ops.SetRawLXC(t.Context(), testNode, 107, func(main *lxcconf.Section) bool {
		main.AddLXC("lxc.phoenix.bad", "two\nlines")
		return true
	})
	if err == nil || !strings.Contains(err.Error(), "line feed") {
		t.Errorf("error = %v, want the line feed refused", err)
	}
	if c := ops.Counts(); c.Writes != 0 {
		t.Errorf("a refused edit sent %d writes", c.Writes)
	}
	_, err = ops.SetRawLXC(t.Context(), testNode, 999, func(*lxcconf.Section) bool { return true })
	if err == nil || !strings.Contains(err.Error(), "has no config on node") {
		t.Errorf("missing CT: error = %v", err)
	}
}

func TestSetRawLXCRefusesALockedContainer(t *testing.T) {
	e := newNodeEnv(t)
	conf := "arch: amd64\nlock: backup\nrootfs: local-lvm:vm-109-disk-0,size=8G\n"
	e.addCT(109, conf, true)
	ops := e.data.NodeOps()
	_, err := e.applyProfile(e.data, 109, "lxc-default-cgns", false)
	if err == nil || !strings.Contains(err.Error(), "locked (backup)") {
		t.Errorf("error = %v, want the lock named", err)
	}
	if c := ops.Counts(); c.Writes != 0 || e.readConf(109) != conf {
		t.Errorf("a locked CT was written: %+v", c)
	}
}

// TestSetRawLXCConnectionDroppedAfterTheWrite loses the connection once the
// write has run but before its exit status arrives: SetRawLXC reads the file
// again on a new connection, finds its edit in place and reports the change.
func TestSetRawLXCConnectionDroppedAfterTheWrite(t *testing.T) {
	e := newNodeEnv(t)
	e.addCT(110, "arch: amd64\nrootfs: local-lvm:vm-110-disk-0,size=8G\nunprivileged: 1\n", true)
	drop, err := e.faults.Drop(opWriteLXCConfig, sshd.DropAfter, 1)
	if err != nil {
		t.Fatal(err)
	}
	ops := e.data.NodeOps()
	changed, err := e.applyProfile(e.data, 110, dockerProfile.Name, true)
	if err != nil || !changed {
		t.Fatalf("applyNodeConfig = %v, %v; want true, nil", changed, err)
	}
	if drop.Fired() != 1 {
		t.Errorf("the drop fired %d times", drop.Fired())
	}
	if c := ops.Counts(); c.ByOp[opWriteLXCConfig] != 1 || c.ByOp[opReadLXCConfig] != 2 {
		t.Errorf("ops = %v, want one write and two reads", c.ByOp)
	}
	want := "arch: amd64\nrootfs: local-lvm:vm-110-disk-0,size=8G\nunprivileged: 1\nlxc.apparmor.profile: lxc-docker-secure\nlxc.apparmor.allow_nesting: 1\n"
	if got := e.readConf(110); got != want {
		t.Errorf("config:\n%s\nwant:\n%s", got, want)
	}
}

// BenchmarkSetRawLXCUnchanged measures an edit with nothing to do: one read
// of the config over the pooled connection, no write.
func BenchmarkSetRawLXCUnchanged(b *testing.B) {
	e := newNodeEnv(b)
	e.addCT(130, "arch: amd64\nrootfs: local-lvm:vm-130-disk-0,size=8G\n", true)
	if _, err := e.applyProfile(e.data, 130, dockerProfile.Name, true); err != nil {
		b.Fatal(err)
	}
	ops := e.data.NodeOps()
	before := ops.Counts()
	for b.Loop() {
		changed, err := ops.SetRawLXC(b.Context(), testNode, 130, func(*lxcconf.Section) bool { return false })
		if err != nil || changed {
			b.Fatalf("SetRawLXC = %v, %v", changed, err)
		}
	}
	b.StopTimer()
	if c := ops.Counts(); c.Writes != before.Writes {
		b.Errorf("%d writes, want none", c.Writes-before.Writes)
	}
}

func TestEditMainKeepsOtherSections(t *testing.T) {
	old := []byte(testConfMain + testConfRest)
	updated, err := editMain(old, func(main *lxcconf.Section) bool {
		main.Set("cores", "8")
		main.AddLXC("lxc.apparmor.profile", "x")
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(updated, []byte(testConfRest)) || !bytes.Contains(updated, []byte("cores: 8\n")) {
		t.Errorf("updated:\n%s", updated)
	}
	if got := string(afterMain(old)); got != strings.TrimPrefix(testConfRest, "\n") {
		t.Errorf("afterMain = %q", got)
	}
	if afterMain([]byte("arch: amd64\n")) != nil {
		t.Error("afterMain of a main-only config is not empty")
	}
}

func TestEnsureProfileInstallsThenIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t)
	ops := e.data.NodeOps()
	ctx := t.Context()
	changed, _, err := ops.EnsureProfile(ctx, testNode, dockerProfile)
	if err != nil {
		t.Fatal(err)
	}
	if !changed {
		t.Error("first EnsureProfile reported no change")
	}
	installed, err := os.ReadFile(filepath.Join(e.state, "apparmor", testNode, "lxc", dockerProfile.Name))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(installed, dockerProfile.Files[0].Content) {
		t.Error("the node's profile differs from the embedded one")
	}
	loaded, err := os.ReadFile(filepath.Join(e.state, "apparmor", testNode, ".loaded"))
	if err != nil || !strings.Contains(string(loaded), dockerProfile.Name+" (enforce)\n") {
		t.Errorf("the profile is not loaded on the node (%v): %q", err, loaded)
	}

	// The same provider run: known current, no command.
	before := ops.Counts()
	if changed, _, err := ops.EnsureProfile(ctx, testNode, dockerProfile); err != nil || changed {
		t.Errorf("second EnsureProfile = %v, %v", changed, err)
	}
	if c := ops.Counts(); c.Commands != before.Commands {
		t.Errorf("second EnsureProfile in one run sent %d commands", c.Commands-before.Commands)
	}

	// A new run: the node-side command finds everything in place.
	n := len(e.waitEvents(before.Commands))
	ops2 := e.newProviderData(e.key, e.known).NodeOps()
	report, err := ops2.ensureProfile(ctx, testNode, dockerProfile)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Installed) > 0 || len(report.Removed) > 0 || len(report.Unchanged) == 0 {
		t.Errorf("EnsureProfile in a new run: %+v; want every file unchanged", report)
	}
	if report.Loaded {
		t.Error("a profile the kernel lists in enforce mode was loaded again")
	}
	if c := ops2.Counts(); c.Commands != 1 {
		t.Errorf("EnsureProfile in a new run sent %d commands, want 1", c.Commands)
	}
	if w := writesSince(e.waitEvents(n+1), n); len(w) > 0 {
		t.Errorf("an up-to-date profile was written again: %q", w)
	}
}

// TestEnsureProfileKnowsProfilesByNameAndHash: what a node has ensured is
// the profile's name and hash, so another version of the profile is
// installed even when one is known current, and the first is installed
// again after it.
func TestEnsureProfileKnowsProfilesByNameAndHash(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t)
	ops := e.data.NodeOps()
	ctx := t.Context()
	ensure := func(p apparmor.Profile) int {
		t.Helper()
		before := ops.Counts()
		if _, _, err := ops.EnsureProfile(ctx, testNode, p); err != nil {
			t.Fatal(err)
		}
		return ops.Counts().Commands - before.Commands
	}
	changed := apparmor.Profile{Name: dockerProfile.Name, Files: slices.Clone(dockerProfile.Files)}
	changed.Files[0].Content = append(slices.Clone(changed.Files[0].Content), "# changed\n"...)
	if changed.SHA256() == dockerProfile.SHA256() {
		t.Fatal("the changed profile has the same hash")
	}
	for i, step := range []struct {
		p    apparmor.Profile
		sent int
	}{
		{dockerProfile, 1}, {dockerProfile, 0}, {changed, 1}, {changed, 0}, {dockerProfile, 1},
	} {
		if n := ensure(step.p); n != step.sent {
			t.Errorf("step %d (%s): %d commands, want %d", i, step.p.SHA256()[:12], n, step.sent)
		}
	}
	installed, err := os.ReadFile(filepath.Join(e.state, "apparmor", testNode, "lxc", dockerProfile.Name))
	if err != nil || !bytes.Equal(installed, dockerProfile.Files[0].Content) {
		t.Errorf("the node's profile is not the shipped one (%v)", err)
	}
}

func TestWrongHostKeyRunsNothing(t *testing.T) {
	e := newNodeEnv(t)
	e.addCT(108, "arch: amd64\nrootfs: local-lvm:vm-108-disk-0,size=8G\n", true)
	other, err := ssh.NewSignerFromKey(mustEd25519(t))
	if err != nil {
		t.Fatal(err)
	}
	changedHosts := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(changedHosts, []byte(knownhosts.Line([]string{e.srv.Addr()}, other.PublicKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyHosts := filepath.Join(t.TempDir(), "known_hosts")
	for name, known := range map[string]string{"changed": changedHosts, "unknown": emptyHosts} {
		t.Run(name, func(t *testing.T) {
			_, err := e.applyProfile(e.newProviderData(e.key, known), 108, dockerProfile.Name, true)
			if err == nil {
				t.Fatal("a node with an unexpected host key was trusted")
			}
			if !strings.Contains(err.Error(), e.srv.Fingerprint()) {
				t.Errorf("error does not name the node's fingerprint %s: %v", e.srv.Fingerprint(), err)
			}
			var unknown *nodeexec.UnknownHostError
			var changed *nodeexec.HostKeyChangedError
			if !errors.As(err, &unknown) && !errors.As(err, &changed) {
				t.Errorf("error is %T, want a host key error", err)
			}
		})
	}
	if n := e.eventCount(); n != 0 {
		t.Errorf("%d commands ran on the node", n)
	}
	if !strings.Contains(e.readConf(108), "rootfs") || strings.Contains(e.readConf(108), "apparmor") {
		t.Error("the config changed")
	}
}

func TestNodeOpsWithoutSSHAuth(t *testing.T) {
	d := &providerData{Settings: settings{SSH: sshSettings{Config: nodeexec.Config{Username: "root"}}}}
	ops := d.NodeOps()
	_, err := applyProfileOn(t, d, "pve2", 102, nil, dockerProfile.Name, true)
	if err == nil || !strings.Contains(err.Error(), `needs SSH access to node "pve2"`) ||
		!strings.Contains(err.Error(), "set ssh.private_key, ssh.agent or ssh.password in the provider block") {
		t.Errorf("error = %v", err)
	}
	_, err = ops.CheckDocker(t.Context(), "pve2", 102)
	if err == nil || !strings.HasPrefix(err.Error(), `the docker block needs SSH access to node "pve2": set ssh.private_key`) {
		t.Errorf("error = %v", err)
	}
	if _, err := d.Nodes(t.Context()); !errors.Is(err, errNoSSHAuth) {
		t.Errorf("Nodes error = %v", err)
	}
	if c := ops.Counts(); c.Commands != 0 {
		t.Errorf("%d commands counted without a pool", c.Commands)
	}
}

func TestNodesBuildsOnePool(t *testing.T) {
	d := &providerData{Settings: settings{SSH: sshSettings{Config: nodeexec.Config{Username: "root", PrivateKey: testKey}}}}
	p1, err := d.Nodes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	p2, err := d.Nodes(t.Context())
	if err != nil || p1 != p2 {
		t.Errorf("second Nodes = %p, %v; want the same pool %p", p2, err, p1)
	}
	if a, b := d.NodeOps(), d.NodeOps(); a != b {
		t.Error("NodeOps is not shared")
	}
	unknown := &providerData{Settings: settings{Unknown: true, SSH: sshSettings{Config: nodeexec.Config{PrivateKey: testKey}}}}
	if _, err := unknown.Nodes(t.Context()); err == nil || !strings.Contains(err.Error(), "not known until apply") {
		t.Errorf("Nodes with unknown settings: %v", err)
	}
}

// TestEnsureProfileWarnsOnOldParser: on a node whose apparmor_parser
// predates 3.0.10 the apply warns, naming the node, the version and what
// still holds; every container of the run that uses the profile there gets
// the warning, also once the profile is known current; a fixed parser draws
// none.
func TestEnsureProfileWarnsOnOldParser(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t)
	e.addCT(140, "arch: amd64\nrootfs: local-lvm:vm-140-disk-0,size=8G\nunprivileged: 1\n", true)
	e.addCT(141, "arch: amd64\nrootfs: local-lvm:vm-141-disk-0,size=8G\nunprivileged: 1\n", true)
	e.srv.SetParserVersion("3.0.8")
	for _, vmid := range []int{140, 141} {
		_, warning, err := applyProfileWarning(t, e.data, testNode, vmid, e.rawLines(vmid), dockerProfile.Name, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Node " + testNode, "apparmor_parser 3.0.8", "CVE-2016-1585", `"deny mount fstype=..."`} {
			if !strings.Contains(warning, want) {
				t.Errorf("CT %d: the warning does not say %q: %q", vmid, want, warning)
			}
		}
	}
	if c := e.data.NodeOps().Counts(); c.ByOp[apparmor.InstallOperation] != 1 {
		t.Errorf("%d profile installs, want 1 (the second container reuses the first's result)", c.ByOp[apparmor.InstallOperation])
	}

	e.srv.SetParserVersion("3.0.10")
	d := e.newProviderData(e.key, e.known)
	if _, warning, err := applyProfileWarning(t, d, testNode, 140, e.rawLines(140), dockerProfile.Name, true); err != nil || warning != "" {
		t.Errorf("with apparmor_parser 3.0.10: warning %q, error %v; want neither", warning, err)
	}
}
