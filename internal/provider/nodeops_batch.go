package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/nodeexec"
)

// opDockerCheckBatch is the node command that checks Docker in several
// containers of one node.
const opDockerCheckBatch = "docker-check-batch"

// dockerCheckWindow is how long a node's batch of refresh checks waits for
// another container after the last one joined: Terraform's concurrent reads
// ask within a few milliseconds of each other. A container checked alone
// pays this once before its own check.
const dockerCheckWindow = 25 * time.Millisecond

// dockerCheckWindowMax bounds how long a batch keeps taking containers
// after its first.
const dockerCheckWindowMax = 250 * time.Millisecond

// checkBatch is the refresh checks asked of one node within one window.
type checkBatch struct {
	vmids  []int
	opened time.Time
	timer  *time.Timer
	ctx    context.Context //nolint:containedctx // the batch runs for every read that joined it, after the first has returned.
	// waiting: the window ended while reads of the node that are expected
	// to ask for a check were still on their way; the last of them to join
	// or give up starts the batch.
	waiting bool
	done    chan struct{}
	results map[int]checkOutcome
}

// checkOutcome is one container's check result.
type checkOutcome struct {
	check docker.CheckResult
	err   error
}

// checkBatcher gathers the refresh checks of each node.
type checkBatcher struct {
	mu      sync.Mutex
	window  time.Duration // dockerCheckWindow when zero
	pending map[string]*checkBatch
	// expected counts, per node, the reads under way that are expected to
	// ask for a check and have neither joined a batch nor given up.
	expected map[string]int
}

// dockerCheckTicket is a read under way that is expected to ask for a
// Docker check of a container of node: while it holds the ticket, the
// node's batch waits for it (up to dockerCheckWindowMax).
type dockerCheckTicket struct {
	o    *nodeOps
	node string
	done bool // guarded by o.batches.mu
}

// expectDockerCheck announces a read that will likely ask for a check of
// a container of node. Release the ticket when the read ends.
func (o *nodeOps) expectDockerCheck(node string) *dockerCheckTicket {
	bt := &o.batches
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.expected == nil {
		bt.expected = map[string]int{}
	}
	bt.expected[node]++
	return &dockerCheckTicket{o: o, node: node}
}

// release says that the read will not ask (any more); a second call does
// nothing. A nil ticket is allowed.
func (t *dockerCheckTicket) release() {
	if t == nil {
		return
	}
	bt := &t.o.batches
	bt.mu.Lock()
	b := t.releaseLocked()
	bt.mu.Unlock()
	if b != nil {
		go t.o.runBatch(t.node, b)
	}
}

// releaseLocked is release with o.batches.mu held: it returns the node's
// batch when it was waiting for this read only, taken from pending, for the
// caller to run.
func (t *dockerCheckTicket) releaseLocked() *checkBatch {
	if t == nil || t.done {
		return nil
	}
	t.done = true
	bt := &t.o.batches
	bt.expected[t.node]--
	if bt.expected[t.node] > 0 {
		return nil
	}
	delete(bt.expected, t.node)
	if b := bt.pending[t.node]; b != nil && b.waiting {
		delete(bt.pending, t.node)
		return b
	}
	return nil
}

// CheckDockerShared is CheckDocker for a refresh: the checks that
// concurrent reads ask of one node within a short window run as one node
// command (check_docker_batch.sh, a pct exec per container on the node),
// and each read gets its own container's result, as CheckDocker would
// return it. A window with one container runs CheckDocker itself. The
// window ends dockerCheckWindow after the last container joined, but not
// before the reads holding a ticket for the node have joined or given up,
// and at most dockerCheckWindowMax after the first. t, the caller's ticket
// (or nil), is released on joining.
func (o *nodeOps) CheckDockerShared(ctx context.Context, node string, vmid int, t *dockerCheckTicket) (docker.CheckResult, error) {
	if err := checkVMID(vmid); err != nil {
		t.release()
		return docker.CheckResult{}, err
	}
	b := o.joinCheckBatch(ctx, node, vmid, t)
	select {
	case <-b.done:
		r := b.results[vmid]
		return r.check, r.err
	case <-ctx.Done():
		return docker.CheckResult{}, ctx.Err()
	}
}

// joinCheckBatch adds vmid to node's open batch, opening one (and timing
// its window) when there is none, and releases t.
func (o *nodeOps) joinCheckBatch(ctx context.Context, node string, vmid int, t *dockerCheckTicket) *checkBatch {
	bt := &o.batches
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.pending == nil {
		bt.pending = map[string]*checkBatch{}
	}
	window := bt.window
	if window <= 0 {
		window = dockerCheckWindow
	}
	b := bt.pending[node]
	switch {
	case b == nil:
		// The batch serves every read that joined it: it runs to its end
		// even when the read that opened it gives up.
		b = &checkBatch{done: make(chan struct{}), opened: time.Now(), ctx: context.WithoutCancel(ctx)}
		bt.pending[node] = b
		b.timer = time.AfterFunc(window, func() { o.windowEnded(node, b) })
	case !b.waiting && time.Since(b.opened)+window <= dockerCheckWindowMax:
		// Wait for more as long as they keep coming, within the bound.
		b.timer.Reset(window)
	}
	if !slices.Contains(b.vmids, vmid) {
		b.vmids = append(b.vmids, vmid)
	}
	if ready := t.releaseLocked(); ready != nil {
		// This read was the last one the batch waited for.
		go o.runBatch(node, ready)
	}
	return b
}

