package provider

// Secrets never leak, and transport security is on by default.
//
// TestAccSecretsNeverLeak applies a container with a docker block and a
// password through the Terraform CLI with TF_LOG=trace, first with an API
// token and then with ticket authentication (username and password), and
// searches every trace log, every CLI output, the state file and
// "terraform show -json" for the API token's secret, the ticket password,
// the container's password and the body of the SSH private key.
//
// With PHOENIX_RECORD_RELIABILITY=1 the figures are written to
// testdata/reliability/secrets.json for the reliability guide. Schema:
//
//	{
//	  "command":       string,   // reproduces the figures
//	  "secrets":       [string], // what was searched for (names, never values)
//	  "runs":          [string], // the terraform commands, e.g. "apply (api_token)"
//	  "searched":      [{"what": string, "bytes": int}], // each log, output and state searched
//	  "log_bytes":     int,      // total size of the trace logs
//	  "leaks":         int,      // occurrences found: 0
//	  "transport": [{"check": string, "result": string}] // transport security checks of this file
//	}
//
// The transport checks are TestAccTLSVerificationOnByDefault,
// TestTLSMinimumVersion and TestAccInsecureOptionsWarnEveryRun below; that
// SSH host keys are verified is asserted by TestAccLXCContainer_wrongHostKey
// (a node presenting another key fails the apply and nothing runs on it).

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// secretsFigures is secrets.json.
type secretsFigures struct {
	Command   string           `json:"command"`
	Secrets   []string         `json:"secrets"`
	Runs      []string         `json:"runs"`
	Searched  []searchedItem   `json:"searched"`
	LogBytes  int              `json:"log_bytes"`
	Leaks     int              `json:"leaks"`
	Transport []transportCheck `json:"transport"`
}

type searchedItem struct {
	What  string `json:"what"`
	Bytes int    `json:"bytes"`
}

type transportCheck struct {
	Check  string `json:"check"`
	Result string `json:"result"`
}

// transportChecks are the transport security checks, as the guide lists them.
var transportChecks = []transportCheck{
	{Check: "TLS verification on by default: an endpoint whose certificate is not trusted fails with the TLS message", Result: "TestAccTLSVerificationOnByDefault"},
	{Check: "TLS 1.2 at least: a TLS 1.1-only server is refused", Result: "TestTLSMinimumVersion"},
	{Check: "SSH host keys verified: a node presenting another key fails the apply, nothing runs on it", Result: "TestAccLXCContainer_wrongHostKey"},
	{Check: "insecure = true and ssh.trust_on_first_use = true warn on every run", Result: "TestAccInsecureOptionsWarnEveryRun"},
}

// secretPieces returns, per secret name, the strings that must not appear:
// the secret itself and, for the private key, each line of its base64 body.
func secretPieces(t *testing.T, e *accEnv, ctPassword string) map[string][]string {
	t.Helper()
	_, tokenSecret, err := pve.ParseAPIToken(e.token)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(e.sshKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	var body []string
	for _, l := range strings.Split(string(keyPEM), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "-----") {
			continue
		}
		body = append(body, l)
	}
	if len(body) == 0 {
		t.Fatal("the SSH private key has no body")
	}
	keyPieces := []string{strings.Join(body, ""), strings.Join(body, "\\n"), strings.Join(body, "\n")}
	for _, l := range body {
		if len(l) >= 16 {
			keyPieces = append(keyPieces, l)
		}
	}
	return map[string][]string{
		"api token secret":         {tokenSecret},
		"ticket password":          {e.sim.Password},
		"container password":       {ctPassword},
		"SSH private key (base64)": keyPieces,
	}
}

// findLeaks counts the secrets' occurrences in text.
func findLeaks(text string, secrets map[string][]string) []string {
	var found []string
	for name, pieces := range secrets {
		for _, p := range pieces {
			if p != "" && strings.Contains(text, p) {
				found = append(found, fmt.Sprintf("%s (%d times)", name, strings.Count(text, p)))
				break
			}
		}
	}
	return found
}

