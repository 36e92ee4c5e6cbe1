package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/apparmor"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/lxcconf"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/nodeexec"
)

// Raw LXC keys the provider owns in a container's main section.
const (
	lxcKeyAppArmorProfile      = "lxc.apparmor.profile"
	lxcKeyAppArmorAllowNesting = "lxc.apparmor.allow_nesting"
)

// Operation names of the node commands, as they appear in errors, logs and
// nodeOpsCounts.ByOp.
const (
	opReadLXCConfig  = "read-lxc-config"
	opWriteLXCConfig = "write-lxc-config"
	opDockerInstall  = "docker-install"
	opDockerCheck    = "docker-check"
	opDockerTest     = "docker-test"
)

// Purposes named in the error returned when SSH access is not configured.
const (
	purposeDocker   = "the docker block"
	purposeAppArmor = "setting the container's AppArmor profile"
	purposeRawLXC   = "editing raw lxc.* lines"
)

// errConfigChangedExit is the exit code of the write command when the file no
// longer holds what was read (EX_TEMPFAIL). flock(1) exits 1 when it cannot
// take the lock in time, so the two never mix.
const errConfigChangedExit = 75

// setRawLXCAttempts bounds the read-modify-write rounds of SetRawLXC when
// other writers keep changing the file in between.
const setRawLXCAttempts = 5

// outputTailLines is how many lines of a script's output an error carries.
const outputTailLines = 20

// errNoSSHAuth says how to give the provider SSH access.
var errNoSSHAuth = errors.New("set ssh.private_key, ssh.agent or ssh.password in the provider block " +
	"(or PHOENIX_SSH_PRIVATE_KEY, PHOENIX_SSH_AGENT, PHOENIX_SSH_PASSWORD)")

// nodeAccess is the lazily built SSH side of a providerData: one pool and one
// nodeOps per provider instance.
type nodeAccess struct {
	once sync.Once
	pool *nodeexec.Pool
	err  error

	opsOnce sync.Once
	ops     *nodeOps
}

// Nodes returns the provider's SSH connection pool, building it on first use
// from the ssh block: one pool, hence one connection per node, for the whole
// run. Commands run as ssh.username, through "sudo -n" when that user is not
// root. A node's address is its ssh.node override when there is one, else
// the "ip" that GET /cluster/status reports for it, else its name used as a
// host name; the port is 22 unless overridden. The error says what to set
// when the ssh block has no authentication method.
func (d *providerData) Nodes(ctx context.Context) (*nodeexec.Pool, error) {
	d.node.once.Do(func() {
		d.node.pool, d.node.err = d.newNodePool(ctx)
	})
	return d.node.pool, d.node.err
}

// newNodePool builds the pool for Nodes.
func (d *providerData) newNodePool(ctx context.Context) (*nodeexec.Pool, error) {
	s := d.Settings.SSH
	if d.Settings.Unknown {
		return nil, errors.New("the provider configuration depends on values that are not known until apply, so SSH to the nodes cannot be set up yet")
	}
	if s.PrivateKey == "" && !s.Agent && s.Password == "" {
		return nil, fmt.Errorf("no SSH authentication is configured: %w", errNoSSHAuth)
	}
	r := d.nodeResolver()
	cfg := s.Config
	cfg.Sudo = nodeexec.SudoAuto
	pool, err := nodeexec.NewPool(cfg, r.resolve)
	if err != nil {
		return nil, fmt.Errorf("set up SSH to the nodes: %w", err)
	}
	tflog.Debug(ctx, "ssh pool ready", map[string]any{
		"ssh_user":  s.Username,
		"ssh_auth":  s.authMethods(),
		"ssh_nodes": len(s.Nodes),
	})
	return pool, nil
}

// nodeResolver returns the resolver of the pool: the ssh.node overrides, then
// the API's cluster status when the API is usable.
func (d *providerData) nodeResolver() *nodeResolver {
	r := &nodeResolver{overrides: map[string]sshNode{}}
	for _, n := range d.Settings.SSH.Nodes {
		r.overrides[n.Name] = n
	}
	if d.client != nil {
		c := d.client
		r.lookup = func(ctx context.Context) (map[string]string, error) { return clusterNodeIPs(ctx, c.API().Get) }
	}
	return r
}

