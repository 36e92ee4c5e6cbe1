package pvesim

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"
	"time"
)

// Start starts a simulator for a test and stops it when the test ends. An
// empty opts.StateDir gets a temporary directory.
func Start(t testing.TB, opts Options) *Sim {
	t.Helper()
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("pvesim: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("pvesim: close: %v", err)
		}
	})
	return s
}

// Restart stops the simulator and starts it again on the same state dir,
// on the same port when it is still free. Tasks are lost, everything on
// disk is kept; the request log and fault rules carry over.
func (s *Sim) Restart(t testing.TB) {
	t.Helper()
	if err := s.restart(); err != nil {
		t.Fatalf("pvesim: restart: %v", err)
	}
}

// HTTPClient returns an HTTP client that trusts the simulator's CA.
func (s *Sim) HTTPClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM)
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 64,
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}
