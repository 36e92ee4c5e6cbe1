package pvesim

import (
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The node channel: a node's own tools (the pct stand-in's "pct set") call
// the API as root@pam, as pct does on a real node, where it runs PVE's API
// code in its own process with root's rights. Each node's channel directory
// <state>/nodechan/<node> (bound read-only at /run/pvesim into that node's
// SSH sandboxes only, never into a container) holds
//
//	pve-api.env        PVESIM_API=<endpoint>api2/json (read, never sourced)
//	pve-root-ca.pem    the simulator's CA
//	node-key.header    "X-Pvesim-Node-Key: <key>" (mode 0600)
//
// A request carrying a node's key is that node's root@pam; the keys are new
// at every start.

const nodeKeyHeader = "X-Pvesim-Node-Key"

// newNodeKeys returns a fresh key for each node.
func newNodeKeys(nodes []string) map[string]string {
	keys := map[string]string{}
	for _, n := range nodes {
		keys[n] = hex.EncodeToString(randBytes(24))
	}
	return keys
}

// writeNodeChannels writes each node's channel files.
func (s *server) writeNodeChannels(endpoint string, caPEM []byte) error {
	for _, n := range s.opts.Nodes {
		dir := filepath.Join(s.opts.StateDir, "nodechan", n)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		key := s.nodeKeys[n]
		files := []struct {
			name string
			data string
			mode os.FileMode
		}{
			{"pve-api.env", "PVESIM_API=" + endpoint + "api2/json\n", 0o644},
			{"pve-root-ca.pem", string(caPEM), 0o644},
			{"node-key.header", nodeKeyHeader + ": " + key + "\n", 0o600},
		}
		for _, f := range files {
			if err := writeFileAtomic(filepath.Join(dir, f.name), []byte(f.data), f.mode); err != nil {
				return err
			}
		}
	}
	return nil
}

// nodeCall returns the node whose key a request carries, "" for any other
// request.
func (s *server) nodeCall(hr *http.Request) string {
	got := hr.Header.Get(nodeKeyHeader)
	if got == "" {
		return ""
	}
	for n, key := range s.nodeKeys {
		if subtle.ConstantTimeCompare([]byte(got), []byte(key)) == 1 {
			return n
		}
	}
	return ""
}

// writeCLIError answers a node call's failure as PVE's command line tools
// print it: "400 Parameter verification failed." and one "param: message"
// line per parameter, or the message alone.
func writeCLIError(w http.ResponseWriter, _ *http.Request, e *apiError) int {
	var b strings.Builder
	if len(e.errors) > 0 {
		fmt.Fprintf(&b, "%d %s\n", e.status, strings.TrimRight(e.msg, "\n"))
		keys := make([]string, 0, len(e.errors))
		for k := range e.errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s: %s\n", k, e.errors[k])
		}
	} else {
		b.WriteString(strings.TrimRight(e.msg, "\n") + "\n")
	}
	status := e.status
	if status < 100 || status > 999 {
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
	return status
}