func TestAccSecretsNeverLeak(t *testing.T) {
	e := newAccEnv(t, withSSH)
	e.needSSH()
	if e.sim == nil {
		t.Skip("needs the simulator: the ticket password and the state of a throw-away container are known only there")
	}
	const ctPassword = "Ct-pass-7fd1c2e9b4"
	secrets := secretPieces(t, e, ctPassword)
	dir := t.TempDir()
	logs := t.TempDir()

	resourceHCL := func(description string) string {
		return fmt.Sprintf(`
resource "phoenix_lxc_container" "test" {
  node_name    = %q
  vmid         = 4800
  hostname     = "secrets"
  template     = %q
  unprivileged = true
  description  = %q
  password     = %q
  rootfs {
    storage = %q
    size    = "4G"
  }
  network {
    name   = "eth0"
    bridge = %q
    ip     = "10.0.0.48/24"
    gw     = "10.0.0.1"
  }
  docker {
    daemon_json = jsonencode({ "log-driver" = "journald" })
  }
}
`, e.node, e.template, description, ctPassword, e.storage, e.bridge)
	}
	tokenProvider := e.providerHCL()
	// The same provider with a ticket login instead of the API token.
	ticketProvider := strings.Replace(tokenProvider, fmt.Sprintf("api_token      = %q", e.token),
		fmt.Sprintf("username       = %q\n  password       = %q", e.sim.User, e.sim.Password), 1)
	if ticketProvider == tokenProvider {
		t.Fatal("cannot switch the provider block to ticket authentication")
	}

	fig := secretsFigures{
		Command:   "TF_ACC=1 go test ./internal/provider -run '^TestAccSecretsNeverLeak$' -count=1 -v",
		Transport: transportChecks,
	}
	for name := range secrets {
		fig.Secrets = append(fig.Secrets, name)
	}
	sort.Strings(fig.Secrets)
	search := func(what, text string) {
		t.Helper()
		fig.Searched = append(fig.Searched, searchedItem{What: what, Bytes: len(text)})
		if leaks := findLeaks(text, secrets); len(leaks) > 0 {
			fig.Leaks += len(leaks)
			t.Errorf("%s reveals: %s", what, strings.Join(leaks, ", "))
		}
	}
	var allLogs strings.Builder
	step := 0
	run := func(name string, args ...string) string {
		t.Helper()
		step++
		logFile := filepath.Join(logs, fmt.Sprintf("%02d-%s.log", step, args[0]))
		t.Setenv("TF_LOG", "trace")
		t.Setenv("TF_LOG_PATH", logFile)
		out, err := runTerraform(t, dir, args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		fig.Runs = append(fig.Runs, name)
		log, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatalf("%s wrote no trace log: %v", name, err)
		}
		fig.LogBytes += len(log)
		allLogs.Write(log)
		search("trace log of "+name, string(log))
		search("output of "+name, out)
		return out
	}
	state := func(name string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate"))
		if err != nil {
			t.Fatal(err)
		}
		search("terraform.tfstate after "+name, string(b))
		out, err := runTerraform(t, dir, "show", "-json")
		if err != nil {
			t.Fatalf("show: %v\n%s", err, out)
		}
		search("terraform show -json after "+name, out)
		if !strings.Contains(out, `"password":null`) {
			t.Errorf("the state does not hold password as null (write-only):\n%s", out)
		}
	}

	writeFile(t, filepath.Join(dir, "main.tf"), requirePhoenix+tokenProvider+resourceHCL("created with an API token"))
	run("apply (api_token)", "apply", "-auto-approve", "-input=false", "-no-color")
	state("apply (api_token)")
	writeFile(t, filepath.Join(dir, "main.tf"), requirePhoenix+ticketProvider+resourceHCL("updated with a ticket"))
	run("plan (ticket)", "plan", "-input=false", "-no-color")
	run("apply (ticket)", "apply", "-auto-approve", "-input=false", "-no-color")
	state("apply (ticket)")
	run("destroy (ticket)", "destroy", "-auto-approve", "-input=false", "-no-color")

	// The logs are worth searching: trace level, with the provider's own
	// entries and the docker install in them.
	all := allLogs.String()
	for _, want := range []string{`\[TRACE\]`, `container creation started`, `provider configured: .*auth="?api_token`, `provider configured: .*auth="?ticket`, `docker`} {
		if !regexp.MustCompile(want).MatchString(all) {
			t.Errorf("the trace logs do not match %q: the search above would prove little", want)
		}
	}
	if n := len(e.containers()); n != 0 {
		t.Errorf("%d containers left after destroy", n)
	}
	t.Logf("searched %d trace logs (%d bytes), outputs and states for %d secrets: %d leaks", len(fig.Runs), fig.LogBytes, len(secrets), fig.Leaks)
	if !t.Failed() {
		saveFigures(t, "secrets.json", fig)
	}
}

