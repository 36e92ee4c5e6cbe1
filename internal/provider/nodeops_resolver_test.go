package provider

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/nodeexec"
)

func mustEd25519(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNodeResolver(t *testing.T) {
	lookups := 0
	r := &nodeResolver{
		overrides: map[string]sshNode{"pve1": {Name: "pve1", Address: "10.9.9.1", Port: 2222}},
		lookup: func(context.Context) (map[string]string, error) {
			lookups++
			return map[string]string{"pve1": "10.0.0.1", "pve2": "10.0.0.2"}, nil
		},
	}
	cases := []struct {
		node string
		want nodeexec.Node
	}{
		{"pve1", nodeexec.Node{Name: "pve1", Address: "10.9.9.1", Port: 2222}}, // the override wins over the API
		{"pve2", nodeexec.Node{Name: "pve2", Address: "10.0.0.2", Port: 22}},
		{"pve3", nodeexec.Node{Name: "pve3", Address: "pve3", Port: 22}}, // not in the status: its name
	}
	for _, tc := range cases {
		got, err := r.resolve(t.Context(), tc.node)
		if err != nil || got != tc.want {
			t.Errorf("resolve(%s) = %+v, %v; want %+v", tc.node, got, err, tc.want)
		}
	}
	if lookups != 1 {
		t.Errorf("the cluster status was fetched %d times, want once", lookups)
	}

	noAPI := &nodeResolver{}
	if got, err := noAPI.resolve(t.Context(), "pve4"); err != nil || got.Address != "pve4" {
		t.Errorf("without API: %+v, %v", got, err)
	}

	failing := &nodeResolver{lookup: func(context.Context) (map[string]string, error) {
		return nil, errors.New("401 authentication failure")
	}}
	if _, err := failing.resolve(t.Context(), "pve2"); err == nil || !strings.Contains(err.Error(), "ssh.node") {
		t.Errorf("failed lookup: %v", err)
	}
}

// TestClusterNodeIPsFromTheAPI reads the addresses through the real API
// client from a server answering GET /cluster/status as PVE does.
func TestClusterNodeIPsFromTheAPI(t *testing.T) {
	var hits atomic.Int32
	c := apiStub(t, "/cluster/status", func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":[
			{"type":"cluster","id":"cluster","name":"phoenix","nodes":2,"quorate":1,"version":4},
			{"type":"node","id":"node/pve1","name":"pve1","nodeid":1,"ip":"192.168.1.11","online":1,"local":1},
			{"type":"node","id":"node/pve2","name":"pve2","nodeid":2,"ip":"192.168.1.12","online":0,"local":0}
		]}`))
	})
	d := &providerData{client: c, Settings: settings{SSH: sshSettings{Config: nodeexec.Config{Username: "root", PrivateKey: testKey}}}}
	ips, err := clusterNodeIPs(t.Context(), c.API().Get)
	if err != nil {
		t.Fatal(err)
	}
	if len(ips) != 2 || ips["pve1"] != "192.168.1.11" || ips["pve2"] != "192.168.1.12" {
		t.Errorf("ips = %v", ips)
	}
	// Through the pool's resolver: the override wins, the others come from
	// the API, fetched once.
	d.Settings.SSH.Nodes = []sshNode{{Name: "pve1", Address: "127.0.0.1", Port: 2201}}
	r := d.nodeResolver()
	for node, want := range map[string]nodeexec.Node{
		"pve1": {Name: "pve1", Address: "127.0.0.1", Port: 2201},
		"pve2": {Name: "pve2", Address: "192.168.1.12", Port: 22},
		"pve3": {Name: "pve3", Address: "pve3", Port: 22},
	} {
		if got, err := r.resolve(t.Context(), node); err != nil || got != want {
			t.Errorf("resolve(%s) = %+v, %v; want %+v", node, got, err, want)
		}
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("GET /cluster/status served %d times, want 2 (one direct call, one for the resolver)", n)
	}
}