// NodeOps returns the provider's node operations, shared by every resource
// of this provider instance so that its counters cover the whole run.
func (d *providerData) NodeOps() *nodeOps {
	d.node.opsOnce.Do(func() {
		d.node.ops = newNodeOps(d.Nodes)
		if c := d.client; c != nil && d.Settings.DockerChecksNodeWide {
			d.node.ops.sweepCandidates = func(ctx context.Context, node string) ([]int, func() bool) {
				return d.fleet.running(ctx, c, node)
			}
		}
	})
	return d.node.ops
}

// nodeResolver finds where a node's SSH server listens.
type nodeResolver struct {
	overrides map[string]sshNode
	// lookup returns node name -> address from the API; nil when the API is
	// not usable.
	lookup func(ctx context.Context) (map[string]string, error)

	mu  sync.Mutex
	ips map[string]string
}

// resolve is a nodeexec.Resolver: an ssh.node override wins, then the API's
// address for the node, then the node name as a host name.
func (r *nodeResolver) resolve(ctx context.Context, node string) (nodeexec.Node, error) {
	if o, ok := r.overrides[node]; ok {
		return nodeexec.Node{Name: node, Address: o.Address, Port: o.Port}, nil
	}
	n := nodeexec.Node{Name: node, Address: node, Port: nodeexec.DefaultPort}
	if r.lookup == nil {
		tflog.Debug(ctx, "no API to look up the node's address: using its name as host name", map[string]any{"node": node})
		return n, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ips == nil {
		ips, err := r.lookup(ctx)
		if err != nil {
			return nodeexec.Node{}, fmt.Errorf("look up the address of node %q in the cluster status (or set it in an ssh.node block): %w", node, err)
		}
		r.ips = ips
	}
	if ip := r.ips[node]; ip != "" {
		n.Address = ip
	} else {
		tflog.Debug(ctx, "the cluster status has no address for the node: using its name as host name", map[string]any{"node": node})
	}
	return n, nil
}

// clusterStatusEntry is the part of a GET /cluster/status entry the resolver
// reads.
type clusterStatusEntry struct {
	Type string `json:"type"`
	Name string `json:"name"`
	IP   string `json:"ip"`
}

// clusterNodeIPs returns node name -> ip from GET /cluster/status, through get
// (go-proxmox's Client.Get, which decodes the answer's data member).
func clusterNodeIPs(ctx context.Context, get func(ctx context.Context, path string, v any) error) (map[string]string, error) {
	var entries []clusterStatusEntry
	if err := get(ctx, "/cluster/status", &entries); err != nil {
		return nil, fmt.Errorf("GET /cluster/status: %w", err)
	}
	ips := map[string]string{}
	for _, e := range entries {
		if e.Type == "node" && e.Name != "" && e.IP != "" {
			ips[e.Name] = e.IP
		}
	}
	return ips, nil
}

// noSSHAccessError says that a node operation could not start because the
// provider has no usable SSH configuration. Nothing was sent to the node.
// It wraps the message "<purpose> needs SSH access to node <node>: <why>".
type noSSHAccessError struct{ error }

func (e *noSSHAccessError) Unwrap() error { return e.error }

// nodeOps runs the provider's operations on PVE nodes over SSH: the AppArmor
// profile, raw lxc.* lines of container configs, and the Docker scripts
// inside containers. It is safe for concurrent use.
type nodeOps struct {
	pool func(ctx context.Context) (*nodeexec.Pool, error)

	// onCommand, when set, is called before each command is sent (tests).
	onCommand func(node string, cmd nodeexec.Command, write bool)

	// batches gathers the refresh checks of each node (CheckDockerShared).
	batches checkBatcher

	// sweepCandidates, when set, returns the containers running on node
	// (from the cluster's view, and whether that view is still current):
	// a shared check of several containers also checks those of them that
	// run Docker, for the reads to come (see checkBatch.candidates).
	sweepCandidates func(ctx context.Context, node string) ([]int, func() bool)

	// checkBound is how long a single check may run on the node;
	// checkBoundOnNode when zero.
	checkBound time.Duration

	mu       sync.Mutex
	commands int
	writes   int
	byOp     map[string]int
	install  map[string]*sync.Mutex    // per node, serializes EnsureProfile
	ensured  map[ensuredProfile]string // the node's parser version
	attempts int                       // SetRawLXC rounds; setRawLXCAttempts when zero
}

// checkBoundOnNode bounds a single check on the node, as a check within a
// batch is bounded there, and within the provider's own minute: a
// container whose check ignores the end of its SSH session leaves nothing
// running on the node.
const checkBoundOnNode = 50 * time.Second

// ensuredProfile is a profile known current on a node: installed and loaded
// by this nodeOps, in the version of its hash. A node has one version of a
// profile at a time.
type ensuredProfile struct {
	node, name, sha256 string
}

// newNodeOps returns node operations that take their pool from pool on first
// use.
func newNodeOps(pool func(ctx context.Context) (*nodeexec.Pool, error)) *nodeOps {
	return &nodeOps{
		pool:    pool,
		byOp:    map[string]int{},
		install: map[string]*sync.Mutex{},
		ensured: map[ensuredProfile]string{},
	}
}

// nodeOpsCounts is a snapshot of the commands a nodeOps has sent.
type nodeOpsCounts struct {
	// Commands counts every command sent.
	Commands int
	// Writes counts the commands that may change a node or a container:
	// config writes, profile installs and Docker installs. A command whose
	// result showed nothing to do still counts.
	Writes int
	// ByOp counts commands per operation name.
	ByOp map[string]int
}

// Counts returns how many commands were sent so far.
func (o *nodeOps) Counts() nodeOpsCounts {
	o.mu.Lock()
	defer o.mu.Unlock()
	by := make(map[string]int, len(o.byOp))
	for k, v := range o.byOp {
		by[k] = v
	}
	return nodeOpsCounts{Commands: o.commands, Writes: o.writes, ByOp: by}
}

// run sends cmd to node, counting it. purpose names what needs SSH in the
// error returned when no authentication is configured.
func (o *nodeOps) run(ctx context.Context, node, purpose string, cmd nodeexec.Command, write bool, opts ...nodeexec.RunOption) (*nodeexec.Result, error) {
	pool, err := o.pool(ctx)
	if err != nil {
		if errors.Is(err, errNoSSHAuth) {
			err = errNoSSHAuth
		}
		return nil, &noSSHAccessError{fmt.Errorf("%s needs SSH access to node %q: %w", purpose, node, err)}
	}
	o.mu.Lock()
	o.commands++
	if write {
		o.writes++
	}
	o.byOp[cmd.Op]++
	hook := o.onCommand
	o.mu.Unlock()
	if hook != nil {
		hook(node, cmd, write)
	}
	if write {
		// Kept check results of the node's containers may not survive it,
		// nor those of a shared check that runs meanwhile (forgotten
		// again when the write ends).
		o.batches.writeBegins(node)
		defer o.batches.writeEnds(node)
	}
	tflog.Debug(ctx, "running node command", map[string]any{"node": node, "op": cmd.Op, "write": write})
	// Every command has an upper bound of its own, so that a wedged session
	// fails the step instead of waiting for the resource's whole timeout.
	ctx, cancel := context.WithTimeout(ctx, commandBound(ctx, cmd.Op))
	defer cancel()
	return pool.Run(ctx, node, cmd, opts...)
}

// commandTimeout bounds one node command: installs download packages, the
// tests pull images, the rest are quick file and status operations.
func commandTimeout(op string) time.Duration {
	switch op {
	case opDockerInstall:
		return 15 * time.Minute
	case opDockerTest:
		return 10 * time.Minute
	case opDockerCheck:
		// One read-only check per container on every refresh: a wedged
		// container must not stall a plan for long.
		return time.Minute
	case opDockerCheckBatch:
		// Each check of a batch has its own bound on the node; this is the
		// backstop of a caller that sets no deadline (see commandBound).
		return 15 * time.Minute
	default:
		return 3 * time.Minute
	}
}

// commandBound is how long a command of op may run: commandTimeout, but a
// batch of checks runs until the deadline its caller computed from the
// script's own bounds (docker.CheckSweepDeadline), which a node of a few
// hundred containers takes beyond the backstop.
func commandBound(ctx context.Context, op string) time.Duration {
	if d, ok := ctx.Deadline(); ok && op == opDockerCheckBatch {
		return time.Until(d)
	}
	return commandTimeout(op)
}

// lxcConfigPath is a container's config file on its node.
func lxcConfigPath(vmid int) string { return fmt.Sprintf("/etc/pve/lxc/%d.conf", vmid) }

// lxcLockPath is PVE's config lock of a container (see PVE::LXC::Config).
func lxcLockPath(vmid int) string { return fmt.Sprintf("/run/lock/lxc/pve-config-%d.lock", vmid) }

func checkVMID(vmid int) error {
	if vmid < 100 || vmid > 999999999 {
		return fmt.Errorf("invalid vmid %d: PVE IDs are 100 to 999999999", vmid)
	}
	return nil
}

// EnsureProfile installs the AppArmor profile p on node and loads it,
// through p's idempotent install commands: files are written only when their
// content differs, and the profile is reloaded (apparmor_parser -r on its
// file) only when a file changed or the kernel does not list it in enforce
// mode. changed reports whether the node's files or loaded policy changed;
// warning is what the node's parser version leaves unenforced ("" when
// nothing). Once p (its name and hash) is known current on a node, later
// calls for that node and profile return no change, and the same warning,
// without a command. Installs on one node run one at a time.
func (o *nodeOps) EnsureProfile(ctx context.Context, node string, p apparmor.Profile) (changed bool, warning string, err error) {
	report, err := o.ensureProfile(ctx, node, p)
	if err != nil {
		return false, "", err
	}
	return report.Changed(), p.ParserWarning(node, report.ParserVersion), nil
}

// ensureProfile is EnsureProfile with the node's full report; the report of
// a profile already known current holds only the parser version.
func (o *nodeOps) ensureProfile(ctx context.Context, node string, p apparmor.Profile) (apparmor.InstallReport, error) {
	var total apparmor.InstallReport
	key := ensuredProfile{node: node, name: p.Name, sha256: p.SHA256()}
	o.mu.Lock()
	m := o.install[node]
	if m == nil {
		m = &sync.Mutex{}
		o.install[node] = m
	}
	o.mu.Unlock()
	m.Lock()
	defer m.Unlock()
	o.mu.Lock()
	version, done := o.ensured[key]
	o.mu.Unlock()
	if done {
		return apparmor.InstallReport{ParserVersion: version}, nil
	}
	for _, c := range p.InstallCommands() {
		cmd := nodeexec.Command{Op: c.Name, Argv: c.Args, Sudo: true, Retry: true}
		res, err := o.run(ctx, node, purposeAppArmor, cmd, true)
		if err != nil {
			return total, fmt.Errorf("install the %s AppArmor profile on node %q: %w", p.Name, node, err)
		}
		report, err := apparmor.ParseInstallOutput(string(res.Stdout))
		if err != nil {
			return total, fmt.Errorf("install the %s AppArmor profile on node %q: %w", p.Name, node, err)
		}
		tflog.Debug(ctx, "apparmor profile install", map[string]any{
			"node": node, "profile": p.Name, "installed": report.Installed, "removed": report.Removed,
			"unchanged": report.Unchanged, "loaded": report.Loaded, "parser": report.ParserVersion,
		})
		total.Installed = append(total.Installed, report.Installed...)
		total.Removed = append(total.Removed, report.Removed...)
		total.Unchanged = append(total.Unchanged, report.Unchanged...)
		total.Skipped = append(total.Skipped, report.Skipped...)
		total.Loaded = total.Loaded || report.Loaded
		if report.ParserVersion != "" {
			total.ParserVersion = report.ParserVersion
		}
	}
	o.mu.Lock()
	for k := range o.ensured {
		// The node now has this version of the profile, no other.
		if k.node == key.node && k.name == key.name {
			delete(o.ensured, k)
		}
	}
	o.ensured[key] = total.ParserVersion
	o.mu.Unlock()
	return total, nil
}

// readLXCConfig returns the bytes of a container's config file on node.
func (o *nodeOps) readLXCConfig(ctx context.Context, node, purpose string, vmid int) ([]byte, error) {
	if err := checkVMID(vmid); err != nil {
		return nil, err
	}
	path := lxcConfigPath(vmid)
	res, err := o.run(ctx, node, purpose, nodeexec.Cat(path).Named(opReadLXCConfig), false)
	if err != nil {
		var ce *nodeexec.CommandError
		if errors.As(err, &ce) && strings.Contains(strings.Join(ce.StderrTail, "\n"), "No such file") {
			return nil, fmt.Errorf("container %d has no config on node %q (%s does not exist): it was removed or lives on another node", vmid, node, path)
		}
		return nil, fmt.Errorf("read %s on node %q: %w", path, node, err)
	}
	return res.Stdout, nil
}

// writeIfUnchangedScript replaces $1 with standard input when the sha256 of
// $1 is still $2, through a temporary file in the same directory and a
// rename (as PVE's file_set_contents does, which /etc/pve supports). It exits
// 75 when the file changed since it was read and 3 when it is gone. Run under
// flock on the container's config lock, the check and the write are one step
// for every writer that takes the lock, PVE included.
const writeIfUnchangedScript = `set -eu
target=$1
want=$2
if [ ! -f "$target" ]; then
	echo "$0: $target does not exist" >&2
	exit 3
fi
have=$(sha256sum <"$target" | cut -d ' ' -f 1)
if [ "$have" != "$want" ]; then
	echo "$0: $target changed since it was read" >&2
	exit 75
fi
umask 027
tmp="$target.tmp.$$"
trap 'rm -f -- "$tmp"' EXIT
cat >"$tmp"
mv -f -- "$tmp" "$target"
trap - EXIT
echo written
`

// writeLXCConfigCommand writes content to container vmid's config file if
// the file still has the sha256 want, holding PVE's config lock.
func writeLXCConfigCommand(vmid int, want string, content []byte) nodeexec.Command {
	inner := nodeexec.Command{
		Op:    opWriteLXCConfig,
		Argv:  []string{"sh", "-c", writeIfUnchangedScript, opWriteLXCConfig, lxcConfigPath(vmid), want},
		Stdin: content,
		Sudo:  true,
	}
	return nodeexec.Flock(lxcLockPath(vmid), inner)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sectionHeaderRE matches the line that starts a snapshot or pending section,
// as parse_pct_config reads it.
var sectionHeaderRE = regexp.MustCompile(`^\[([a-z][a-z0-9_\-]+|pve:pending)\]\s*$`)

// afterMain returns the bytes from the first section header on: everything
// but the main section.
func afterMain(b []byte) []byte {
	off := 0
	for off < len(b) {
		end := bytes.IndexByte(b[off:], '\n')
		next := len(b)
		if end >= 0 {
			next = off + end + 1
		}
		if sectionHeaderRE.Match(bytes.TrimRight(b[off:next], "\n")) {
			return b[off:]
		}
		off = next
	}
	return nil
}

// SetRawLXC edits the main section of container vmid's config file on node:
// edit receives the parsed main section and reports whether it changed it.
// Snapshot and pending sections, and every line edit does not touch, stay
// byte for byte.
//
// The file is read, edited in memory, then written by one command that holds
// PVE's config lock (flock /run/lock/lxc/pve-config-<vmid>.lock) and writes
// only when the file's sha256 still equals what was read; when another writer
// got in between, the whole read-modify-write runs again (a few times at
// most), so edit may be called more than once. When the edit leaves the file
// as it was, no write command is sent. changed reports whether the file was
// written.
func (o *nodeOps) SetRawLXC(ctx context.Context, node string, vmid int, edit func(main *lxcconf.Section) (changed bool)) (changed bool, err error) {
	return o.setRawLXC(ctx, node, purposeRawLXC, vmid, edit)
}

func (o *nodeOps) setRawLXC(ctx context.Context, node, purpose string, vmid int, edit func(main *lxcconf.Section) bool) (bool, error) {
	attempts := o.attempts
	if attempts <= 0 {
		attempts = setRawLXCAttempts
	}
	path := lxcConfigPath(vmid)
	var first []byte
	mayHaveWritten := false
	for attempt := 1; ; attempt++ {
		old, err := o.readLXCConfig(ctx, node, purpose, vmid)
		if err != nil {
			return false, err
		}
		if first == nil {
			first = old
		}
		if err := checkNotLocked(old, vmid); err != nil {
			return false, err
		}
		updated, err := editMain(old, edit)
		if err != nil {
			return false, fmt.Errorf("edit %s on node %q: %w", path, node, err)
		}
		if bytes.Equal(updated, old) {
			tflog.Debug(ctx, "container config already as wanted", map[string]any{"node": node, "vmid": vmid})
			return mayHaveWritten && !bytes.Equal(old, first), nil
		}
		_, err = o.run(ctx, node, purpose, writeLXCConfigCommand(vmid, sha256Hex(old), updated), true)
		if err == nil {
			tflog.Debug(ctx, "container config written", map[string]any{"node": node, "vmid": vmid, "attempt": attempt})
			return true, nil
		}
		var ce *nodeexec.CommandError
		var dropped *nodeexec.ConnectionDroppedError
		switch {
		case errors.As(err, &ce) && ce.ExitCode == errConfigChangedExit:
			tflog.Debug(ctx, "container config changed while it was edited: retrying", map[string]any{"node": node, "vmid": vmid, "attempt": attempt})
		case errors.As(err, &dropped):
			// The write may or may not have happened: read again and see.
			mayHaveWritten = true
		case errors.As(err, &ce) && ce.ExitCode == 1:
			return false, fmt.Errorf("write %s on node %q: could not take the config lock %s within %d seconds (a PVE task may hold it): %w",
				path, node, lxcLockPath(vmid), nodeexec.FlockWaitSeconds, err)
		default:
			return false, fmt.Errorf("write %s on node %q: %w", path, node, err)
		}
		if attempt >= attempts {
			return false, fmt.Errorf("write %s on node %q: the file kept changing while it was edited (%d attempts); try again", path, node, attempts)
		}
	}
}

// checkNotLocked refuses to edit a container that a PVE task has locked
// (the "lock" property: backup, snapshot, migrate, ...), as pct set does.
func checkNotLocked(data []byte, vmid int) error {
	cfg, err := lxcconf.Parse(data)
	if err != nil {
		return err
	}
	if lock, ok := cfg.Main().Get("lock"); ok && lock != "" {
		return fmt.Errorf("container %d is locked (%s) by a PVE task; its config can be edited once the task has finished", vmid, lock)
	}
	return nil
}

// editMain applies edit to the main section of the config old and returns
// the new file content. It checks that nothing after the main section moved.
func editMain(old []byte, edit func(main *lxcconf.Section) bool) (updated []byte, err error) {
	cfg, err := lxcconf.Parse(old)
	if err != nil {
		return nil, err
	}
	defer func() {
		// lxcconf panics on a key or value it cannot write; report it.
		if r := recover(); r != nil {
			updated, err = nil, fmt.Errorf("%v", r)
		}
	}()
	if !edit(cfg.Main()) {
		return old, nil
	}
	updated = cfg.Bytes()
	if !bytes.Equal(afterMain(updated), afterMain(old)) {
		return nil, errors.New("the edit changed more than the main section; nothing was written")
	}
	return updated, nil
}

// scriptError is a Docker script that failed inside a container: the script
// exited non-zero or its output did not say what was expected.
type scriptError struct {
	Script   string
	Node     string
	VMID     int
	ExitCode int // -1 when the script did not run to an exit status
	// Fatal is the script's "FATAL: ..." line, when it printed one.
	Fatal string
	// Tail is the last lines of the script's output (both streams, in order).
	Tail []string
	// FailedCases lists the failed test cases, with CaseOutput their output
	// tails (test script only).
	FailedCases []string
	CaseOutput  map[string][]string
	// Err is the underlying error.
	Err error
}

// Summary is a one-line title for a diagnostic.
func (e *scriptError) Summary() string {
	if len(e.FailedCases) > 0 {
		return fmt.Sprintf("%s: %d test case(s) failed in container %d", e.Script, len(e.FailedCases), e.VMID)
	}
	return fmt.Sprintf("%s failed in container %d", e.Script, e.VMID)
}

func (e *scriptError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed in container %d on node %q", e.Script, e.VMID, e.Node)
	if e.ExitCode >= 0 {
		fmt.Fprintf(&b, " (exit code %d)", e.ExitCode)
	}
	var ce *nodeexec.CommandError
	switch {
	case e.Fatal != "":
		b.WriteString(": ")
		b.WriteString(e.Fatal)
	case len(e.FailedCases) > 0:
		fmt.Fprintf(&b, ": %d test case(s) failed", len(e.FailedCases))
	case e.Err != nil && !errors.As(e.Err, &ce):
		// A command error says no more than the exit code and the tail.
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	for _, c := range e.FailedCases {
		fmt.Fprintf(&b, "\n%s: failed", c)
		for _, l := range e.CaseOutput[c] {
			b.WriteString("\n  | ")
			b.WriteString(l)
		}
	}
	if len(e.Tail) > 0 && len(e.FailedCases) == 0 {
		fmt.Fprintf(&b, "\nlast %d lines of output:", len(e.Tail))
		for _, l := range e.Tail {
			b.WriteString("\n  ")
			b.WriteString(l)
		}
	}
	return b.String()
}

func (e *scriptError) Unwrap() error { return e.Err }

// scriptRun is the outcome of one Docker script in a container.
type scriptRun struct {
	output   string // both streams, lines in arrival order
	exitCode int    // 0 on success, -1 when there is no exit status
	err      error  // nil, a *nodeexec.CommandError, or why it did not run
}

// scriptMode says what a script does to the container.
type scriptMode struct {
	// writes: the script changes the container (counted as a write).
	writes bool
	// rerunnable: the script is safe to run again after a dropped
	// connection (it only reads).
	rerunnable bool
	// maxOutput bounds what the script may print (0: no bound).
	maxOutput int
	// boundOnNode: the node stops the script (timeout(1)) after the
	// check's bound (nodeOps.checkBound).
	boundOnNode bool
}

var (
	// scriptInstalls changes the container; never rerun blindly.
	scriptInstalls = scriptMode{writes: true}
	// scriptChecks only reads; rerun after a dropped connection. Its
	// output is bounded as within a batch of checks: a container cannot
	// fill the provider's memory or its log.
	scriptChecks = scriptMode{rerunnable: true, maxOutput: docker.CheckOutputMax, boundOnNode: true}
	// scriptTests runs containers of its own but changes no setting; a
	// second run would repeat them, so it is not rerun.
	scriptTests = scriptMode{}
)

// runScript runs inv in container vmid on node through
// pct exec <vmid> -- bash -s -- args..., the script on stdin, streaming its
// output lines to tflog. Only errors that are not the script's own exit
// status are returned as err; a non-zero exit is in the scriptRun.
func (o *nodeOps) runScript(ctx context.Context, node string, vmid int, op string, inv docker.Invocation, mode scriptMode) (scriptRun, error) {
	if err := checkVMID(vmid); err != nil {
		return scriptRun{}, err
	}
	cmd := nodeexec.PctExecScript(vmid, inv.Script, inv.Args...).Named(op)
	cmd.Retry, cmd.MaxOutput = mode.rerunnable, mode.maxOutput
	if mode.boundOnNode {
		bound := o.checkBound
		if bound <= 0 {
			bound = checkBoundOnNode
		}
		// As check_docker_batch.sh bounds each check: TERM, then KILL.
		cmd.Argv = slices.Concat([]string{"timeout", "--kill-after=5", strconv.Itoa(int(bound.Seconds()))}, cmd.Argv)
	}
	var mu sync.Mutex
	var out strings.Builder
	fields := map[string]any{"node": node, "vmid": vmid, "step": op, "script": inv.Name}
	lineFn := func(stream nodeexec.Stream, line string) {
		mu.Lock()
		out.WriteString(line)
		out.WriteByte('\n')
		mu.Unlock()
		f := make(map[string]any, len(fields)+1)
		for k, v := range fields {
			f[k] = v
		}
		f["stream"] = stream.String()
		tflog.Debug(ctx, line, f)
	}
	_, err := o.run(ctx, node, purposeDocker, cmd, mode.writes, nodeexec.WithLineFunc(lineFn))
	mu.Lock()
	r := scriptRun{output: out.String()}
	mu.Unlock()
	var ce *nodeexec.CommandError
	var noAccess *noSSHAccessError
	switch {
	case err == nil:
		return r, nil
	case errors.As(err, &noAccess):
		return r, err
	case errors.As(err, &ce):
		r.exitCode, r.err = ce.ExitCode, err
		return r, nil
	default:
		r.exitCode, r.err = -1, err
		return r, &scriptError{
			Script: inv.Name, Node: node, VMID: vmid, ExitCode: -1,
			Fatal: docker.FatalLine(r.output), Tail: docker.Tail(r.output, outputTailLines), Err: err,
		}
	}
}

// failure builds the scriptError of a run.
func (r scriptRun) failure(node string, vmid int, script string, err error) *scriptError {
	if err == nil {
		err = r.err
	}
	return &scriptError{
		Script: script, Node: node, VMID: vmid, ExitCode: r.exitCode,
		Fatal: docker.FatalLine(r.output), Tail: docker.Tail(r.output, outputTailLines), Err: err,
	}
}

// dockerRun is a Docker feature script that ran: the run, the script's
// name and its parsed output (parseErr when the output is not understood).
type dockerRun[T any] struct {
	scriptRun
	script   string
	value    T
	parseErr error
}

// runDocker builds a Docker feature script, runs it in container vmid on
// node and parses its output. The error is for a script that could not be
// built or started; how it ended is the caller's to judge.
func runDocker[T any](ctx context.Context, o *nodeOps, node string, vmid int, op string, mode scriptMode,
	build func() (docker.Invocation, error), parse func(string) (T, error)) (dockerRun[T], error) {
	inv, err := build()
	if err != nil {
		return dockerRun[T]{}, fmt.Errorf("docker block: %w", err)
	}
	r, err := o.runScript(ctx, node, vmid, op, inv, mode)
	if err != nil {
		return dockerRun[T]{}, err
	}
	v, perr := parse(r.output)
	return dockerRun[T]{scriptRun: r, script: inv.Name, value: v, parseErr: perr}, nil
}

// InstallDocker runs phoenix_hypervisor_feature_install_docker.sh for plan in
// container vmid on node. The script changes nothing when Docker is active
// and configured as asked (the result's Changed is then false), and
// otherwise repairs only what differs (the result lists it). On failure
// the error (a *scriptError) names the script and carries its FATAL line and
// the last 20 lines of its output.
func (o *nodeOps) InstallDocker(ctx context.Context, node string, vmid int, plan docker.Plan) (docker.InstallResult, error) {
	r, err := runDocker(ctx, o, node, vmid, opDockerInstall, scriptInstalls,
		func() (docker.Invocation, error) { return plan.Install(), nil }, docker.ParseInstallResult)
	switch {
	case err != nil:
		return docker.InstallResult{}, err
	case r.err != nil:
		return docker.InstallResult{}, r.failure(node, vmid, r.script, nil)
	case r.parseErr != nil:
		return docker.InstallResult{}, r.failure(node, vmid, r.script, r.parseErr)
	}
	return r.value, nil
}

// CheckDocker runs check_docker_service.sh in container vmid on node: one
// read-only pct exec. An inactive or missing service is a result
// (ServiceActive false), not an error; the error is for a check that could
// not run or whose output is not understood.
func (o *nodeOps) CheckDocker(ctx context.Context, node string, vmid int) (docker.CheckResult, error) {
	r, err := o.runScript(ctx, node, vmid, opDockerCheck, docker.Check(), scriptChecks)
	if err != nil {
		return docker.CheckResult{}, err
	}
	return judgeCheck(r, node, vmid)
}

// judgeCheck reads the result of one run of check_docker_service.sh: an
// inactive service is a result, output that is not understood or a failed
// run that claims an active service is an error.
func judgeCheck(r scriptRun, node string, vmid int) (docker.CheckResult, error) {
	v, err := docker.ParseCheckResult(r.output)
	switch {
	case err != nil:
		return docker.CheckResult{}, r.failure(node, vmid, docker.CheckScriptName, err)
	case r.err != nil && v.ServiceActive:
		return docker.CheckResult{}, r.failure(node, vmid, docker.CheckScriptName, nil)
	}
	return v, nil
}

// TestDocker runs test_docker_feature.sh for plan in container vmid on node.
// The report is returned whenever the output could be parsed, failed cases
// included; the error is then a *scriptError listing the failed cases with
// their output tails.
func (o *nodeOps) TestDocker(ctx context.Context, node string, vmid int, plan docker.Plan) (docker.TestReport, error) {
	r, err := runDocker(ctx, o, node, vmid, opDockerTest, scriptTests,
		func() (docker.Invocation, error) { return plan.Test(), nil }, docker.ParseTestResults)
	if err != nil {
		return docker.TestReport{}, err
	}
	if r.parseErr != nil {
		return docker.TestReport{}, r.failure(node, vmid, r.script, r.parseErr)
	}
	report := r.value
	if failed := report.FailedCases(); len(failed) > 0 {
		e := r.failure(node, vmid, r.script, nil)
		e.FailedCases = failed
		e.CaseOutput = report.Output
		return report, e
	}
	if r.err != nil {
		return report, r.failure(node, vmid, r.script, nil)
	}
	return report, nil
}
