package pvesim

import (
	"net/http"
	"testing"
	"time"
)

// TestLeaseDelay: with Options.LeaseDelay, a DHCP interface has no address
// right after a start or a reboot and gets its lease once the delay has
// passed, as a DHCP client in a real container does.
func TestLeaseDelay(t *testing.T) {
	const delay = 600 * time.Millisecond
	s := startSim(t, Options{LeaseDelay: delay})
	createCT(t, s, "pve1", 101, nil)
	addrs := func() int {
		n := 0
		for _, i := range call(t, s, http.MethodGet, "/nodes/pve1/lxc/101/interfaces", nil).list(t) {
			m, _ := i.(map[string]any)
			if m["name"] == "eth0" {
				l, _ := m["ip-addresses"].([]any)
				n = len(l)
			}
		}
		return n
	}
	for _, op := range []string{"start", "reboot"} {
		began := time.Now()
		mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve1/lxc/101/status/"+op, nil).upid(t))
		if n := addrs(); n != 0 && time.Since(began) < delay {
			t.Fatalf("after %s: eth0 has %d addresses before the lease delay passed", op, n)
		}
		time.Sleep(delay)
		if n := addrs(); n != 1 {
			t.Fatalf("after %s and the lease delay: eth0 has %d addresses, want the lease", op, n)
		}
	}
}
