package provider

import (
	"slices"
	"testing"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// The containers a shared Docker check may take in: those the cached view
// shows running on the node (no template, no other node's), and a view
// that an invalidation makes stale.
func TestFleetRunning(t *testing.T) {
	f := &fleetStatus{fetched: time.Now(), byVMID: map[int]pve.Resource{
		103: {Node: "pve1", Status: "running"},
		101: {Node: "pve1", Status: "running"},
		102: {Node: "pve1", Status: "stopped"},
		104: {Node: "pve2", Status: "running"},
		105: {Node: "pve1", Status: "running", Template: true},
	}}
	got, current := f.running(t.Context(), nil, "pve1")
	if !slices.Equal(got, []int{101, 103}) || current == nil || !current() {
		t.Fatalf("running on pve1 = %v (current %v)", got, current != nil && current())
	}
	f.invalidate()
	if current() {
		t.Error("the view is still current after an invalidation")
	}
}
