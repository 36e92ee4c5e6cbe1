package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/nodeexec"
)

// dockerCTs adds running containers under the Docker profile and installs
// Docker in them, all at once.
func (e *nodeEnv) dockerCTs(vmids ...int) {
	e.t.Helper()
	ops, plan := e.data.NodeOps(), dockerPlanOf(e.t, docker.DefaultOptions())
	for _, v := range vmids {
		e.prepareDockerCT(v)
	}
	errs := make([]error, len(vmids))
	var wg sync.WaitGroup
	for i, v := range vmids {
		wg.Go(func() { _, errs[i] = ops.InstallDocker(context.Background(), testNode, v, plan) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		e.t.Fatal(err)
	}
}

// sharedChecks asks CheckDockerShared for each vmid at once, as
// Terraform's concurrent reads do.
func sharedChecks(ctx context.Context, ops *nodeOps, node string, vmids ...int) map[int]checkOutcome {
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := map[int]checkOutcome{}
	for _, v := range vmids {
		wg.Go(func() {
			c, err := ops.CheckDockerShared(ctx, node, v, nil)
			mu.Lock()
			out[v] = checkOutcome{c, err}
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// The refresh checks of several containers of a node run as one read-only
// node command, each container with its own result: the same as its own
// check, an inactive service as a result, a container pct cannot enter as
// that container's error. One container alone keeps its own check.
func TestDockerCheckSharedBatchesANode(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t)
	ops := e.data.NodeOps()
	ctx := t.Context()
	vmids := []int{130, 131, 132}
	e.dockerCTs(vmids...)
	// 133 exists but is stopped: pct exec refuses it.
	e.addCT(133, dockerCTConf(133), false)
	pool, err := e.data.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Run(ctx, testNode, nodeexec.PctExec(131, "systemctl", "stop", "docker")); err != nil {
		t.Fatal(err)
	}
	own := map[int]docker.CheckResult{}
	start := time.Now()
	for _, v := range vmids {
		if own[v], err = ops.CheckDocker(ctx, testNode, v); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("three own checks, one after the other: %s", time.Since(start))

	before, events := ops.Counts(), e.eventCount()
	start = time.Now()
	got := sharedChecks(ctx, ops, testNode, 130, 131, 132, 133)
	t.Logf("four shared checks: %s", time.Since(start))
	after := ops.Counts()
	if n := after.Commands - before.Commands; n != 1 || after.ByOp[opDockerCheckBatch]-before.ByOp[opDockerCheckBatch] != 1 {
		t.Errorf("four checks sent %d commands (%v), want one %s", n, after.ByOp, opDockerCheckBatch)
	}
	evs := e.waitEvents(events + 1)
	if w := writesSince(evs, events); len(w) > 0 || len(evs) != events+1 {
		t.Errorf("the batch wrote on the node or ran more than one command: %d commands, writes %q", len(evs)-events, w)
	}
	for _, v := range vmids {
		if got[v].err != nil || got[v].check != own[v] {
			t.Errorf("%d: batch result %+v, %v; its own check gave %+v", v, got[v].check, got[v].err, own[v])
		}
	}
	if !got[130].check.ServiceActive || got[131].check.ServiceActive || got[131].check.InstalledVersion == "" {
		t.Errorf("130 must be active, 131 inactive with its version: %+v / %+v", got[130].check, got[131].check)
	}
	var se *scriptError
	if err := got[133].err; !errors.As(err, &se) || se.VMID != 133 || !strings.Contains(err.Error(), "not running!") {
		t.Errorf("133 (stopped): want its own script error with pct's message, got %v", err)
	}

	// One container alone: its own check, no batch.
	before = ops.Counts()
	start = time.Now()
	one := sharedChecks(ctx, ops, testNode, 130)
	took := time.Since(start)
	after = ops.Counts()
	if one[130].err != nil || one[130].check != own[130] {
		t.Errorf("single check = %+v, %v", one[130].check, one[130].err)
	}
	if after.ByOp[opDockerCheck]-before.ByOp[opDockerCheck] != 1 || after.Commands-before.Commands != 1 {
		t.Errorf("a single container sent %v, want its own %s", after.ByOp, opDockerCheck)
	}
	t.Logf("single container: %s (window %s)", took, dockerCheckWindow)
}

// A batch that cannot run gives every container the reason, as each
// container's own check would have.
func TestDockerCheckSharedWithoutSSH(t *testing.T) {
	t.Parallel()
	ops := newNodeOps(func(context.Context) (*nodeexec.Pool, error) { return nil, errNoSSHAuth })
	got := sharedChecks(t.Context(), ops, "pve1", 101, 102, 103)
	for _, v := range []int{101, 102, 103} {
		var noSSH *noSSHAccessError
		if !errors.As(got[v].err, &noSSH) {
			t.Errorf("%d: got %v, want the no-SSH error", v, got[v].err)
		}
	}
	if c := ops.Counts(); c.Commands != 0 {
		t.Errorf("%d commands counted without SSH", c.Commands)
	}
}

// Checks of different nodes never share a command; a read that gives up
// does not stop the batch of the others.
func TestDockerCheckSharedPerNode(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	asked := map[string]int{}
	// The pool function is called once per command: it counts them.
	ops := newNodeOps(func(context.Context) (*nodeexec.Pool, error) {
		mu.Lock()
		defer mu.Unlock()
		asked["calls"]++
		return nil, errNoSSHAuth
	})
	ops.batches.window = 50 * time.Millisecond
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := ops.CheckDockerShared(canceled, "pve1", 100, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled read: %v", err)
	}
	var wg sync.WaitGroup
	for _, node := range []string{"pve1", "pve2"} {
		wg.Go(func() { sharedChecks(t.Context(), ops, node, 101, 102) })
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	// pve1: the canceled read's container joined the same window.
	if asked["calls"] != 2 {
		t.Errorf("%d node commands attempted, want one per node", asked["calls"])
	}
}

// countingOps is node operations without SSH, with a 20 ms window, whose
// pool function counts the commands attempted.
func countingOps() (*nodeOps, func() int) {
	var mu sync.Mutex
	n := 0
	ops := newNodeOps(func(context.Context) (*nodeexec.Pool, error) {
		mu.Lock()
		defer mu.Unlock()
		n++
		return nil, errNoSSHAuth
	})
	ops.batches.window = 20 * time.Millisecond
	return ops, func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// A read that holds a ticket keeps its node's batch open past the quiet
// window until it joins or gives up, within dockerCheckWindowMax.
func TestDockerCheckSharedWaitsForTickets(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	late := func(ops *nodeOps, t1 *dockerCheckTicket, after time.Duration, join bool) {
		time.Sleep(after)
		if join {
			_, _ = ops.CheckDockerShared(ctx, "pve1", 102, t1)
		} else {
			t1.release()
		}
	}

	// The second read joins 100 ms after the first, long after the window:
	// one command all the same.
	ops, commands := countingOps()
	a, b := ops.expectDockerCheck("pve1"), ops.expectDockerCheck("pve1")
	go late(ops, b, 100*time.Millisecond, true)
	start := time.Now()
	if _, err := ops.CheckDockerShared(ctx, "pve1", 101, a); err == nil {
		t.Fatal("no error without SSH")
	}
	if took := time.Since(start); took < 100*time.Millisecond || commands() != 1 {
		t.Errorf("%d commands after %s, want one batch once the second read joined (after 100 ms)", commands(), took)
	}

	// A read that ends without asking starts the batch at once.
	ops, commands = countingOps()
	a, b = ops.expectDockerCheck("pve1"), ops.expectDockerCheck("pve1")
	go late(ops, b, 60*time.Millisecond, false)
	start = time.Now()
	_, _ = ops.CheckDockerShared(ctx, "pve1", 101, a)
	if took := time.Since(start); took < 60*time.Millisecond || took >= dockerCheckWindowMax || commands() != 1 {
		t.Errorf("%d commands after %s, want one once the other read gave up (60 ms), before %s", commands(), took, dockerCheckWindowMax)
	}

	// A ticket never released holds the batch until the bound; tickets of
	// another node do not.
	ops, commands = countingOps()
	a = ops.expectDockerCheck("pve1")
	held := ops.expectDockerCheck("pve1")
	other := ops.expectDockerCheck("pve2")
	defer held.release()
	defer other.release()
	start = time.Now()
	_, _ = ops.CheckDockerShared(ctx, "pve1", 101, a)
	if took := time.Since(start); took < dockerCheckWindowMax || commands() != 1 {
		t.Errorf("%d commands after %s, want one at the bound %s", commands(), took, dockerCheckWindowMax)
	}
	ops, _ = countingOps()
	a = ops.expectDockerCheck("pve1")
	other = ops.expectDockerCheck("pve2")
	defer other.release()
	start = time.Now()
	_, _ = ops.CheckDockerShared(ctx, "pve1", 101, a)
	if took := time.Since(start); took >= dockerCheckWindowMax {
		t.Errorf("a ticket of pve2 held pve1's batch for %s", took)
	}
}

// A shared check of several containers of a node also checks the node's
// other running containers that run under the Docker profile; their own
// refreshes then take those results (once each, while the cluster's view
// they came from is current and the provider wrote nothing on the node)
// instead of asking the node again. A read that comes while such a check is
// under way waits for it.
func TestDockerCheckSharedSweepsTheNode(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t)
	ops := e.data.NodeOps()
	ctx := t.Context()
	plan := dockerPlanOf(t, docker.DefaultOptions())
	docked := []int{140, 141, 142, 143, 144}
	e.dockerCTs(docked...)
	// 145 runs unconfined: the profile line marks a Docker container.
	e.addCT(145, dockerCTConf(145), true)
	// 146 is under the profile but stopped since the cluster's view was
	// read: its check fails, and a failure is not kept.
	e.addCT(146, dockerCTConf(146)+"lxc.apparmor.profile: "+dockerProfile.Name+"\n", false)
	pool, err := e.data.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Run(ctx, testNode, nodeexec.PctExec(143, "systemctl", "stop", "docker")); err != nil {
		t.Fatal(err)
	}
	own := map[int]docker.CheckResult{}
	for _, v := range docked {
		if own[v], err = ops.CheckDocker(ctx, testNode, v); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	current := true
	ops.sweepCandidates = func(context.Context, string) ([]int, func() bool) {
		return []int{140, 141, 142, 143, 144, 145, 146}, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return current
		}
	}
	commands := func() int { return ops.Counts().Commands }
	sweep := func() {
		t.Helper()
		before := commands()
		got := sharedChecks(ctx, ops, testNode, 140, 141)
		if n := commands() - before; n != 1 {
			t.Fatalf("the shared check sent %d commands, want 1", n)
		}
		for _, v := range []int{140, 141} {
			if got[v].err != nil || got[v].check != own[v] {
				t.Errorf("%d: %+v, %v; own check %+v", v, got[v].check, got[v].err, own[v])
			}
		}
	}
	// check asks for vmid's refresh check and wants it answered with
	// commands node commands (0: from the shared check).
	check := func(vmid, want int) {
		t.Helper()
		before := commands()
		c, err := ops.CheckDockerShared(ctx, testNode, vmid, nil)
		if n := commands() - before; n != want {
			t.Errorf("%d: %d commands, want %d", vmid, n, want)
		}
		if err != nil || c != own[vmid] {
			t.Errorf("%d: %+v, %v; own check %+v", vmid, c, err, own[vmid])
		}
	}

	sweep()
	check(142, 0)
	check(143, 0) // inactive, as its own check says
	check(144, 0)
	if got := own[143]; got.ServiceActive || !own[142].ServiceActive {
		t.Errorf("143 must be inactive, 142 active: %+v / %+v", got, own[142])
	}
	check(142, 1) // each result serves once
	before0 := commands()
	if _, err := ops.CheckDockerShared(ctx, testNode, 146, nil); err == nil || commands()-before0 != 1 {
		t.Errorf("146 (stopped): want its own failing check, got %v after %d commands", err, commands()-before0)
	}
	before := commands()
	if c, _ := ops.CheckDockerShared(ctx, testNode, 145, nil); c.ServiceActive || commands()-before != 1 {
		t.Errorf("145 (unconfined, no Docker): want its own check, got %+v after %d commands", c, commands()-before)
	}

	// The cluster's view changed since: the kept results are not used.
	sweep()
	mu.Lock()
	current = false
	mu.Unlock()
	check(142, 1)
	mu.Lock()
	current = true
	mu.Unlock()

	// The provider wrote on the node: the kept results are not used.
	sweep()
	if _, err := ops.InstallDocker(ctx, testNode, 144, plan); err != nil {
		t.Fatal(err)
	}
	check(142, 1)

	// A read that comes while the shared check runs waits for it.
	before = commands()
	var wg sync.WaitGroup
	sweeping := func() *checkBatch {
		ops.batches.mu.Lock()
		defer ops.batches.mu.Unlock()
		return ops.batches.sweeping[testNode]
	}
	startSweep := func() {
		t.Helper()
		// The reads of the last one may have got their results before it
		// ended.
		if b := sweeping(); b != nil {
			<-b.sweepDone
		}
		wg.Go(func() { sharedChecks(ctx, ops, testNode, 140, 141) })
		for deadline := time.Now().Add(5 * time.Second); ; {
			if sweeping() != nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("no shared check under way")
			}
			time.Sleep(time.Millisecond)
		}
	}
	startSweep()
	c, err := ops.CheckDockerShared(ctx, testNode, 142, nil)
	wg.Wait()
	if err != nil || c != own[142] {
		t.Errorf("142 during the shared check: %+v, %v", c, err)
	}
	if n := commands() - before; n != 1 {
		t.Errorf("a read during the shared check: %d commands in all, want 1", n)
	}

	// A write on the node while the shared check runs: its candidates'
	// results are not kept.
	startSweep()
	ops.batches.writeBegins(testNode) // a write command, begun and ended during it
	ops.batches.writeEnds(testNode)
	wg.Wait()
	check(143, 1)

	// One container asked while another read of the node, still on its
	// way, holds a ticket: the check takes the node's other Docker
	// containers in as well.
	other := ops.expectDockerCheck(testNode)
	before = commands()
	c, err = ops.CheckDockerShared(ctx, testNode, 140, nil)
	other.release()
	if err != nil || c != own[140] || commands()-before != 1 {
		t.Errorf("140 with another read under way: %+v, %v, %d commands", c, err, commands()-before)
	}
	check(141, 0)
}

// The reads asked get their results as soon as their own sections are in,
// while a further container's check still runs; that check is stopped at
// the candidates' bound (check_docker_batch.sh's CANDIDATE_TIMEOUT, 15 s),
// and its failure is not kept. A write on the node that began and ended
// while it ran leaves none of its results kept.
func TestDockerCheckSharedAnswersBeforeSlowCandidates(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t)
	ops := e.data.NodeOps()
	ctx := t.Context()
	e.dockerCTs(160, 161, 162, 163)
	own := map[int]docker.CheckResult{}
	for _, v := range []int{160, 161} {
		c, err := ops.CheckDocker(ctx, testNode, v)
		if err != nil {
			t.Fatal(err)
		}
		own[v] = c
	}
	// In 162, systemctl hangs: the check has no bound of its own there.
	e.hangSystemctl(162)
	e.sweepsOf(ops, 160, 161, 162, 163)
	writes := func() uint64 { return ops.batches.writeCount(testNode) }
	before := writes()
	start := time.Now()
	got := sharedChecks(ctx, ops, testNode, 160, 161)
	answered := time.Since(start)
	ops.batches.mu.Lock()
	b := ops.batches.sweeping[testNode]
	ops.batches.mu.Unlock()
	if b == nil {
		t.Fatalf("the shared check had ended when the reads got their results (%s)", answered)
	}
	// A write of 3 s, begun and ended while the shared check runs (162
	// holds it up for 15 s, and 163's section comes after 162's).
	var wg sync.WaitGroup
	wg.Go(func() {
		cmd := nodeexec.Command{Op: "test-write", Argv: []string{"sleep", "3"}}
		if _, err := ops.run(ctx, testNode, purposeDocker, cmd, true); err != nil {
			t.Error(err)
		}
	})
	defer wg.Wait()
	for _, v := range []int{160, 161} {
		if got[v].err != nil || got[v].check != own[v] {
			t.Errorf("%d: %+v, %v; own check %+v", v, got[v].check, got[v].err, own[v])
		}
	}
	select {
	case <-b.sweepDone:
	case <-time.After(60 * time.Second):
		t.Fatal("the shared check still runs after 60 s")
	}
	// Stopped at 15 s (then killed within 5 s), not at the 60 s of the
	// checks asked.
	if took := time.Since(start); took < 15*time.Second || took > 25*time.Second {
		t.Errorf("the shared check took %s, want the candidates' 15 s bound", took)
	}
	if answered >= 10*time.Second {
		t.Errorf("the reads asked waited %s for the slow candidate", answered)
	}
	if _, wait, ok := ops.batches.sweptFor(testNode, 162); ok || wait != nil {
		t.Errorf("162's stopped check was kept (%v) or is still awaited (%v)", ok, wait != nil)
	}
	if writes() != before+2 {
		t.Errorf("the write counted %d times, want 2 (its start and its end)", writes()-before)
	}
	if _, _, ok := ops.batches.sweptFor(testNode, 163); ok {
		t.Error("163's result was kept though a write on the node ended during the shared check")
	}
}

// A further container's result is handed out as soon as its section is
// in: its read does not wait for a slower container's check after it, nor
// asks the node again. A broken section's read asks the node itself.
func TestDockerCheckSharedHandsOutCandidatesAsTheyEnd(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t)
	ops := e.data.NodeOps()
	ctx := t.Context()
	e.dockerCTs(170, 171, 172, 173)
	own, err := ops.CheckDocker(ctx, testNode, 172)
	if err != nil {
		t.Fatal(err)
	}
	// 174 is under the profile but stopped since the cluster's view was
	// read: its check fails.
	e.addCT(174, dockerCTConf(174)+"lxc.apparmor.profile: "+dockerProfile.Name+"\n", false)
	// In 173, checked after 172 and 174, systemctl hangs until the
	// candidates' bound stops it (15 s).
	e.hangSystemctl(173)
	e.sweepsOf(ops, 170, 171, 172, 174, 173)
	start := time.Now()
	sharedChecks(ctx, ops, testNode, 170, 171)
	ops.batches.mu.Lock()
	b := ops.batches.sweeping[testNode]
	ops.batches.mu.Unlock()
	if b == nil {
		t.Fatalf("the shared check had ended when the reads asked got their results (%s)", time.Since(start))
	}
	before := ops.Counts().Commands
	c, err := ops.CheckDockerShared(ctx, testNode, 172, nil)
	answered := time.Since(start)
	if err != nil || c != own {
		t.Errorf("172: %+v, %v; own check %+v", c, err, own)
	}
	if n := ops.Counts().Commands - before; n != 0 {
		t.Errorf("172 sent %d commands of its own, want its result from the shared check", n)
	}
	if answered >= 10*time.Second {
		t.Errorf("172's read waited %s, for the slow check after it", answered)
	}
	// 174's check failed in the shared one: its read checks it again, at
	// once, and alone, also while other reads of the node are under way
	// (which otherwise make a batch take in the node's other containers).
	other := ops.expectDockerCheck(testNode)
	before = ops.Counts().Commands
	if _, err := ops.CheckDockerShared(ctx, testNode, 174, nil); err == nil {
		t.Error("174 (stopped): no error")
	}
	other.release()
	ops.batches.mu.Lock()
	still := ops.batches.sweeping[testNode]
	ops.batches.mu.Unlock()
	if n := ops.Counts().Commands - before; n != 1 || still != b {
		t.Errorf("174's own check: %d commands, the node's shared check replaced (%v); want 1 command checking 174 alone", n, still != b)
	}
	if took := time.Since(start); took >= 10*time.Second {
		t.Errorf("174's read ended after %s, not before the slow check after it", took)
	}
	select {
	case <-b.sweepDone:
	case <-time.After(60 * time.Second):
		t.Fatal("the shared check still runs after 60 s")
	}
	if took := time.Since(start); took < 15*time.Second {
		t.Errorf("the shared check took %s: 173's check was not the slow one", took)
	}

	// A write that began before a shared check and still runs: the check
	// takes in no further container (its result would not be kept while
	// the write runs), and 172's read checks it itself.
	e.sweepsOf(ops, 170, 171, 172)
	writes := func() uint64 { return ops.batches.writeCount(testNode) }
	w0 := writes()
	var wg sync.WaitGroup
	wctx, endWrite := context.WithCancel(ctx)
	defer endWrite()
	wg.Go(func() {
		// As long as the test needs: stopped below.
		cmd := nodeexec.Command{Op: "test-write", Argv: []string{"sleep", "120"}}
		_, _ = ops.run(wctx, testNode, purposeDocker, cmd, true)
	})
	defer wg.Wait()
	for writes() == w0 {
		time.Sleep(time.Millisecond)
	}
	start = time.Now()
	sharedChecks(ctx, ops, testNode, 170, 171)
	ops.batches.mu.Lock()
	during := ops.batches.sweeping[testNode]
	ops.batches.mu.Unlock()
	if during != nil {
		t.Error("a shared check started during a write took in the node's other containers, whose results would not be kept")
	}
	before = ops.Counts().Commands
	if _, err := ops.CheckDockerShared(ctx, testNode, 172, nil); err != nil {
		t.Error(err)
	}
	if writes() != w0+1 {
		t.Fatalf("the write ended before 172's read did (%s): the case was not made", time.Since(start))
	}
	if n := ops.Counts().Commands - before; n != 1 {
		t.Errorf("172 during a write: %d commands of its own, want 1 (a result seen while the write ran is not kept)", n)
	}
	endWrite()
	wg.Wait()

	// A section that cannot be trusted marks its container as come in, not
	// kept: its read does not wait for the rest.
	b2 := &checkBatch{candidates: []int{180, 181}, progress: make(chan struct{}), arrived: map[int]bool{}}
	ops.batches.mu.Lock()
	ops.batches.sweeping[testNode] = b2
	ops.batches.mu.Unlock()
	if _, wait, ok := ops.batches.sweptFor(testNode, 180); ok || wait == nil {
		t.Fatalf("180 before its section: kept %v, wait %v", ok, wait != nil)
	}
	ops.keepArrived(testNode, b2, 180, checkOutcome{err: errors.New("broken")}, time.Now(), 0)
	if _, wait, ok := ops.batches.sweptFor(testNode, 180); ok || wait != nil {
		t.Errorf("180 after a broken section: kept %v, wait %v", ok, wait != nil)
	}
	if _, wait, ok := ops.batches.sweptFor(testNode, 181); ok || wait == nil {
		t.Errorf("181, not in yet: kept %v, wait %v", ok, wait != nil)
	}
	// A command sent again (Retry) prints 181's section anew: the result
	// serves one read all the same.
	w := writes()
	ops.keepArrived(testNode, b2, 181, checkOutcome{check: own}, time.Now(), w)
	if r, _, ok := ops.batches.sweptFor(testNode, 181); !ok || r.check != own {
		t.Errorf("181's result was not kept: %v %+v", ok, r)
	}
	ops.keepArrived(testNode, b2, 181, checkOutcome{check: own}, time.Now(), w)
	if _, wait, ok := ops.batches.sweptFor(testNode, 181); ok || wait != nil {
		t.Errorf("181 printed again: kept again %v, or awaited %v", ok, wait != nil)
	}
}

// writeCount is how many times the provider began or ended a write on
// node.
func (bt *checkBatcher) writeCount(node string) uint64 {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	return bt.writes[node]
}

// hangSystemctl makes systemctl in container vmid (whose volume is filled)
// sleep for a minute.
func (e *nodeEnv) hangSystemctl(vmid int) {
	e.t.Helper()
	hang := filepath.Join(e.state, "volumes", testNode, "local-lvm", fmt.Sprintf("vm-%d-disk-0", vmid), "usr", "bin", "systemctl")
	if err := os.Remove(hang); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(hang, []byte("#!/bin/bash\nexec sleep 60\n"), 0o755); err != nil { //nolint:gosec // an executable in the container
		e.t.Fatal(err)
	}
}

// sweepsOf makes ops take vmids for the node's running containers, from a
// cluster view that stays current.
func (e *nodeEnv) sweepsOf(ops *nodeOps, vmids ...int) {
	ops.sweepCandidates = func(context.Context, string) ([]int, func() bool) {
		return vmids, func() bool { return true }
	}
}

// A batch of checks runs until the deadline computed from the script's
// bounds, also beyond the 15 min backstop (a node of 400 containers); other
// commands keep their own bounds.
func TestCommandBoundOfABatch(t *testing.T) {
	want := docker.CheckSweepDeadline(400, 0)
	if want <= commandTimeout(opDockerCheckBatch) {
		t.Fatalf("CheckSweepDeadline(400, 0) = %s, not beyond the backstop", want)
	}
	ctx, cancel := context.WithTimeout(t.Context(), want)
	defer cancel()
	if got := commandBound(ctx, opDockerCheckBatch); got > want || got < want-time.Minute {
		t.Errorf("a batch with a deadline %s away gets %s", want, got)
	}
	if got := commandBound(t.Context(), opDockerCheckBatch); got != commandTimeout(opDockerCheckBatch) {
		t.Errorf("a batch without a deadline gets %s, want the backstop", got)
	}
	if got := commandBound(ctx, opDockerCheck); got != time.Minute {
		t.Errorf("a single check gets %s, want its minute", got)
	}
}

// hostileBash adds running container vmid whose bash (which runs what
// pct exec is given, the checks included) runs script instead: a script
// run by the bash it replaced.
func (e *nodeEnv) hostileBash(vmid int, script string) {
	e.t.Helper()
	e.addCT(vmid, dockerCTConf(vmid), true)
	pool, err := e.data.Nodes(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := pool.Run(context.Background(), testNode, nodeexec.PctExec(vmid, "true")); err != nil { // fills its volume
		e.t.Fatal(err)
	}
	bin := filepath.Join(e.state, "volumes", testNode, "local-lvm", fmt.Sprintf("vm-%d-disk-0", vmid), "usr", "bin")
	if err := os.Rename(filepath.Join(bin, "bash"), filepath.Join(bin, "realbash")); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "bash"), []byte("#!/usr/bin/realbash\n"+script+"\n"), 0o755); err != nil { //nolint:gosec // an executable in the container
		e.t.Fatal(err)
	}
}

// A container whose check floods its output is stopped at the bound a
// batch's section has (docker.CheckOutputMax): its check fails at once and
// the provider keeps at most that much.
func TestDockerCheckOutputIsBounded(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t)
	ops := e.data.NodeOps()
	ctx := t.Context()
	// The container's bash, which runs the check, floods.
	e.hostileBash(170, "while :; do echo flood; done")
	start := time.Now()
	_, err := ops.CheckDocker(ctx, testNode, 170)
	var le *nodeexec.OutputLimitError
	if !errors.As(err, &le) || le.Limit != docker.CheckOutputMax {
		t.Fatalf("want the check stopped at %d bytes, got %v", docker.CheckOutputMax, err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the flooding check took %s", took)
	}
}

// A single check is stopped on the node at its bound, as a check within a
// batch is: when a container's check ignores TERM, pct exec is killed 5 s
// later and the check fails within the bound instead of the provider's
// minute. (In pvesim the container's processes end with it, as its
// sandbox's PID namespace does; on PVE the node's pct and lxc-attach end,
// and what the container started is the container's.)
func TestDockerCheckBoundedOnTheNode(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t)
	ops := e.data.NodeOps()
	ops.checkBound = 2 * time.Second
	ctx := t.Context()
	// The container's bash, which runs the check, ignores TERM and sleeps.
	e.hostileBash(171, "trap '' TERM\nsleep 1717")
	start := time.Now()
	_, err := ops.CheckDocker(ctx, testNode, 171)
	var se *scriptError
	if !errors.As(err, &se) || (se.ExitCode != 124 && se.ExitCode != 137) {
		t.Errorf("want the check stopped by the node (exit 124 or 137), got %v", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the check took %s, want about its 2 s bound and the 5 s before KILL", took)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		pids := processesRunning(t, "sleep\x001717\x00")
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's check still runs on the node: pids %v", pids)
		}
	}
}

// processesRunning lists the processes of this machine whose command line
// (NUL-separated, as in /proc/PID/cmdline) is cmdline.
func processesRunning(t *testing.T, cmdline string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("no /proc to look for processes in: %v", err)
	}
	var pids []string
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && string(b) == cmdline {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// TestSweptResultExpires: a further container's kept result serves its
// refresh once, and only within sweptTTL of its batch's start; an older one
// is dropped and the read runs a check of its own.
func TestSweptResultExpires(t *testing.T) {
	var bt checkBatcher
	fresh := sweptOutcome{checkOutcome: checkOutcome{check: docker.CheckResult{ServiceActive: true}}, at: time.Now().Add(-sweptTTL / 2)}
	stale := fresh
	stale.at = time.Now().Add(-sweptTTL - time.Second)
	bt.keepLocked("pve1", 101, fresh)
	bt.keepLocked("pve1", 102, stale)
	if r, _, ok := bt.sweptFor("pve1", 101); !ok || !r.check.ServiceActive {
		t.Errorf("a result kept %s ago was not used", sweptTTL/2)
	}
	if _, _, ok := bt.sweptFor("pve1", 101); ok {
		t.Error("a kept result served two reads")
	}
	if _, _, ok := bt.sweptFor("pve1", 102); ok {
		t.Errorf("a result kept more than %s ago was used", sweptTTL)
	}
}
