package simssh

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
)

// run executes a command on node pve1 over SSH and returns stdout, stderr and
// the exit status.
func run(t *testing.T, info *Info, cmd string) (string, string, int) {
	t.Helper()
	key, err := os.ReadFile(info.PrivateKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := knownhosts.New(info.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", info.Nodes["pve1"].Address, &ssh.ClientConfig{
		User: info.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hk, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var out, errOut bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errOut
	err = sess.Run(cmd)
	var exit *ssh.ExitError
	switch {
	case err == nil:
		return out.String(), errOut.String(), 0
	case errors.As(err, &exit):
		return out.String(), errOut.String(), exit.ExitStatus()
	}
	t.Fatal(err)
	return "", "", -1
}

// startWithToken starts a simulator with SSH and a client with its
// least-privilege token; it skips without curl, which the node's pct
// stand-in calls the simulator's API with.
func startWithToken(t *testing.T) (*pvesim.Sim, *Info, *pve.Client) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/curl"); err != nil {
		t.Skip("needs curl on the host: the node's pct stand-in calls the simulator's API with it (apt-get install curl)")
	}
	s, info := Start(t, pvesim.Options{TaskDelay: 10 * time.Millisecond})
	c, err := pve.New(pve.Config{Endpoint: s.Endpoint, APIToken: s.ProviderToken, CACertificatePEM: string(s.CAPEM)})
	if err != nil {
		t.Fatal(err)
	}
	return s, info, c
}

// TestPctSetRunsAsRootPam: "pct set" on a node is update_vm run as
// root@pam (PVE's CLI runs the API code in-process as root), so it may set
// what pve-container's check_ct_modify_config_perm refuses to every API
// token, and PVE's own validation, digest and lock checks still apply.
func TestPctSetRunsAsRootPam(t *testing.T) {
	s, info, c := startWithToken(t)
	ctx := context.Background()
	upid, err := c.CreateContainer(ctx, "pve1", map[string]string{
		"vmid": "100", "ostemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
		"rootfs": "local-lvm:4", "features": "nesting=1", "net0": "name=eth0,bridge=vmbr0,ip=dhcp",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitTask(ctx, upid); err != nil {
		t.Fatal(err)
	}
	// The token may not add keyctl over the API ...
	err = c.UpdateContainerConfig(ctx, "pve1", 100, map[string]string{"features": "nesting=1,keyctl=1"}, nil, "")
	if err == nil || !strings.Contains(err.Error(), "changing feature flags (except nesting) is only allowed for root@pam") {
		t.Fatalf("token set keyctl: %v", err)
	}
	// ... root on the node may, with the digest the API reported.
	cfg, err := c.ContainerConfig(ctx, "pve1", 100)
	if err != nil {
		t.Fatal(err)
	}
	s.ResetRequests()
	if out, errOut, code := run(t, info, "pct set 100 --features nesting=1,keyctl=1 --digest "+cfg.Digest); code != 0 {
		t.Fatalf("pct set: exit %d, %s%s", code, out, errOut)
	}
	cfg, err = c.ContainerConfig(ctx, "pve1", 100)
	if err != nil || cfg.Values["features"] != "keyctl=1,nesting=1" {
		t.Fatalf("features after pct set: %v %v", cfg, err)
	}
	var node []pvesim.Request
	for _, r := range s.Requests() {
		if r.Source == "node" {
			node = append(node, r)
		}
	}
	if len(node) != 1 || node[0].Method != "PUT" || node[0].User != "root@pam" || node[0].Status != 200 || node[0].Node != "pve1" {
		t.Fatalf("node channel calls: %+v", node)
	}
	// PVE's checks still apply, with PVE's CLI output and exit status.
	_, errOut, code := run(t, info, "pct set 100 --features nesting=1 --digest 0000000000000000000000000000000000000000")
	if code != 255 || errOut != "detected modified configuration - file changed by other user? Try again.\n" {
		t.Fatalf("stale digest: exit %d %q", code, errOut)
	}
	_, errOut, code = run(t, info, "pct set 100 --memory lots")
	if code != 255 || !strings.HasPrefix(errOut, "400 Parameter verification failed.\nmemory: type check ('integer') failed - got 'lots'\n") {
		t.Fatalf("bad value: exit %d %q", code, errOut)
	}
	// A wrong key is no credential at all.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"api2/json/nodes", nil)
	req.Header.Set("X-Pvesim-Node-Key", strings.Repeat("0", 48))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM)
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong node key: %s", resp.Status)
	}
	// A container cannot read the node's channel.
	if out, _, code := run(t, info, "pct start 100 && pct exec 100 -- cat /var/lib/phoenix-sim/runtime/node-key.header"); code == 0 || strings.Contains(out, "X-Pvesim") {
		t.Fatalf("the container read the node key: %q", out)
	}
}

// TestVolumeNamesCannotLeaveTheirStorage: a mount point volume name is
// parsed as PVE's storage plugins do (parse_lvm_name: no "/" or ".."), and
// the node's pct never follows a link out of a volume, so a container
// cannot make its own rootfs point at a link it planted (to the node's
// runtime or API channel).
func TestVolumeNamesCannotLeaveTheirStorage(t *testing.T) {
	_, info, c := startWithToken(t)
	ctx := context.Background()
	upid, err := c.CreateContainer(ctx, "pve1", map[string]string{
		"vmid": "100", "ostemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", "rootfs": "local-lvm:4",
	})
	if err == nil {
		err = c.WaitTask(ctx, upid)
	}
	if err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := run(t, info, "pct start 100 && pct exec 100 -- ln -s ../../../runtime /vm-100-disk-9 && pct stop 100"); code != 0 {
		t.Fatalf("planting the link: %d %s%s", code, out, errOut)
	}
	for _, vol := range []string{"local-lvm:vm-100-disk-0/vm-100-disk-9", "local-lvm:../runtime", "local-lvm:vm-100-disk-0/../x"} {
		err := c.UpdateContainerConfig(ctx, "pve1", 100, map[string]string{"rootfs": vol + ",size=4G"}, nil, "")
		// PVE's schema already refuses ".." (pve-volume-id: "contains
		// illegal character sequences"); the storage refuses the rest.
		if err == nil || !strings.Contains(err.Error(), "unable to parse lvm volume name") && !strings.Contains(err.Error(), "illegal character sequences") {
			t.Errorf("rootfs %s: %v", vol, err)
		}
	}
	// Even a config edited behind the API's back does not lead pct there.
	if _, _, code := run(t, info, `sed -i 's#^rootfs: .*#rootfs: local-lvm:base-1-disk-0/vm-100-disk-0,size=4G#' /etc/pve/lxc/100.conf`); code != 0 {
		t.Fatal("editing the config failed")
	}
	if out, errOut, code := run(t, info, "pct start 100 && pct exec 100 -- ls -a /vm-100-disk-9/"); code == 0 {
		t.Fatalf("the container listed the link's target: %s", out)
	} else if strings.Contains(out+errOut, "node-key") || strings.Contains(out+errOut, "running") {
		t.Fatalf("the node's runtime leaked: %s %s", out, errOut)
	}
	// The channel is read-only on the node and absent from the container.
	if _, errOut, code := run(t, info, "echo x >> /run/pvesim/pve-api.env"); code == 0 {
		t.Fatal("the node channel is writable")
	} else if !strings.Contains(errOut, "Read-only") {
		t.Logf("writing the channel: %s", errOut)
	}
	if out, _, code := run(t, info, "pct exec 100 -- ls /run/pvesim"); code == 0 {
		t.Fatalf("the container sees the node channel: %s", out)
	}
}
