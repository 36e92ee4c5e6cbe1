package pvesim

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Fault is one fault-injection rule. Exactly one kind is set:
//
//   - Status (with Message): matching API calls fail with that HTTP status,
//     the message as reason phrase;
//   - LatencyMS: matching API calls are delayed;
//   - TaskFail: matching tasks fail with Message;
//   - TaskHang: matching tasks stay running until the faults are cleared;
//   - ResetConnection: matching API calls get their connection dropped;
//   - HoldLock: the container's config appears locked.
//
// PathRegex and Method restrict the API rules (empty: any); Times limits
// how often the rule fires (0: until cleared).
type Fault struct {
	PathRegex       string     `json:"path_regex,omitempty"`
	Method          string     `json:"method,omitempty"`
	Status          int        `json:"status,omitempty"`
	Message         string     `json:"message,omitempty"`
	Times           int        `json:"times,omitempty"`
	LatencyMS       int        `json:"latency_ms,omitempty"`
	TaskFail        *TaskFault `json:"task_fail,omitempty"`
	TaskHang        *TaskFault `json:"task_hang,omitempty"`
	ResetConnection *PathFault `json:"reset_connection,omitempty"`
	HoldLock        *LockFault `json:"hold_lock,omitempty"`
}

// TaskFault selects tasks by type ("vzcreate", "vzstart", ...; empty: any).
type TaskFault struct {
	Type    string `json:"type,omitempty"`
	Times   int    `json:"times,omitempty"`
	Message string `json:"message,omitempty"`
}

// PathFault selects API calls by path and method.
type PathFault struct {
	PathRegex string `json:"path_regex,omitempty"`
	Method    string `json:"method,omitempty"`
	Times     int    `json:"times,omitempty"`
}

// LockFault makes a container's config look locked (e.g. "backup"): calls
// that check the lock fail with "CT is locked (backup)". Times counts those
// refusals (0: until cleared).
type LockFault struct {
	VMID  int    `json:"vmid"`
	Lock  string `json:"lock"`
	Times int    `json:"times,omitempty"`
}

// rule is an active Fault with its compiled regexp and remaining count.
type rule struct {
	f    Fault
	re   *regexp.Regexp
	left int // -1: unlimited
}

// faultSet holds the active rules.
type faultSet struct {
	mu    sync.Mutex
	rules []*rule
	// release is closed (and replaced) when the rules are cleared; hanging
	// tasks wait on it.
	release chan struct{}
}

func newFaultSet() *faultSet {
	return &faultSet{release: make(chan struct{})}
}

// compileFault checks a rule and compiles its path pattern.
func compileFault(f Fault) (*rule, error) {
	kinds := 0
	times := f.Times
	pathRE, method := f.PathRegex, f.Method
	if f.Status != 0 {
		kinds++
		if f.Status < 100 || f.Status > 999 {
			return nil, fmt.Errorf("status %d is not an HTTP status", f.Status)
		}
	}
	if f.LatencyMS != 0 {
		kinds++
		if f.LatencyMS < 0 {
			return nil, fmt.Errorf("latency_ms must not be negative")
		}
	}
	if f.TaskFail != nil {
		kinds++
		times = f.TaskFail.Times
	}
	if f.TaskHang != nil {
		kinds++
		times = f.TaskHang.Times
	}
	if f.ResetConnection != nil {
		kinds++
		times = f.ResetConnection.Times
		pathRE, method = f.ResetConnection.PathRegex, f.ResetConnection.Method
	}
	if f.HoldLock != nil {
		kinds++
		times = f.HoldLock.Times
		if f.HoldLock.VMID < 100 || f.HoldLock.Lock == "" {
			return nil, fmt.Errorf("hold_lock needs vmid (>= 100) and lock")
		}
	}
	if kinds != 1 {
		return nil, fmt.Errorf("a fault rule sets exactly one of status, latency_ms, task_fail, task_hang, reset_connection, hold_lock (got %d)", kinds)
	}
	if times < 0 {
		return nil, fmt.Errorf("times must not be negative")
	}
	r := &rule{f: f, left: times}
	if times == 0 {
		r.left = -1
	}
	if pathRE != "" {
		re, err := regexp.Compile(pathRE)
		if err != nil {
			return nil, fmt.Errorf("path_regex: %w", err)
		}
		r.re = re
	}
	if method != "" {
		r.f.Method = strings.ToUpper(method)
		if f.ResetConnection != nil {
			r.f.ResetConnection.Method = strings.ToUpper(method)
		}
	}
	return r, nil
}

