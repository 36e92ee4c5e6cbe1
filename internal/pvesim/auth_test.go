package pvesim

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

func TestAuthRefusals(t *testing.T) {
	s := startSim(t, Options{})
	id, _, _ := strings.Cut(s.APIToken, "=")
	cases := []struct {
		name   string
		header string
		reason string
	}{
		{"no credentials", "", "No ticket"},
		{"wrong secret", "PVEAPIToken=" + id + "=00000000-0000-0000-0000-000000000000", "invalid token value!"},
		{"unknown token", "PVEAPIToken=root@pam!other=secret", "no such token 'other' for user 'root@pam'"},
		{"unknown user", "PVEAPIToken=alice@pve!phoenix=secret", "user 'alice@pve' does not exist"},
		{"empty secret", "PVEAPIToken=" + id + "=", "no token value specified"},
		{"other scheme", "Bearer " + s.APIToken, "No ticket"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := callWith(t, s, http.MethodGet, "/nodes", nil, func(r *http.Request) {
				if tc.header != "" {
					r.Header.Set("Authorization", tc.header)
				}
			})
			if r.status != http.StatusUnauthorized || r.reason != tc.reason || r.raw != `{"data":null}` {
				t.Fatalf("got %d %q %s, want 401 %q", r.status, r.reason, r.raw, tc.reason)
			}
		})
	}

	// Both spellings PVE accepts work.
	for _, h := range []string{"PVEAPIToken=" + s.APIToken, "PVEAPIToken " + s.APIToken} {
		r := callWith(t, s, http.MethodGet, "/version", nil, func(r *http.Request) { r.Header.Set("Authorization", h) })
		r.ok(t)
	}

	// go-proxmox reports a wrong token as not authorized.
	c := proxmox.NewClient(s.Endpoint+"api2/json", proxmox.WithRootCAFile(s.CAFile), proxmox.WithAPIToken(id, "wrong"))
	if _, err := c.Version(t.Context()); !errors.Is(err, proxmox.ErrNotAuthorized) {
		t.Fatalf("wrong token: %v", err)
	}
}

func TestTicketAndCSRF(t *testing.T) {
	s := startSim(t, Options{})
	login := func(user, pass string) apiResp {
		return callWith(t, s, http.MethodPost, "/access/ticket", url.Values{"username": {user}, "password": {pass}}, nil)
	}
	if r := login("root@pam", "wrong"); r.status != http.StatusUnauthorized || r.reason != "authentication failure" {
		t.Fatalf("wrong password: %d %q", r.status, r.reason)
	}
	if r := login("admin@pve", s.Password); r.status != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d %q", r.status, r.reason)
	}
	data := login("root@pam", s.Password).obj(t)
	ticket, _ := data["ticket"].(string)
	csrf, _ := data["CSRFPreventionToken"].(string)
	if data["username"] != "root@pam" || !strings.HasPrefix(ticket, "PVE:root@pam:") || len(csrf) < 10 || data["cap"] == nil {
		t.Fatalf("ticket answer: %v", data)
	}
	// The realm may be passed separately.
	callWith(t, s, http.MethodPost, "/access/ticket", url.Values{"username": {"root"}, "realm": {"pam"}, "password": {s.Password}}, nil).ok(t)

	cookie := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "PVEAuthCookie", Value: ticket}) }
	callWith(t, s, http.MethodGet, "/nodes", nil, cookie).ok(t)
	put := url.Values{"cores": {"2"}}
	createCT(t, s, "pve1", 100, nil)
	if r := callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", put, cookie); r.status != http.StatusUnauthorized || r.reason != "Permission denied - invalid csrf token" {
		t.Fatalf("write without CSRF token: %d %q", r.status, r.reason)
	}
	if r := callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", put, func(r *http.Request) {
		cookie(r)
		r.Header.Set("CSRFPreventionToken", "00000000:forged")
	}); r.status != http.StatusUnauthorized {
		t.Fatalf("write with forged CSRF token: %d %q", r.status, r.reason)
	}
	callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", put, func(r *http.Request) {
		cookie(r)
		r.Header.Set("CSRFPreventionToken", csrf)
	}).ok(t)
	if r := callWith(t, s, http.MethodGet, "/nodes", nil, func(r *http.Request) {
		r.AddCookie(&http.Cookie{Name: "PVEAuthCookie", Value: ticket[:len(ticket)-2] + "xx"})
	}); r.status != http.StatusUnauthorized || r.reason != "invalid PVE ticket" {
		t.Fatalf("tampered ticket: %d %q", r.status, r.reason)
	}

	// go-proxmox logs in with the password and renews with the ticket.
	c := proxmox.NewClient(s.Endpoint+"api2/json", proxmox.WithRootCAFile(s.CAFile),
		proxmox.WithCredentials(&proxmox.Credentials{Username: "root@pam", Password: s.Password}))
	node, err := c.Node(t.Context(), "pve1")
	if err != nil {
		t.Fatal(err)
	}
	ct, err := node.Container(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	task, err := ct.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(t.Context(), 10*time.Millisecond, 10*time.Second); err != nil || !task.IsSuccessful {
		t.Fatalf("start with a ticket: %q, %v", task.ExitStatus, err)
	}
	if err := c.RefreshTicket(t.Context()); err != nil {
		t.Fatalf("renewing the ticket: %v", err)
	}
}

// TestTLSTrust checks that the CA file is all a client needs, and that a
// client without it is refused by TLS verification.
func TestTLSTrust(t *testing.T) {
	s := startSim(t, Options{})
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.Endpoint+"api2/json/version", nil)
	if res, err := plain.Do(req); err == nil {
		_ = res.Body.Close()
		t.Fatal("a client without the CA must not trust the simulator")
	}
	res, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.ProtoMajor != 1 || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("got %s %d, want HTTP/1.1 401", res.Proto, res.StatusCode)
	}
}
