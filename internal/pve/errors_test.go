package pve

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
)

// firstRead is one read the provider makes (GET /cluster/resources, as
// FindContainer does), without retries, so that a connection error shows
// at once.
func firstRead(t *testing.T, c *Client) error {
	t.Helper()
	c.readPolicy.MaxAttempts = 1
	_, err := c.ClusterResources(t.Context(), "vm")
	return err
}

// connRead makes the first read with cfg and checks that it fails with a
// ConnError of the kind (named what in the failure) whose message holds each
// of wants.
func connRead(t *testing.T, cfg Config, kind ConnKind, what string, wants ...string) error {
	t.Helper()
	err := firstRead(t, newClient(t, cfg))
	var ce *ConnError
	if !errors.As(err, &ce) || ce.Kind != kind {
		t.Fatalf("want a ConnError of kind %s, got %T %v", what, err, err)
	}
	wantInMessage(t, err, wants...)
	return err
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	err = connRead(t, Config{Endpoint: "https://" + addr, APIToken: "root@pam!tf=secret"}, ConnRefused, "refused",
		"cannot reach https://"+addr+"/: connection refused", "pveproxy", "firewall", "GET /cluster/resources")
	if !IsTransient(err) || !notSent(err) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("refused: transient=%v notSent=%v is ECONNREFUSED=%v, want all true", IsTransient(err), notSent(err), errors.Is(err, syscall.ECONNREFUSED))
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("message leaks the token secret: %q", err)
	}
}

func TestConnectionUntrustedCertificate(t *testing.T) {
	srv := newQuietTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeData(w, `[]`)
	}))
	host := strings.TrimPrefix(srv.URL, "https://")

	err := connRead(t, Config{Endpoint: srv.URL, APIToken: "root@pam!tf=secret"}, ConnTLS, "TLS",
		"TLS certificate of "+host+" is not trusted: x509: certificate signed by unknown authority", "ca_certificate", "/etc/pve/pve-root-ca.pem", "insecure = true")
	if IsTransient(err) {
		t.Error("an untrusted certificate must not count as transient")
	}

	// The same server is accepted with insecure, and with its CA.
	f := &fakePVE{t: t, srv: srv}
	for name, cfg := range map[string]Config{
		"insecure": {Endpoint: srv.URL, APIToken: "root@pam!tf=secret", Insecure: true},
		"ca":       {Endpoint: srv.URL, APIToken: "root@pam!tf=secret", CACertificatePEM: f.caPEM()},
	} {
		if err := firstRead(t, newClient(t, cfg)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestConnectionHostnameMismatch(t *testing.T) {
	f := newFakePVE(t)
	f.reply("GET /api2/json/cluster/resources", `[]`)
	// The test certificate names 127.0.0.1 and example.com, not localhost.
	port := f.srv.URL[strings.LastIndex(f.srv.URL, ":")+1:]
	_ = connRead(t, Config{Endpoint: "https://localhost:" + port, APIToken: "root@pam!tf=secret", CACertificatePEM: f.caPEM()}, ConnTLS, "TLS",
		"does not match the host name")
}

func TestConnectionPlainHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeData(w, `{}`) }))
	t.Cleanup(srv.Close)
	_ = connRead(t, Config{Endpoint: strings.Replace(srv.URL, "http://", "https://", 1), APIToken: "root@pam!tf=secret"}, ConnProtocol, "protocol",
		"did not answer with TLS")
}

func TestConnectionUnauthorizedToken(t *testing.T) {
	f := newFakePVE(t)
	f.fail("GET /api2/json/cluster/resources", 401, "No ticket")
	c, _ := f.client()
	err := firstRead(t, c)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Message != "No ticket" || ae.Path != "/cluster/resources" {
		t.Fatalf("want APIError 401 No ticket on /cluster/resources, got %T %#v", err, err)
	}
	wantInMessage(t, err, "authentication failed", "api_token", "username and password")
	if IsTransient(err) {
		t.Error("a refused token must not count as transient")
	}
	if got := f.requests()[0].Auth; got != "PVEAPIToken=root@pam!tf=00000000-0000-0000-0000-000000000000" {
		t.Errorf("Authorization header %q", got)
	}
}

