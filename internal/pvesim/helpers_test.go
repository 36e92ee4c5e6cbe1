package pvesim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

const (
	debianTemplate = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
	ubuntuTemplate = "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst"
)

// startSim starts a simulator with short tasks.
func startSim(t testing.TB, opts Options) *Sim {
	t.Helper()
	if opts.TaskDelay == 0 {
		opts.TaskDelay = 20 * time.Millisecond
	}
	return Start(t, opts)
}

// pxClient is a go-proxmox client with the simulator's token, trusting the
// CA file (no insecure mode).
func pxClient(t testing.TB, s *Sim) *proxmox.Client {
	t.Helper()
	id, secret, ok := strings.Cut(s.APIToken, "=")
	if !ok {
		t.Fatalf("bad token %q", s.APIToken)
	}
	return proxmox.NewClient(s.Endpoint+"api2/json",
		proxmox.WithRootCAFile(s.CAFile),
		proxmox.WithAPIToken(id, secret),
		proxmox.WithTimeout(30*time.Second),
	)
}

// apiResp is a raw API answer.
type apiResp struct {
	status int
	reason string // the HTTP status text after the code
	body   map[string]any
	raw    string
}

// call sends an API request with the token; form goes into the query for
// GET and DELETE and into a form body otherwise.
func call(t testing.TB, s *Sim, method, path string, form url.Values) apiResp {
	t.Helper()
	return callWith(t, s, method, path, form, func(r *http.Request) {
		r.Header.Set("Authorization", "PVEAPIToken="+s.APIToken)
	})
}

func callWith(t testing.TB, s *Sim, method, path string, form url.Values, auth func(*http.Request)) apiResp {
	t.Helper()
	u := s.Endpoint + "api2/json" + path
	var body io.Reader
	if method == http.MethodGet || method == http.MethodDelete {
		if len(form) > 0 {
			u += "?" + form.Encode()
		}
	} else if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if auth != nil {
		auth(req)
	}
	res, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = res.Body.Close() }()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := apiResp{status: res.StatusCode, reason: strings.TrimSpace(strings.TrimPrefix(res.Status, strconv.Itoa(res.StatusCode))), raw: string(raw)}
	if err := json.Unmarshal(raw, &out.body); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", method, path, raw, err)
	}
	return out
}

// ok requires HTTP 200 and returns "data".
func (r apiResp) ok(t testing.TB) any {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d %q, body %s", r.status, r.reason, r.raw)
	}
	return r.body["data"]
}

// upid requires HTTP 200 with a string (a UPID) as data.
func (r apiResp) upid(t testing.TB) string {
	t.Helper()
	v, ok := r.ok(t).(string)
	if !ok {
		t.Fatalf("data is not a string: %s", r.raw)
	}
	return v
}

// list requires HTTP 200 with an array as data.
func (r apiResp) list(t testing.TB) []any {
	t.Helper()
	v, ok := r.ok(t).([]any)
	if !ok {
		t.Fatalf("data is not an array: %s", r.raw)
	}
	return v
}

// obj requires HTTP 200 with an object as data.
func (r apiResp) obj(t testing.TB) map[string]any {
	t.Helper()
	v, ok := r.ok(t).(map[string]any)
	if !ok {
		t.Fatalf("data is not an object: %s", r.raw)
	}
	return v
}

// waitTask polls a task until it stops and returns its exit status.
func waitTask(t testing.TB, s *Sim, upid string) string {
	t.Helper()
	p, ok := parseUPID(upid)
	if !ok {
		t.Fatalf("bad UPID %q", upid)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		st := call(t, s, http.MethodGet, "/nodes/"+p.node+"/tasks/"+upid+"/status", nil).obj(t)
		if st["status"] == "stopped" {
			es, _ := st["exitstatus"].(string)
			return es
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("task %s did not finish", upid)
	return ""
}

// mustTask requires a task to end with "OK".
func mustTask(t testing.TB, s *Sim, upid string) {
	t.Helper()
	if es := waitTask(t, s, upid); es != "OK" {
		t.Fatalf("task %s failed: %s", upid, es)
	}
}

// createCT creates a container from the Debian template with root@pam's
// token and waits.
func createCT(t testing.TB, s *Sim, node string, vmid int, extra url.Values) {
	t.Helper()
	createOn(t, s, tokenAuth(s.APIToken), node, vmid, extra)
}

// createOn creates a container on node with the given authentication and
// waits.
func createOn(t testing.TB, s *Sim, auth func(*http.Request), node string, vmid int, extra url.Values) {
	t.Helper()
	form := url.Values{
		"vmid":       {strconv.Itoa(vmid)},
		"ostemplate": {debianTemplate},
		"rootfs":     {"local-lvm:8"},
		"hostname":   {"ct" + strconv.Itoa(vmid)},
		"net0":       {"name=eth0,bridge=vmbr0,ip=dhcp"},
	}
	for k, v := range extra {
		form[k] = v
	}
	upid := callWith(t, s, http.MethodPost, "/nodes/"+node+"/lxc", form, auth).upid(t)
	mustTask(t, s, upid)
}

// config returns the config of a container on pve1.
func config(t testing.TB, s *Sim, vmid int) map[string]any {
	t.Helper()
	return call(t, s, http.MethodGet, "/nodes/pve1/lxc/"+strconv.Itoa(vmid)+"/config", nil).obj(t)
}

// rootAuth logs in as root@pam with a ticket: only root@pam itself may do
// what PVE reserves to root@pam (root@pam's API token may not).
func rootAuth(t testing.TB, s *Sim) func(*http.Request) {
	t.Helper()
	data := callWith(t, s, http.MethodPost, "/access/ticket", url.Values{"username": {"root@pam"}, "password": {s.Password}}, nil).obj(t)
	ticket, _ := data["ticket"].(string)
	csrf, _ := data["CSRFPreventionToken"].(string)
	return func(r *http.Request) {
		r.AddCookie(&http.Cookie{Name: "PVEAuthCookie", Value: ticket})
		r.Header.Set("CSRFPreventionToken", csrf)
	}
}

// tokenGrant is user.cfg lines that give a privilege-separated token and
// its user the role of privs on path (propagated): such a token holds a
// privilege only where its user holds it too (PVE::RPCEnvironment::permissions).
func tokenGrant(token, path, role, privs string) []string {
	user, _, _ := strings.Cut(token, "!")
	return []string{
		"role:" + role + ":" + privs + ":",
		"acl:1:" + path + ":" + user + ":" + role + ":",
		"acl:1:" + path + ":" + token + ":" + role + ":",
	}
}

// tokenAuth authenticates with an API token USER@REALM!ID=SECRET.
func tokenAuth(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "PVEAPIToken="+token) }
}

// createCTAs is createCT on pve1 with the given authentication.
func createCTAs(t testing.TB, s *Sim, auth func(*http.Request), vmid int, extra url.Values) {
	t.Helper()
	createOn(t, s, auth, "pve1", vmid, extra)
}
