// Package simssh gives a pvesim simulator its per-node SSH servers: it
// starts one internal/pvesim/sshd server per node, authorizes the
// simulator's client key, writes a known_hosts file holding every node's
// host key, and records each command in the simulator's request log.
package simssh

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim/sshd"
	"golang.org/x/crypto/ssh"
)

// Info is what a client needs to reach the nodes: it is published as the
// "ssh" member of pvesim's start line and as Sim.SSH.
type Info struct {
	User           string          `json:"user"`
	PrivateKeyFile string          `json:"private_key_file"`
	KnownHostsFile string          `json:"known_hosts_file"`
	Nodes          map[string]Node `json:"nodes"`
	servers        map[string]*sshd.Server
	faults         *faultHolder
}

// Node is one node's SSH endpoint.
type Node struct {
	Address            string `json:"address"`
	Host               string `json:"host"`
	Port               int    `json:"port"`
	HostKeyFingerprint string `json:"host_key_fingerprint"`
}

// faultHolder lets tests change the SSH faults of running servers.
type faultHolder struct {
	mu  sync.Mutex
	set sshd.FaultSet
}

func (f *faultHolder) get() sshd.FaultSet {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.set
}

// SetFaults replaces the SSH faults of every node.
func (i *Info) SetFaults(set sshd.FaultSet) {
	i.faults.mu.Lock()
	defer i.faults.mu.Unlock()
	i.faults.set = set
}

// Server returns the SSH server of a node.
func (i *Info) Server(node string) *sshd.Server { return i.servers[node] }

// Starter returns the pvesim Options.StartSSH hook.
func Starter() func(s *pvesim.Sim) (any, func() error, error) {
	return func(s *pvesim.Sim) (any, func() error, error) {
		keyFile, pub, err := sshd.EnsureClientKey(s.StateDir)
		if err != nil {
			return nil, nil, err
		}
		info := &Info{
			User:           "root",
			PrivateKeyFile: keyFile,
			KnownHostsFile: filepath.Join(s.StateDir, "ssh", "known_hosts"),
			Nodes:          map[string]Node{},
			servers:        map[string]*sshd.Server{},
			faults:         &faultHolder{},
		}
		stop := func() error {
			var errs []error
			for _, srv := range info.servers {
				errs = append(errs, srv.Close())
			}
			return errors.Join(errs...)
		}
		var all []*sshd.Server
		for _, node := range s.Nodes {
			srv, err := sshd.Start(sshd.Options{
				StateDir:       s.StateDir,
				Node:           node,
				Listen:         "127.0.0.1:0",
				AuthorizedKeys: []ssh.PublicKey{pub},
				Faults:         info.faults.get,
				ExecLatency:    s.ExecLatency,
				OnCommand: func(ev sshd.Event) {
					method := "SSH"
					if ev.Write {
						method = "SSH-WRITE"
					}
					s.RecordRequest(pvesim.Request{
						Method: method, Path: ev.Command, Status: ev.Exit, Source: "ssh", Node: ev.Node,
						Time: ev.Start.UTC(), DurationMS: float64(ev.Duration.Microseconds()) / 1000,
					})
				},
			})
			if err != nil {
				_ = stop()
				return nil, nil, fmt.Errorf("starting the SSH server of node %s: %w", node, err)
			}
			info.servers[node] = srv
			all = append(all, srv)
			host, port := splitHostPort(srv.Addr())
			info.Nodes[node] = Node{Address: srv.Addr(), Host: host, Port: port, HostKeyFingerprint: srv.Fingerprint()}
		}
		if err := sshd.WriteKnownHosts(info.KnownHostsFile, all...); err != nil {
			_ = stop()
			return nil, nil, err
		}
		return info, stop, nil
	}
}

func splitHostPort(addr string) (string, int) {
	i := strings.LastIndex(addr, ":")
	port := 0
	_, _ = fmt.Sscanf(addr[i+1:], "%d", &port)
	return addr[:i], port
}

// Start runs a simulator with SSH servers for a test.
func Start(t testing.TB, opts pvesim.Options) (*pvesim.Sim, *Info) {
	t.Helper()
	opts.StartSSH = Starter()
	s := pvesim.Start(t, opts)
	info, ok := s.SSH.(*Info)
	if !ok {
		t.Fatalf("simulator started without SSH info (%T)", s.SSH)
	}
	return s, info
}

// SSHCommands returns the SSH commands in the simulator's request log.
func SSHCommands(s *pvesim.Sim) (reads, writes []string) {
	for _, r := range s.Requests() {
		switch r.Method {
		case "SSH":
			reads = append(reads, r.Path)
		case "SSH-WRITE":
			writes = append(writes, r.Path)
		}
	}
	return reads, writes
}