// TestAccTLSVerificationOnByDefault reads through a provider that is given
// the simulator's endpoint and token but not its CA: the read fails with the
// message that says which certificate is not trusted and what to set.
func TestAccTLSVerificationOnByDefault(t *testing.T) {
	e, dir := simConfigDir(t, "needs the simulator: its certificate is signed by a CA the system does not trust")
	writeFile(t, filepath.Join(dir, "main.tf"), requirePhoenix+fmt.Sprintf(`provider "phoenix" {
  endpoint  = %q
  api_token = %q
}
data "phoenix_lxc_container" "any" {
  node_name = %q
  vmid      = 100
}
`, e.endpoint, e.token, e.node))
	e.resetLog()
	out, err := runTerraform(t, dir, "plan", "-input=false", "-no-color")
	if err == nil {
		t.Fatalf("a plan against an untrusted certificate succeeded:\n%s", out)
	}
	flat := strings.Join(strings.Fields(out), " ")
	if !regexp.MustCompile(`TLS certificate of 127\.0\.0\.1:\d+ is not trusted: .*set ca_certificate`).MatchString(flat) {
		t.Errorf("the error does not say the certificate is not trusted and what to do:\n%s", out)
	}
	if n := len(e.sim.Requests()); n != 0 {
		t.Errorf("the simulator answered %d requests over an unverified connection", n)
	}
}

// TestTLSMinimumVersion checks that the API client refuses a server that
// offers nothing newer than TLS 1.1, and that the same server does answer a
// client that allows TLS 1.1, so the refusal is the client's minimum.
func TestTLSMinimumVersion(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"data":{"version":"9.0.3","release":"9.0","repoid":"abc"}}`))
	}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11} //nolint:gosec // the old server under test
	srv.StartTLS()
	defer srv.Close()
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))

	// A client that allows TLS 1.1 gets an answer.
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10}}} //nolint:gosec // the control
	resp, err := old.Get(srv.URL)
	if err != nil {
		t.Fatalf("the TLS 1.1 server does not answer a TLS 1.1 client: %v", err)
	}
	_ = resp.Body.Close()
	if resp.TLS == nil || resp.TLS.Version != tls.VersionTLS11 {
		t.Fatalf("the control connection did not use TLS 1.1: %+v", resp.TLS)
	}

	c, err := pve.New(pve.Config{Endpoint: srv.URL + "/", APIToken: testToken, CACertificatePEM: caPEM})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ClusterResources(t.Context(), "vm")
	if err == nil {
		t.Fatal("the client spoke TLS 1.1")
	}
	if !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("the error does not say the TLS version was refused: %v", err)
	}
	var ce *pve.ConnError
	if !errors.As(err, &ce) {
		t.Errorf("want a *pve.ConnError, got %T: %v", err, err)
	}
}

// TestAccInsecureOptionsWarnEveryRun plans twice with insecure = true and
// ssh.trust_on_first_use = true: each run shows both warnings.
func TestAccInsecureOptionsWarnEveryRun(t *testing.T) {
	e, dir := simConfigDir(t, "needs the simulator's endpoint")
	writeFile(t, filepath.Join(dir, "main.tf"), requirePhoenix+fmt.Sprintf(`provider "phoenix" {
  endpoint  = %q
  api_token = %q
  insecure  = true
  ssh {
    agent              = true
    trust_on_first_use = true
  }
}
resource "phoenix_lxc_container" "test" {
  node_name = %q
  template  = %q
  rootfs {
    storage = %q
    size    = "4G"
  }
}
`, e.endpoint, e.token, e.node, e.template, e.storage))
	for run := 1; run <= 2; run++ {
		out, err := runTerraform(t, dir, "plan", "-input=false", "-no-color")
		if err != nil {
			t.Fatalf("plan %d: %v\n%s", run, err, out)
		}
		for _, want := range []string{"Warning: TLS verification is disabled", "Warning: SSH host keys are trusted on first use"} {
			if !strings.Contains(out, want) {
				t.Errorf("plan %d does not show %q:\n%s", run, want, out)
			}
		}
		if strings.Contains(out, e.token) {
			t.Errorf("plan %d shows the API token", run)
		}
	}
}