func TestForbiddenSaysPrivileges(t *testing.T) {
	f := newFakePVE(t)
	f.fail("POST /api2/json/nodes/pve1/lxc", 403, "Permission check failed (/vms/102, VM.Allocate)")
	c, _ := f.client()
	_, err := c.CreateContainer(t.Context(), "pve1", map[string]string{"vmid": "102"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 403 {
		t.Fatalf("want APIError 403, got %T %v", err, err)
	}
	wantInMessage(t, err, "permission denied", "Permission check failed (/vms/102, VM.Allocate)", "privileges", "POST /nodes/pve1/lxc")
}

func TestTicketLoginFailure(t *testing.T) {
	f := newFakePVE(t)
	f.fail("GET /api2/json/cluster/resources", 401, "No ticket")
	f.fail("POST /api2/json/access/ticket", 401, "authentication failure")
	err := firstRead(t, newClient(t, Config{Endpoint: f.srv.URL, Username: "root@pam", Password: "wrong", CACertificatePEM: f.caPEM()}))
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Message != "authentication failure" {
		t.Fatalf("want the ticket's 401, got %T %v", err, err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("message leaks the password: %q", err)
	}
}

func TestTicketLoginSuccess(t *testing.T) {
	f := newFakePVE(t)
	f.handle("GET /api2/json/cluster/resources", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Cookie"), "PVEAuthCookie=PVE:root@pam:TICKET") {
			writeStatus(t, w, 401, "No ticket", `{"data":null}`)
			return
		}
		writeData(w, `[{"id":"lxc/102","type":"lxc","node":"pve1","vmid":102}]`)
	})
	f.reply("POST /api2/json/access/ticket", `{"ticket":"PVE:root@pam:TICKET","CSRFPreventionToken":"csrf","username":"root@pam"}`)
	c := newClient(t, Config{Endpoint: f.srv.URL, Username: "root@pam", Password: "pw", CACertificatePEM: f.caPEM()})
	c.readPolicy.MaxAttempts = 1
	if node, ok, err := c.FindContainer(t.Context(), 102); err != nil || !ok || node != "pve1" {
		t.Fatalf("FindContainer = %q %v %v", node, ok, err)
	}
}

func TestErrorAnswersBecomeAPIErrors(t *testing.T) {
	f := newFakePVE(t)
	f.fail("GET /api2/json/nodes/pve1/lxc/102/config", 500, "Configuration file 'nodes/pve1/lxc/102.conf' does not exist")
	f.handle("POST /api2/json/nodes/pve1/lxc", func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(t, w, 400, "Parameter verification failed.",
			`{"data":null,"errors":{"memory":"value must have a minimum value of 16\n","ostemplate":"property is missing and it is not optional\n"}}`)
	})
	f.handle("GET /api2/json/nodes/pve9/lxc/102/status/current", func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(t, w, 595, "No route to host", ``)
	})
	f.handle("GET /api2/json/cluster/resources", func(w http.ResponseWriter, _ *http.Request) {
		// A 404 with a data member must not pass for success.
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"data":null}`)
	})
	c, _ := f.client()
	c.readPolicy.MaxAttempts = 1

	_, err := c.ContainerConfig(t.Context(), "pve1", 102)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 500 || !IsNotFound(err) {
		t.Errorf("missing config: got %T %v, IsNotFound=%v", err, err, IsNotFound(err))
	}
	if IsTransient(err) {
		t.Error("a missing config is not transient")
	}

	_, err = c.CreateContainer(t.Context(), "pve1", map[string]string{"vmid": "102", "memory": "1"})
	if !errors.As(err, &ae) || ae.Status != 400 {
		t.Fatalf("bad parameters: got %T %v", err, err)
	}
	if ae.Errors["memory"] != "value must have a minimum value of 16" || len(ae.Errors) != 2 {
		t.Errorf("errors map %#v", ae.Errors)
	}
	want := "POST /nodes/pve1/lxc: Parameter verification failed. (HTTP 400): memory: value must have a minimum value of 16; ostemplate: property is missing and it is not optional"
	if err.Error() != want {
		t.Errorf("message\n got %q\nwant %q", err.Error(), want)
	}

	_, err = c.ContainerStatus(t.Context(), "pve9", 102)
	if !errors.As(err, &ae) || ae.Status != 595 || ae.Message != "No route to host" || !IsTransient(err) {
		t.Errorf("595: got %T %v", err, err)
	}

	_, err = c.ClusterResources(t.Context(), "")
	if !errors.As(err, &ae) || ae.Status != 404 || !IsNotFound(err) {
		t.Errorf("404: got %T %v", err, err)
	}
}

func TestClassification(t *testing.T) {
	api := func(status int, msg string) error {
		return fmt.Errorf("context: %w", &APIError{Method: "PUT", Path: "/x", Status: status, Message: msg})
	}
	type class struct{ notFound, locked, exists, digest, transient bool }
	cases := []struct {
		name string
		err  error
		want class
	}{
		{"config missing", api(500, "Configuration file 'nodes/pve1/lxc/102.conf' does not exist"), class{notFound: true}},
		{"storage missing", api(500, "storage 'nope' does not exist"), class{notFound: true}},
		{"http 404", api(404, "Not Found"), class{notFound: true}},
		{"locked", api(500, "CT is locked (backup)"), class{locked: true}},
		{"lock timeout", api(500, "can't lock file '/run/lock/lxc/pve-config-102.lock' - got timeout"), class{locked: true}},
		{"exists", api(500, "CT 102 already exists on node 'pve1'"), class{exists: true}},
		{"exists in errors", &APIError{Status: 400, Message: "Parameter verification failed.", Errors: map[string]string{"vmid": "VM 200 already exists"}}, class{exists: true}},
		{"digest", api(500, "detected modified configuration - file changed by other user? Try again."), class{digest: true}},
		{"500 without quorum", api(500, "cluster not ready - no quorum?"), class{transient: true}},
		{"500 from a refusing handler", api(500, "Cannot do full clones on a running container without snapshots"), class{}},
		{"500 CT running", api(500, "unable to destroy CT 102 - container is running"), class{}},
		{"503", api(503, "Service Unavailable"), class{transient: true}},
		{"501", api(501, "Method 'GET /foo' not implemented"), class{}},
		{"429", api(429, "Too Many Requests"), class{transient: true}},
		{"400", api(400, "Parameter verification failed."), class{}},
		{"reset", &ConnError{Kind: ConnReset, Err: syscall.ECONNRESET}, class{transient: true}},
		{"timeout", &ConnError{Kind: ConnTimeout, Err: errors.New("i/o timeout")}, class{transient: true}},
		{"tls", &ConnError{Kind: ConnTLS, Err: errors.New("x509")}, class{}},
		{"dns permanent", &ConnError{Kind: ConnDNS, Err: &net.DNSError{Err: "no such host", IsNotFound: true}}, class{}},
		{"dns temporary", &ConnError{Kind: ConnDNS, Err: &net.DNSError{Err: "server misbehaving", IsTemporary: true}}, class{transient: true}},
		{"task locked", &TaskError{ExitStatus: "CT is locked (snapshot)"}, class{locked: true}},
		{"plain", errors.New("CT is locked"), class{}},
	}
	for _, tc := range cases {
		got := class{IsNotFound(tc.err), IsLocked(tc.err), IsAlreadyExists(tc.err), IsDigestMismatch(tc.err), IsTransient(tc.err)}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestClassifyConnTransportErrors(t *testing.T) {
	c := newClient(t, Config{Endpoint: "https://pve1.lan:8006", APIToken: "root@pam!tf=s"})
	dial := func(e error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: e} }
	read := func(e error) error { return &net.OpError{Op: "read", Net: "tcp", Err: e} }
	cases := []struct {
		err     error
		kind    ConnKind
		notSent bool
	}{
		{dial(syscall.ECONNREFUSED), ConnRefused, true},
		{dial(syscall.EHOSTUNREACH), ConnUnreachable, true},
		{read(syscall.ECONNRESET), ConnReset, false},
		{io.ErrUnexpectedEOF, ConnReset, false},
		{&net.DNSError{Err: "no such host", Name: "pve1.lan", IsNotFound: true}, ConnDNS, true},
	}
	for _, tc := range cases {
		err := c.wrapErr(t.Context(), "GET", "/nodes", &capture{}, fmt.Errorf("Get: %w", tc.err))
		var ce *ConnError
		if !errors.As(err, &ce) {
			t.Errorf("%v: not a ConnError: %T", tc.err, err)
			continue
		}
		if ce.Kind != tc.kind || ce.NotSent != tc.notSent {
			t.Errorf("%v: kind %d notSent %v, want %d %v", tc.err, ce.Kind, ce.NotSent, tc.kind, tc.notSent)
		}
		if !strings.Contains(err.Error(), "https://pve1.lan:8006/") {
			t.Errorf("%v: message %q does not name the endpoint", tc.err, err)
		}
	}
}
