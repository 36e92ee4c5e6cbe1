package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunPrintsStartLineAndServes(t *testing.T) {
	dir := t.TempDir()
	pr, pw := io.Pipe()
	stop := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"--listen", "127.0.0.1:0", "--nodes", "pve1,pve2", "--state-dir", dir, "--task-delay", "0s", "--exec-latency", "250ms",
			"--fault-json", `{"path_regex":"/cluster/nextid$","status":500,"message":"no ids today","times":1}`}, pw, stop)
		_ = pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading start line: %v (run: %v)", err, <-done)
	}
	var start struct {
		Endpoint     string   `json:"endpoint"`
		CAFile       string   `json:"ca_file"`
		APIToken     string   `json:"api_token"`
		Nodes        []string `json:"nodes"`
		PasswordFile string   `json:"password_file"`
	}
	if err := json.Unmarshal([]byte(line), &start); err != nil {
		t.Fatalf("start line %q: %v", line, err)
	}
	if !strings.HasPrefix(start.Endpoint, "https://127.0.0.1:") || !strings.HasPrefix(start.APIToken, "root@pam!phoenix=") ||
		len(start.Nodes) != 2 || start.CAFile == "" {
		t.Fatalf("start line: %s", line)
	}
	if strings.Contains(line, mustRead(t, start.PasswordFile)) {
		t.Fatal("the password must not be printed")
	}
	if fi, err := os.Stat(start.PasswordFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", fi, err)
	}

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(mustRead(t, start.CAFile))) {
		t.Fatal("CA file holds no certificate")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}, Timeout: 10 * time.Second}
	get := func(path string) *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, start.Endpoint+"api2/json"+path, nil)
		req.Header.Set("Authorization", "PVEAPIToken="+start.APIToken)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res
	}
	if res := get("/cluster/nextid"); res.Status != "500 no ids today" {
		t.Fatalf("fault from --fault-json: %s", res.Status)
	}
	if res := get("/cluster/nextid"); res.StatusCode != http.StatusOK {
		t.Fatalf("nextid: %s", res.Status)
	}
	res, err := client.Get(start.Endpoint + "_sim/exec-latency")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if strings.TrimSpace(string(body)) != `{"exec_latency_ms":250}` {
		t.Fatalf("exec latency from --exec-latency: %s", body)
	}

	stop <- syscall.SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after SIGTERM")
	}
}

func TestRunRefusesNegativeExecLatency(t *testing.T) {
	err := run([]string{"--state-dir", t.TempDir(), "--exec-latency", "-1s"}, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "--exec-latency") {
		t.Fatalf("got %v", err)
	}
}

func TestRunNeedsStateDir(t *testing.T) {
	if err := run([]string{"--listen", "127.0.0.1:0"}, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "--state-dir") {
		t.Fatalf("got %v", err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
