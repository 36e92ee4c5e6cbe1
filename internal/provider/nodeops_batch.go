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
	vmids   []int
	opened  time.Time
	timer   *time.Timer
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
}

// CheckDockerShared is CheckDocker for a refresh: the checks that
// concurrent reads ask of one node within a short window run as one node
// command (check_docker_batch.sh, a pct exec per container on the node),
// and each read gets its own container's result, as CheckDocker would
// return it. A window with one container runs CheckDocker itself.
func (o *nodeOps) CheckDockerShared(ctx context.Context, node string, vmid int) (docker.CheckResult, error) {
	if err := checkVMID(vmid); err != nil {
		return docker.CheckResult{}, err
	}
	b := o.joinCheckBatch(ctx, node, vmid)
	select {
	case <-b.done:
		r := b.results[vmid]
		return r.check, r.err
	case <-ctx.Done():
		return docker.CheckResult{}, ctx.Err()
	}
}

// joinCheckBatch adds vmid to node's open batch, opening one (and timing
// its window) when there is none.
func (o *nodeOps) joinCheckBatch(ctx context.Context, node string, vmid int) *checkBatch {
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
		b = &checkBatch{done: make(chan struct{}), opened: time.Now()}
		bt.pending[node] = b
		// The batch serves every read that joined it: it runs to its end
		// even when the read that opened it gives up.
		runCtx := context.WithoutCancel(ctx)
		b.timer = time.AfterFunc(window, func() {
			bt.mu.Lock()
			if bt.pending[node] != b {
				// A window extended after it had ended: already taken.
				bt.mu.Unlock()
				return
			}
			delete(bt.pending, node)
			bt.mu.Unlock()
			b.results = o.runCheckBatch(runCtx, node, b.vmids)
			close(b.done)
		})
	case time.Since(b.opened)+window <= dockerCheckWindowMax:
		// Wait for more as long as they keep coming, within the bound.
		b.timer.Reset(window)
	}
	if !slices.Contains(b.vmids, vmid) {
		b.vmids = append(b.vmids, vmid)
	}
	return b
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
