package provider

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// fleetTTL bounds how long one /cluster/resources answer serves the status
// of every container. A refresh of N containers then costs N config reads
// plus one cluster-wide call instead of 2N calls. Changes the provider makes
// itself invalidate the cache at once.
const fleetTTL = 15 * time.Second

// fleetStatus is the run state of the cluster's containers, fetched once
// for many reads.
type fleetStatus struct {
	mu      sync.Mutex
	fetched time.Time
	byVMID  map[int]pve.Resource
	// loading is closed when the fetch in flight ends.
	loading chan struct{}
	// gen counts invalidations: a fetch started before one is not kept.
	gen uint64
}

// invalidate forgets the cached status (after a create, start, stop...).
func (f *fleetStatus) invalidate() {
	f.mu.Lock()
	f.fetched = time.Time{}
	f.byVMID = nil
	f.gen++
	f.mu.Unlock()
}

// lookup returns the cluster's view of container vmid on node; ok is false
// when the cache cannot answer (then the caller asks the node directly).
func (f *fleetStatus) lookup(ctx context.Context, c *pve.Client, node string, vmid int) (pve.Resource, bool) {
	view, _, ok := f.view(ctx, c)
	if !ok {
		return pve.Resource{}, false
	}
	r, found := view[vmid]
	return r, found && r.Node == node
}

// running returns the containers the cluster's view shows running on node,
// in ascending order, and a function that reports whether that view is
// still current (no invalidation since); nil when the cache cannot answer.
func (f *fleetStatus) running(ctx context.Context, c *pve.Client, node string) ([]int, func() bool) {
	view, gen, ok := f.view(ctx, c)
	if !ok {
		return nil, nil
	}
	var out []int
	for vmid, r := range view {
		if r.Node == node && r.Status == "running" && !bool(r.Template) {
			out = append(out, vmid)
		}
	}
	slices.Sort(out)
	return out, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.gen == gen
	}
}

// view returns the cached containers by vmid (fetching them when the cache
// is empty or older than fleetTTL; one fetch serves every caller waiting
// for it) and the generation they belong to. The map must not be modified.
func (f *fleetStatus) view(ctx context.Context, c *pve.Client) (map[int]pve.Resource, uint64, bool) {
	for {
		f.mu.Lock()
		if f.byVMID != nil && time.Since(f.fetched) < fleetTTL {
			view, gen := f.byVMID, f.gen
			f.mu.Unlock()
			return view, gen, true
		}
		if f.loading != nil {
			wait := f.loading
			f.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, 0, false
			}
		}
		done := make(chan struct{})
		f.loading = done
		gen := f.gen
		f.mu.Unlock()

		res, err := c.ClusterResources(ctx, "vm")
		f.mu.Lock()
		f.loading = nil
		if err == nil && gen == f.gen {
			f.byVMID = make(map[int]pve.Resource, len(res))
			for _, r := range res {
				if r.Type == "lxc" {
					f.byVMID[int(r.VMID)] = r
				}
			}
			f.fetched = time.Now()
		}
		stale := gen != f.gen
		f.mu.Unlock()
		close(done)
		if err != nil || stale {
			return nil, 0, false
		}
	}
}

// runState returns whether container vmid runs: from the cached fleet view
// when cached is set and the view knows the container, else from the node.
// After a power action the node is asked, since the cluster's view lags.
func (d *providerData) runState(ctx context.Context, c *pve.Client, node string, vmid int, cached bool) (bool, error) {
	if cached {
		if r, ok := d.fleet.lookup(ctx, c, node, vmid); ok && r.Status != "" {
			return r.Status == "running", nil
		}
	}
	st, err := c.ContainerStatus(ctx, node, vmid)
	if err != nil {
		return false, err
	}
	return st.Running(), nil
}

// cloneSourceLock takes the turn of one clone of a source (see Create) and
// returns the function that gives it back; calling it again does nothing.
func (d *providerData) cloneSourceLock(key string) func() {
	v, _ := d.cloneLocks.LoadOrStore(key, &sync.Mutex{})
	mu, _ := v.(*sync.Mutex)
	mu.Lock()
	var once sync.Once
	return func() { once.Do(mu.Unlock) }
}

// cloneSourceKey names a clone's source container.
func cloneSourceKey(m *lxcContainerModel) string {
	node := m.NodeName.ValueString()
	if known(m.Clone.SourceNode) {
		node = m.Clone.SourceNode.ValueString()
	}
	return fmt.Sprintf("%s/%d", node, m.Clone.SourceVMID.ValueInt64())
}
