package pve

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakePVE is an httptest TLS server answering in PVE's shapes, with a log of
// the requests it saw.
type fakePVE struct {
	t   *testing.T
	srv *httptest.Server
	mux *http.ServeMux

	mu   sync.Mutex
	reqs []seenRequest
}

type seenRequest struct {
	Method, Path, Query string
	Body                map[string]string
	Auth                string
}

func newFakePVE(t *testing.T) *fakePVE {
	t.Helper()
	f := &fakePVE{t: t, mux: http.NewServeMux()}
	f.srv = newQuietTLSServer(t, http.HandlerFunc(f.serve))
	return f
}

// newQuietTLSServer starts an httptest TLS server whose handshake errors
// (expected in the certificate tests) are not logged.
func newQuietTLSServer(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func (f *fakePVE) serve(w http.ResponseWriter, r *http.Request) {
	sr := seenRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization")}
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &sr.Body); err != nil {
			f.t.Errorf("%s %s: body is not a JSON object of strings: %v: %s", r.Method, r.URL.Path, err, b)
		}
	}
	checkAgainstSchema(f.t, sr, r.URL.Query())
	f.mu.Lock()
	f.reqs = append(f.reqs, sr)
	f.mu.Unlock()
	f.mux.ServeHTTP(w, r)
}

// handle registers a handler for "METHOD /api2/json/path".
func (f *fakePVE) handle(pattern string, h http.HandlerFunc) { f.mux.HandleFunc(pattern, h) }

// reply registers a fixed JSON data answer.
func (f *fakePVE) reply(pattern string, data string) {
	f.handle(pattern, func(w http.ResponseWriter, _ *http.Request) { writeData(w, data) })
}

func (f *fakePVE) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.reqs...)
}

func (f *fakePVE) count(method, path string) int {
	n := 0
	for _, r := range f.requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// wantSent checks how many requests of the method the server saw on path.
func (f *fakePVE) wantSent(method, path string, want int) {
	f.t.Helper()
	if n := f.count(method, path); n != want {
		f.t.Errorf("%s %s sent %d times, want %d", method, path, n, want)
	}
}

func (f *fakePVE) caPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}))
}

// client returns a client trusting the server's certificate, with fast
// retry policies and a sleep that records waits instead of waiting.
func (f *fakePVE) client() (*Client, *sleepRecorder) {
	f.t.Helper()
	c, err := New(Config{Endpoint: f.srv.URL, APIToken: "root@pam!tf=00000000-0000-0000-0000-000000000000", CACertificatePEM: f.caPEM()})
	if err != nil {
		f.t.Fatal(err)
	}
	rec := &sleepRecorder{clock: time.Unix(1700000000, 0)}
	c.sleep = rec.sleep
	c.sleepWake = func(ctx context.Context, d time.Duration, _ <-chan struct{}) error { return rec.sleep(ctx, d) }
	c.now = rec.now
	return c, rec
}

// sleepRecorder replaces real waits in tests, and the clock with one that
// only its waits advance.
type sleepRecorder struct {
	mu     sync.Mutex
	waits  []time.Duration
	clock  time.Time
	before func(n int) // called with the number of the wait (1-based)
}

func (s *sleepRecorder) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.clock = s.clock.Add(d)
	n := len(s.waits)
	hook := s.before
	s.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return ctx.Err()
}

func (s *sleepRecorder) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

func writeData(w http.ResponseWriter, data string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_, _ = fmt.Fprintf(w, `{"data":%s}`, data)
}

// writeStatus answers like pveproxy: the message in the status line (which
// net/http cannot set, hence the hijack) and a JSON body.
func writeStatus(t *testing.T, w http.ResponseWriter, code int, reason, body string) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		t.Error("the test server cannot hijack connections")
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	defer func() { _ = conn.Close() }()
	_, _ = fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, reason, len(body), body)
	_ = buf.Flush()
}

// fail registers an error answer: the status, pveproxy's message and no data.
func (f *fakePVE) fail(pattern string, code int, reason string) {
	f.handle(pattern, func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(f.t, w, code, reason, `{"data":null}`)
	})
}

// failFirst registers an answer that fails the first n requests like fail
// and then replies data. The counter it returns counts the requests.
func (f *fakePVE) failFirst(pattern string, n int32, code int, reason, data string) *atomic.Int32 {
	var calls atomic.Int32
	f.handle(pattern, func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) <= n {
			writeStatus(f.t, w, code, reason, `{"data":null}`)
			return
		}
		writeData(w, data)
	})
	return &calls
}

// newClient is New for a configuration the test expects to be accepted.
func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantInMessage checks that err's message holds each of wants.
func wantInMessage(t *testing.T, err error, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("message %v lacks %q", err, want)
		}
	}
}