func (fs *faultSet) add(f Fault) error {
	r, err := compileFault(f)
	if err != nil {
		return err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rules = append(fs.rules, r)
	return nil
}

func (fs *faultSet) clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rules = nil
	close(fs.release)
	fs.release = make(chan struct{})
}

func (fs *faultSet) list() []Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make([]Fault, 0, len(fs.rules))
	for _, r := range fs.rules {
		out = append(out, r.f)
	}
	return out
}

// take consumes one use of the first rule accepted by match.
func (fs *faultSet) take(match func(r *rule) bool) *rule {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, r := range fs.rules {
		if !match(r) {
			continue
		}
		if r.left > 0 {
			r.left--
			if r.left == 0 {
				fs.rules = slices.Delete(fs.rules, i, i+1)
			}
		}
		return r
	}
	return nil
}

func (r *rule) matches(method, path, ruleMethod string) bool {
	if ruleMethod != "" && ruleMethod != method {
		return false
	}
	return r.re == nil || r.re.MatchString(path)
}

// latency returns the summed delay of the matching latency rules; each
// counts one use per call.
func (fs *faultSet) latency(method, path string) time.Duration {
	var d time.Duration
	fs.mu.Lock()
	var hit []*rule
	for _, r := range fs.rules {
		if r.f.LatencyMS > 0 && r.matches(method, path, r.f.Method) {
			hit = append(hit, r)
			d += time.Duration(r.f.LatencyMS) * time.Millisecond
		}
	}
	for _, r := range hit {
		if r.left > 0 {
			r.left--
		}
	}
	fs.rules = slices.DeleteFunc(fs.rules, func(r *rule) bool { return r.left == 0 })
	fs.mu.Unlock()
	return d
}

func (fs *faultSet) reset(method, path string) bool {
	return fs.take(func(r *rule) bool {
		return r.f.ResetConnection != nil && r.matches(method, path, r.f.ResetConnection.Method)
	}) != nil
}

func (fs *faultSet) status(method, path string) *Fault {
	r := fs.take(func(r *rule) bool { return r.f.Status != 0 && r.matches(method, path, r.f.Method) })
	if r == nil {
		return nil
	}
	f := r.f
	if f.Message == "" {
		f.Message = http.StatusText(f.Status)
	}
	return &f
}

func (fs *faultSet) taskFail(typ string) (string, bool) {
	r := fs.take(func(r *rule) bool {
		return r.f.TaskFail != nil && (r.f.TaskFail.Type == "" || r.f.TaskFail.Type == typ)
	})
	if r == nil {
		return "", false
	}
	msg := r.f.TaskFail.Message
	if msg == "" {
		msg = "injected task failure"
	}
	return msg, true
}

// taskHang returns the channel a matching task waits on, or nil.
func (fs *faultSet) taskHang(typ string) <-chan struct{} {
	r := fs.take(func(r *rule) bool {
		return r.f.TaskHang != nil && (r.f.TaskHang.Type == "" || r.f.TaskHang.Type == typ)
	})
	if r == nil {
		return nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.release
}

// heldLock returns the lock a hold_lock rule puts on vmid without consuming
// it; consumeLock counts a refusal.
func (fs *faultSet) heldLock(vmid int) string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, r := range fs.rules {
		if r.f.HoldLock != nil && r.f.HoldLock.VMID == vmid {
			return r.f.HoldLock.Lock
		}
	}
	return ""
}

func (fs *faultSet) consumeLock(vmid int) {
	fs.take(func(r *rule) bool { return r.f.HoldLock != nil && r.f.HoldLock.VMID == vmid })
}

