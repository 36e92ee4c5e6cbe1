package pvesim

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestExecLatencyControl: Options.ExecLatency is the starting value,
// PUT /_sim/exec-latency and SetExecLatency change it, a restart keeps it,
// and a bad value is refused without changing it.
func TestExecLatencyControl(t *testing.T) {
	s := Start(t, Options{TaskDelay: -1, ExecLatency: 150 * time.Millisecond})
	get := func() string {
		t.Helper()
		code, body := simCall(t, s, http.MethodGet, "exec-latency", "")
		if code != http.StatusOK {
			t.Fatalf("GET /_sim/exec-latency: %d %s", code, body)
		}
		return strings.TrimSpace(body)
	}
	if got := get(); got != `{"exec_latency_ms":150}` {
		t.Errorf("from Options: %s", got)
	}
	if code, body := simCall(t, s, http.MethodPut, "exec-latency", `{"exec_latency_ms": 200}`); code != http.StatusOK {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if s.ExecLatency() != 200*time.Millisecond || get() != `{"exec_latency_ms":200}` {
		t.Errorf("after PUT: %s, %s", s.ExecLatency(), get())
	}
	for _, bad := range []string{`{"exec_latency_ms": -1}`, `{"latency_ms": 5}`, `200`, `{"exec_latency_ms": 700000}`} {
		if code, body := simCall(t, s, http.MethodPut, "exec-latency", bad); code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d %s, want 400", bad, code, body)
		}
	}
	if s.ExecLatency() != 200*time.Millisecond {
		t.Errorf("a refused PUT changed the latency to %s", s.ExecLatency())
	}
	s.Restart(t)
	if s.ExecLatency() != 200*time.Millisecond {
		t.Errorf("after a restart: %s", s.ExecLatency())
	}
	s.SetExecLatency(-time.Second)
	if s.ExecLatency() != 0 || get() != `{"exec_latency_ms":0}` {
		t.Errorf("negative SetExecLatency: %s", s.ExecLatency())
	}
}
