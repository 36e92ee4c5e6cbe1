package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// dockerSweepMax bounds how many further containers of the node one batch
// checks besides those asked (see checkBatch.candidates).
const dockerSweepMax = 256

// sweptTTL is how long, from the start of its batch, the result of a
// further container serves that container's refresh: the plan that made it
// (one provider process serves one Terraform walk), as long as the provider
// changed nothing on the node and the cluster's view of the containers was
// not invalidated meanwhile. Terraform refreshes a fleet ten at a time in no
// fixed order, so the last reads of a large fleet come long after the
// node's command began: the refresh of 500 Docker containers took about a
// minute on 2 cores, and with 30 s every node ran a second command for the
// reads that came later. A result read near the end of such a plan is no
// older than one the plan read at its start.
const sweptTTL = 2 * time.Minute

// checkBatch is the refresh checks asked of one node within one window.
type checkBatch struct {
	vmids []int
	// candidates are the node's other running containers that the batch
	// checks too when their configuration runs them under the Docker
	// profile: a batch of two or more containers (or one while more reads
	// of the node hold tickets) means a plan of many, and
	// their reads, which Terraform starts later (its parallelism), then
	// find their results ready instead of asking the node again. Set once
	// the batch runs; guarded by checkBatcher.mu.
	candidates []int
	// current reports whether the cluster's view the candidates came from
	// is still current.
	current func() bool
	// sweepDone is closed when the batch has ended (the results of vmids
	// come earlier, through done, and each candidate's as its section
	// comes in).
	sweepDone chan struct{}
	// progress is closed, and replaced, each time a candidate's section
	// comes in, and closed for good (then nil) when the batch ends: what a
	// read waiting for a candidate's result waits for. arrived holds the
	// candidates whose section came in. Both guarded by checkBatcher.mu.
	progress chan struct{}
	arrived  map[int]bool
	// deliver hands out the results of vmids once.
	deliver sync.Once
	opened  time.Time
	timer   *time.Timer
	ctx     context.Context //nolint:containedctx // the batch runs for every read that joined it, after the first has returned.
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
	// sweeping is, per node, the batch under way that checks candidates.
	sweeping map[string]*checkBatch
	// swept holds, per node, the candidates' results not yet taken.
	swept map[string]map[int]sweptOutcome
	// writes counts, per node, the commands that may change it: a batch
	// keeps no candidate result when one began or ended while it ran.
	writes map[string]uint64
	// writing counts, per node, the commands that may change it and run
	// now: no candidate result is kept meanwhile.
	writing map[string]int
}

// sweptOutcome is a candidate's result, kept for its own refresh.
type sweptOutcome struct {
	checkOutcome
	at      time.Time
	current func() bool
}

// sweptFor takes the kept result of vmid on node, when there is a usable
// one (each is used once). Else, when a batch under way checks vmid as a
// candidate and its section has not come in yet, it returns a channel
// closed when another section comes in or the batch ends: ask again then.
func (bt *checkBatcher) sweptFor(node string, vmid int) (checkOutcome, <-chan struct{}, bool) {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if s, ok := bt.swept[node][vmid]; ok {
		delete(bt.swept[node], vmid)
		if time.Since(s.at) < sweptTTL && (s.current == nil || s.current()) {
			return s.checkOutcome, nil, true
		}
	}
	if b := bt.sweeping[node]; b != nil && b.progress != nil && !b.arrived[vmid] && slices.Contains(b.candidates, vmid) {
		return checkOutcome{}, b.progress, false
	}
	return checkOutcome{}, nil, false
}

// keepLocked keeps s for vmid's next refresh on node.
func (bt *checkBatcher) keepLocked(node string, vmid int, s sweptOutcome) {
	if bt.swept == nil {
		bt.swept = map[string]map[int]sweptOutcome{}
	}
	if bt.swept[node] == nil {
		bt.swept[node] = map[int]sweptOutcome{}
	}
	bt.swept[node][vmid] = s
}

// forgetLocked drops the kept results of node's containers, and those of
// the batches under way there: the provider is changing something there.
func (bt *checkBatcher) forgetLocked(node string) {
	delete(bt.swept, node)
	if bt.writes == nil {
		bt.writes = map[string]uint64{}
	}
	bt.writes[node]++
}

// writeBegins and writeEnds bracket a command that may change node: both
// forget, and while one runs no result of a shared check is kept (one that
// began before the check, and ends during or after it, would otherwise
// leave results seen while it ran).
func (bt *checkBatcher) writeBegins(node string) {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.writing == nil {
		bt.writing = map[string]int{}
	}
	bt.writing[node]++
	bt.forgetLocked(node)
}