// Request is one entry of the request log.
type Request struct {
	Time       time.Time `json:"time"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Query      string    `json:"query,omitempty"`
	Status     int       `json:"status"`
	DurationMS float64   `json:"duration_ms"`
	// Source is "ssh" for commands recorded by the SSH servers, "node" for
	// API calls a node's own tools made as root@pam (pct set), empty for
	// API calls.
	Source string `json:"source,omitempty"`
	// User is who an API call authenticated as: a user, or a token id.
	User string `json:"user,omitempty"`
	// Node is the node an SSH command ran on.
	Node string `json:"node,omitempty"`
}

// requestLog keeps the API calls (and SSH commands) since start or the last
// reset.
type requestLog struct {
	mu        sync.Mutex
	entries   []Request
	forbidden []Request
}

func (l *requestLog) add(r Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, r)
	if r.Status == 403 && r.Source == "" {
		l.forbidden = append(l.forbidden, r)
	}
}

// refused returns every API call answered 403 since the simulator started
// (ResetRequests keeps them).
func (l *requestLog) refused() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.forbidden)
}

func (l *requestLog) all() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries)
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
}

// isMutating reports whether a logged API call changes state: every POST,
// PUT and DELETE except logins.
func isMutating(r Request) bool {
	if r.Source != "" {
		return false
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodDelete:
		return !strings.HasSuffix(r.Path, "/access/ticket")
	}
	return false
}

// serveSim serves the inspection and fault endpoints under /_sim/. They need
// no authentication but answer only loopback clients.
func (s *server) serveSim(w http.ResponseWriter, hr *http.Request) {
	host, _, err := net.SplitHostPort(hr.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	switch {
	case hr.URL.Path == "/_sim/requests" && hr.Method == http.MethodGet:
		entries := s.reqlog.all()
		if hr.URL.Query().Get("format") == "jsonl" {
			w.Header().Set("Content-Type", "application/x-ndjson")
			enc := json.NewEncoder(w)
			for _, e := range entries {
				_ = enc.Encode(e)
			}
			return
		}
		writeJSON(w, http.StatusOK, entries)
	case hr.URL.Path == "/_sim/requests" && hr.Method == http.MethodDelete:
		s.reqlog.reset()
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	case hr.URL.Path == "/_sim/tasks" && hr.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.tasks.timings())
	case hr.URL.Path == "/_sim/faults" && hr.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.faults.list())
	case hr.URL.Path == "/_sim/faults" && hr.Method == http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(hr.Body, 1<<20))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		rules, err := decodeFaults(body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		for _, f := range rules {
			if _, err := compileFault(f); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
				return
			}
		}
		for _, f := range rules {
			_ = s.faults.add(f)
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "added": len(rules)})
	case hr.URL.Path == "/_sim/faults" && hr.Method == http.MethodDelete:
		s.faults.clear()
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	case hr.URL.Path == "/_sim/exec-latency" && hr.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, execLatencyBody{MS: float64(s.controls.execLatency.Load()) / float64(time.Millisecond)})
	case hr.URL.Path == "/_sim/exec-latency" && hr.Method == http.MethodPut:
		var b execLatencyBody
		d := json.NewDecoder(io.LimitReader(hr.Body, 1<<10))
		d.DisallowUnknownFields()
		if err := d.Decode(&b); err != nil || b.MS < 0 || b.MS > 600000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"exec_latency_ms": N}, 0 <= N <= 600000`})
			return
		}
		s.controls.execLatency.Store(int64(b.MS * float64(time.Millisecond)))
		writeJSON(w, http.StatusOK, b)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such simulator endpoint"})
	}
}

// execLatencyBody is the body of /_sim/exec-latency.
type execLatencyBody struct {
	MS float64 `json:"exec_latency_ms"`
}

// decodeFaults accepts one rule object or an array of rules.
func decodeFaults(body []byte) ([]Fault, error) {
	body = []byte(strings.TrimSpace(string(body)))
	dec := func(b []byte, v any) error {
		d := json.NewDecoder(strings.NewReader(string(b)))
		d.DisallowUnknownFields()
		return d.Decode(v)
	}
	if len(body) > 0 && body[0] == '[' {
		var fs []Fault
		if err := dec(body, &fs); err != nil {
			return nil, err
		}
		return fs, nil
	}
	var f Fault
	if err := dec(body, &f); err != nil {
		return nil, err
	}
	return []Fault{f}, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