// windowEnded runs b when its window ends, unless reads of the node that
// hold a ticket are still on their way and the bound is not reached.
func (o *nodeOps) windowEnded(node string, b *checkBatch) {
	bt := &o.batches
	bt.mu.Lock()
	if bt.pending[node] != b {
		// Already taken (a window extended after it had ended, or the
		// last expected read started it).
		bt.mu.Unlock()
		return
	}
	if left := time.Until(b.opened.Add(dockerCheckWindowMax)); bt.expected[node] > 0 && left > 0 {
		b.waiting = true
		b.timer.Reset(left)
		bt.mu.Unlock()
		return
	}
	delete(bt.pending, node)
	bt.mu.Unlock()
	o.runBatch(node, b)
}

// runBatch runs a batch taken from pending and hands out its results.
func (o *nodeOps) runBatch(node string, b *checkBatch) {
	b.results = o.runCheckBatch(b.ctx, node, b.vmids)
	close(b.done)
}

// runCheckBatch checks each container of vmids on node: alone through
// CheckDocker, else in one node command. A batch that cannot run gives
// every container its error.
func (o *nodeOps) runCheckBatch(ctx context.Context, node string, vmids []int) map[int]checkOutcome {
	out := make(map[int]checkOutcome, len(vmids))
	if len(vmids) == 1 {
		check, err := o.CheckDocker(ctx, node, vmids[0])
		out[vmids[0]] = checkOutcome{check, err}
		return out
	}
	slices.Sort(vmids)
	res, err := o.checkDockerBatch(ctx, node, vmids)
	var noAccess *noSSHAccessError
	for _, v := range vmids {
		switch {
		case err == nil:
			out[v] = res[v]
		case errors.As(err, &noAccess):
			out[v] = checkOutcome{err: err}
		default:
			e := &scriptError{Script: docker.CheckBatchScriptName, Node: node, VMID: v, ExitCode: -1, Err: err}
			var ce *nodeexec.CommandError
			if errors.As(err, &ce) {
				e.ExitCode = ce.ExitCode
				e.Tail = append(slices.Clone(ce.StdoutTail), ce.StderrTail...)
			}
			out[v] = checkOutcome{err: e}
		}
	}
	return out
}

// checkDockerBatch runs check_docker_batch.sh on node for vmids and judges
// each container's section as CheckDocker judges its own run.
func (o *nodeOps) checkDockerBatch(ctx context.Context, node string, vmids []int) (map[int]checkOutcome, error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("%s: %w", docker.CheckBatchScriptName, err)
	}
	nonce := hex.EncodeToString(raw[:])
	argv, stdin, err := docker.CheckBatch(nonce, vmids)
	if err != nil {
		return nil, err
	}
	cmd := nodeexec.Command{Op: opDockerCheckBatch, Argv: argv, Stdin: stdin, Sudo: true, Retry: true}
	tflog.Debug(ctx, "checking Docker in several containers with one node command", map[string]any{"node": node, "vmids": vmids})
	// Each check is bounded on the node; the batch by its rounds of them.
	rounds := (len(vmids) + docker.CheckBatchParallel - 1) / docker.CheckBatchParallel
	ctx, cancel := context.WithTimeout(ctx, time.Duration(rounds)*(docker.CheckBatchTimeoutSeconds+5)*time.Second+30*time.Second)
	defer cancel()
	res, err := o.run(ctx, node, purposeDocker, cmd, false)
	if err != nil {
		return nil, err
	}
	sections := docker.ParseCheckBatch(string(res.Stdout), nonce, vmids)
	out := make(map[int]checkOutcome, len(vmids))
	for _, v := range vmids {
		s := sections[v]
		if s.Err != nil {
			out[v] = checkOutcome{err: &scriptError{Script: docker.CheckScriptName, Node: node, VMID: v, ExitCode: -1, Err: s.Err}}
			continue
		}
		for _, l := range docker.Tail(s.Output, outputTailLines) {
			tflog.Debug(ctx, l, map[string]any{"node": node, "vmid": v, "step": opDockerCheck, "script": docker.CheckScriptName})
		}
		r := scriptRun{output: s.Output, exitCode: s.ExitCode}
		if s.ExitCode != 0 {
			r.err = &nodeexec.CommandError{Op: opDockerCheck, Node: node, ExitCode: s.ExitCode, StdoutTail: docker.Tail(s.Output, outputTailLines)}
		}
		check, err := judgeCheck(r, node, v)
		out[v] = checkOutcome{check, err}
	}
	return out, nil
}

// expectDockerCheck returns a ticket for a refresh of the container of
// state when it will likely check Docker (a docker block verified on
// refresh, the container last seen started), else nil.
func (r *lxcContainerResource) expectDockerCheck(state *lxcContainerModel) *dockerCheckTicket {
	d := state.Docker
	if r.data == nil || d == nil || (known(d.VerifyOnRefresh) && !d.VerifyOnRefresh.ValueBool()) ||
		(known(state.Started) && !state.Started.ValueBool()) || !known(state.NodeName) {
		return nil
	}
	return r.data.NodeOps().expectDockerCheck(state.NodeName.ValueString())
}

// dockerTicketKey carries a read's ticket from Read to refreshDocker.
type dockerTicketKey struct{}

func withDockerTicket(ctx context.Context, t *dockerCheckTicket) context.Context {
	return context.WithValue(ctx, dockerTicketKey{}, t)
}

// dockerTicketFrom returns the read's ticket, or nil.
func dockerTicketFrom(ctx context.Context) *dockerCheckTicket {
	t, _ := ctx.Value(dockerTicketKey{}).(*dockerCheckTicket)
	return t
}