func (bt *checkBatcher) writeEnds(node string) {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.writing[node]--; bt.writing[node] <= 0 {
		delete(bt.writing, node)
	}
	bt.forgetLocked(node)
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
	for {
		r, wait, ok := o.batches.sweptFor(node, vmid)
		if ok {
			t.release()
			return r.check, r.err
		}
		if wait == nil {
			break
		}
		// A batch under way checks this container too: wait for it rather
		// than ask the node again, and hold up no other batch meanwhile.
		t.release()
		select {
		case <-wait:
		case <-ctx.Done():
			return docker.CheckResult{}, ctx.Err()
		}
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

// runBatch runs a batch taken from pending and hands out its results: to
// the reads that joined it as soon as their sections are in, and for its
// candidates to the reads to come.
func (o *nodeOps) runBatch(node string, b *checkBatch) {
	bt := &o.batches
	bt.mu.Lock()
	// More reads of the node's Docker containers under way (past the
	// window's bound) also mean a plan of many. While another batch checks
	// the node's containers, this one checks only those asked (a read of a
	// container whose check there failed comes while it still runs); so
	// while a write runs there, whose results would not be kept.
	more := (len(b.vmids) > 1 || bt.expected[node] > 0) && bt.sweeping[node] == nil && bt.writing[node] == 0
	bt.mu.Unlock()
	began := time.Now()
	var candidates []int
	var writes uint64
	if more && o.sweepCandidates != nil {
		running, current := o.sweepCandidates(b.ctx, node)
		for _, v := range running {
			if len(candidates) < dockerSweepMax && !slices.Contains(b.vmids, v) && checkVMID(v) == nil {
				candidates = append(candidates, v)
			}
		}
		if len(candidates) > 0 {
			bt.mu.Lock()
			b.candidates, b.current, b.sweepDone = candidates, current, make(chan struct{})
			b.progress, b.arrived = make(chan struct{}), map[int]bool{}
			if bt.sweeping == nil {
				bt.sweeping = map[string]*checkBatch{}
			}
			bt.sweeping[node] = b
			writes = bt.writes[node]
			bt.mu.Unlock()
			defer func() {
				bt.mu.Lock()
				if bt.sweeping[node] == b {
					delete(bt.sweeping, node)
				}
				close(b.progress)
				b.progress = nil
				bt.mu.Unlock()
				close(b.sweepDone)
			}()
		}
	}
	hooks := batchHooks{
		asked:     func(r map[int]checkOutcome) { o.deliverBatch(b, r) },
		candidate: func(v int, r checkOutcome) { o.keepArrived(node, b, v, r, began, writes) },
	}
	results, swept, _ := o.runCheckBatch(b.ctx, node, b.vmids, candidates, hooks)
	o.deliverBatch(b, results)
	if len(candidates) > 0 {
		o.keepSwept(node, b, swept, began, writes)
	}
}

// keepArrived takes candidate v's result as its section comes in: kept
// for v's read when it succeeded, the provider wrote nothing on the node
// since the batch began (the write count was writes then) and no write
// runs there now, and the reads waiting for a candidate are woken.
func (o *nodeOps) keepArrived(node string, b *checkBatch, v int, r checkOutcome, began time.Time, writes uint64) {
	bt := &o.batches
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if b.progress == nil || b.arrived[v] {
		return // the batch has ended, or a command sent again prints v anew
	}
	b.arrived[v] = true
	if r.err == nil && bt.writes[node] == writes && bt.writing[node] == 0 {
		bt.keepLocked(node, v, sweptOutcome{checkOutcome: r, at: began, current: b.current})
	}
	close(b.progress)
	b.progress = make(chan struct{})
}

// deliverBatch hands out the results of b's containers, once.
func (o *nodeOps) deliverBatch(b *checkBatch, results map[int]checkOutcome) {
	b.deliver.Do(func() {
		b.results = results
		close(b.done)
	})
}

// keepSwept keeps the candidates' results that succeeded and did not come
// in while the batch ran (keepArrived took those), timed from began,
// unless the provider wrote on the node since the batch began (the write
// count was writes then) or a write runs there now.
func (o *nodeOps) keepSwept(node string, b *checkBatch, swept map[int]checkOutcome, began time.Time, writes uint64) {
	bt := &o.batches
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.writes[node] != writes || bt.writing[node] > 0 || len(swept) == 0 {
		return
	}
	for v, r := range swept {
		if r.err == nil && !b.arrived[v] { // a failed one's own refresh asks again
			bt.keepLocked(node, v, sweptOutcome{checkOutcome: r, at: began, current: b.current})
		}
	}
}

// runCheckBatch checks each container of vmids on node: alone through
// CheckDocker, else in one node command, which also checks those of
// candidates that run under the Docker profile (their results come back
// separately). A batch that cannot run gives every container of vmids its
// error, and none of candidates a result; failed is then the command's
// own error.
// With candidates, hooks receive the results as the sections come in.
func (o *nodeOps) runCheckBatch(ctx context.Context, node string, vmids, candidates []int, hooks batchHooks) (asked, swept map[int]checkOutcome, failed error) {
	out := make(map[int]checkOutcome, len(vmids))
	if len(vmids) == 1 && len(candidates) == 0 {
		check, err := o.CheckDocker(ctx, node, vmids[0])
		out[vmids[0]] = checkOutcome{check, err}
		return out, nil, nil
	}
	slices.Sort(vmids)
	res, swept, err := o.checkDockerBatch(ctx, node, vmids, candidates, hooks)
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
	return out, swept, err
}

// batchHooks receive a sweeping batch's results while it runs.
type batchHooks struct {
	// asked receives the results of the containers asked, as soon as
	// their sections (printed first) are in.
	asked func(map[int]checkOutcome)
	// candidate receives each candidate's result as its sound section
	// comes in (an error when the check failed there); a broken section
	// reaches no hook, and its container's read waits for the command's
	// end.
	candidate func(vmid int, r checkOutcome)
}

// checkDockerBatch runs check_docker_batch.sh on node for vmids (and the
// Docker containers among candidates) and judges each container's section
// as CheckDocker judges its own run. The candidates with a sound section
// come back in swept.
func (o *nodeOps) checkDockerBatch(ctx context.Context, node string, vmids, candidates []int, hooks batchHooks) (asked, swept map[int]checkOutcome, err error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", docker.CheckBatchScriptName, err)
	}
	nonce := hex.EncodeToString(raw[:])
	argv, stdin, err := docker.CheckSweep(nonce, vmids, dockerProfile.Name, candidates)
	if err != nil {
		return nil, nil, err
	}
	cmd := nodeexec.Command{Op: opDockerCheckBatch, Argv: argv, Stdin: stdin, Sudo: true, Retry: true}
	tflog.Debug(ctx, "checking Docker in several containers with one node command",
		map[string]any{"node": node, "vmids": vmids, "other_running_containers": candidates})
	// Each check is bounded on the node; the batch by its rounds of them.
	ctx, cancel := context.WithTimeout(ctx, docker.CheckSweepDeadline(len(vmids), len(candidates)))
	defer cancel()
	var opts []nodeexec.RunOption
	if len(candidates) > 0 && (hooks.asked != nil || hooks.candidate != nil) {
		// The sections of vmids come first: judge them as soon as the
		// last one has ended; then each candidate's as it ends. The
		// parser is the final parse's, a line at a time (sections only in
		// the order the script prints them); only a line of 64 KiB or
		// more (the stream's buffer), in a container's own section,
		// reaches it in parts.
		p := docker.NewSweepParser(nonce, vmids, candidates)
		first := nonce + " begin " + strconv.Itoa(vmids[0])
		last := nonce + " end " + strconv.Itoa(vmids[len(vmids)-1]) + " "
		isCandidate := make(map[int]bool, len(candidates))
		for _, v := range candidates {
			isCandidate[v] = true
		}
		askedDone := false
		opts = append(opts, nodeexec.WithLineFunc(func(s nodeexec.Stream, line string) {
			if s != nodeexec.Stdout {
				return
			}
			if line == first {
				// A command sent again (Retry) prints its sections anew.
				p = docker.NewSweepParser(nonce, vmids, candidates)
				askedDone = false
			}
			v, ended := p.Line(line)
			switch {
			case !askedDone && strings.HasPrefix(line, last):
				askedDone = true
				if hooks.asked != nil {
					hooks.asked(judgeSections(ctx, node, vmids, p.Sections()))
				}
			case askedDone && ended && isCandidate[v] && hooks.candidate != nil:
				sec, _ := p.Section(v)
				check, err := judgeSection(ctx, node, v, sec)
				hooks.candidate(v, checkOutcome{check, err})
			}
		}))
	}
	res, err := o.run(ctx, node, purposeDocker, cmd, false, opts...)
	if err != nil {
		return nil, nil, err
	}
	sections := docker.ParseCheckSweep(string(res.Stdout), nonce, vmids, candidates)
	return judgeSections(ctx, node, vmids, sections), judgeSections(ctx, node, candidates, sections), nil
}

// judgeSections judges the section of each container of vmids that has
// one.
func judgeSections(ctx context.Context, node string, vmids []int, sections map[int]docker.BatchSection) map[int]checkOutcome {
	out := make(map[int]checkOutcome, len(vmids))
	for _, v := range vmids {
		if s, ok := sections[v]; ok {
			check, err := judgeSection(ctx, node, v, s)
			out[v] = checkOutcome{check, err}
		}
	}
	return out
}

// judgeSection judges container vmid's section of a batch as CheckDocker
// judges its own run.
func judgeSection(ctx context.Context, node string, vmid int, s docker.BatchSection) (docker.CheckResult, error) {
	if s.Err != nil {
		return docker.CheckResult{}, &scriptError{Script: docker.CheckScriptName, Node: node, VMID: vmid, ExitCode: -1, Err: s.Err}
	}
	for _, l := range docker.Tail(s.Output, outputTailLines) {
		tflog.Debug(ctx, l, map[string]any{"node": node, "vmid": vmid, "step": opDockerCheck, "script": docker.CheckScriptName})
	}
	r := scriptRun{output: s.Output, exitCode: s.ExitCode}
	if s.ExitCode != 0 {
		r.err = &nodeexec.CommandError{Op: opDockerCheck, Node: node, ExitCode: s.ExitCode, StdoutTail: docker.Tail(s.Output, outputTailLines)}
	}
	return judgeCheck(r, node, vmid)
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
