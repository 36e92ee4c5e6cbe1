package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// printer writes the demo's lines, each prefixed with the time elapsed
// since the demo started.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (p *printer) elapsed() time.Duration { return time.Since(p.start) }

// line prints one line with the elapsed-time prefix.
func (p *printer) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "[%6.1fs] %s\n", p.elapsed().Seconds(), fmt.Sprintf(format, args...))
}

// step prints a step heading.
func (p *printer) step(format string, args ...any) {
	p.line("==> "+format, args...)
}

// detail prints an indented line under the current step.
func (p *printer) detail(format string, args ...any) {
	p.line("    "+format, args...)
}

// uiEvent is the part of Terraform's machine-readable UI (-json) the demo
// reads: one JSON object per line.
type uiEvent struct {
	Level   string `json:"@level"`
	Message string `json:"@message"`
	Type    string `json:"type"`
	Hook    struct {
		Resource struct {
			Addr string `json:"addr"`
		} `json:"resource"`
		Action  string  `json:"action"`
		IDKey   string  `json:"id_key"`
		IDValue string  `json:"id_value"`
		Elapsed float64 `json:"elapsed_seconds"`
	} `json:"hook"`
	Diagnostic *struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail"`
		Address  string `json:"address"`
	} `json:"diagnostic"`
}

// actionVerbs words a hook's action as "creating" and "created".
var actionVerbs = map[string][2]string{
	"create": {"creating", "created"},
	"update": {"updating in place", "updated"},
	"delete": {"destroying", "destroyed"},
	"read":   {"reading", "read"},
	"noop":   {"checking", "checked"},
}

func verbs(action string) (ing, ed string) {
	if v, ok := actionVerbs[action]; ok {
		return v[0], v[1]
	}
	return action, action + " done"
}

// uiRenderer turns Terraform's -json lines into progress lines and keeps
// the error diagnostics for the final error.
type uiRenderer struct {
	p *printer
	// applyOnly leaves out the plan Terraform repeats when it applies a
	// saved plan.
	applyOnly bool
	// sync, when set, is called before an event that ends a resource's
	// operation, so that its log lines come first.
	sync   func()
	errors []string
}

// render handles one line of Terraform's -json output. A line that is not
// an event is printed as it is.
func (r *uiRenderer) render(line string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	var ev uiEvent
	if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Type == "" {
		r.p.detail("%s", line)
		return
	}
	addr := ev.Hook.Resource.Addr
	switch ev.Type {
	case "apply_complete", "apply_errored", "change_summary", "diagnostic":
		if r.sync != nil {
			r.sync()
		}
	}
	switch ev.Type {
	case "planned_change":
		if !r.applyOnly {
			r.p.detail("%s", ev.Message)
		}
	case "change_summary":
		if !r.applyOnly || !strings.HasPrefix(ev.Message, "Plan:") {
			r.p.detail("%s", ev.Message)
		}
	case "resource_drift":
		r.p.detail("%s", ev.Message)
	case "apply_start":
		ing, _ := verbs(ev.Hook.Action)
		r.p.detail("%s: %s", addr, ing)
	case "apply_progress":
		ing, _ := verbs(ev.Hook.Action)
		r.p.detail("%s: still %s (%s elapsed)", addr, ing, seconds(ev.Hook.Elapsed))
	case "apply_complete":
		_, ed := verbs(ev.Hook.Action)
		id := ""
		if ev.Hook.IDValue != "" {
			id = fmt.Sprintf(" [%s=%s]", ev.Hook.IDKey, ev.Hook.IDValue)
		}
		r.p.detail("%s: %s in %s%s", addr, ed, seconds(ev.Hook.Elapsed), id)
	case "apply_errored":
		ing, _ := verbs(ev.Hook.Action)
		r.p.detail("%s: FAILED while %s after %s", addr, ing, seconds(ev.Hook.Elapsed))
	case "diagnostic":
		r.diagnostic(ev)
	}
}

func (r *uiRenderer) diagnostic(ev uiEvent) {
	d := ev.Diagnostic
	if d == nil {
		r.p.detail("%s", ev.Message)
		return
	}
	if d.Severity != "error" {
		if d.Summary == "Provider development overrides are in effect" {
			r.p.detail("note: the provider built from this tree is used (dev_overrides)")
			return
		}
		r.p.detail("warning: %s", d.Summary)
		return
	}
	msg := d.Summary
	if d.Address != "" {
		msg = d.Address + ": " + msg
	}
	if d.Detail != "" {
		msg += "\n" + d.Detail
	}
	r.errors = append(r.errors, msg)
	for i, l := range strings.Split(msg, "\n") {
		if i == 0 {
			r.p.detail("error: %s", l)
		} else {
			r.p.detail("       %s", l)
		}
	}
}

func seconds(s float64) string {
	return strconv.FormatFloat(s, 'f', -1, 64) + "s"
}

// logLine is one line of the provider's log as Terraform writes it to
// TF_LOG_PATH: "<time> [LEVEL] provider.<name>: <message>: k=v k=v ...".
type logLine struct {
	Level   string
	Message string
	Fields  map[string]string
}

// parseLogLine parses a provider log line; ok is false for other lines
// (Terraform's own, continuation lines).
func parseLogLine(s string) (logLine, bool) {
	open := strings.Index(s, " [")
	if open < 0 {
		return logLine{}, false
	}
	end := strings.Index(s[open:], "]")
	if end < 0 {
		return logLine{}, false
	}
	l := logLine{Level: s[open+2 : open+end]}
	rest := strings.TrimLeft(s[open+end+1:], " ")
	if !strings.HasPrefix(rest, "provider.") {
		return logLine{}, false
	}
	colon := strings.Index(rest, ": ")
	if colon < 0 {
		return logLine{}, false
	}
	rest = rest[colon+2:]
	// The message ends at the last ": " after which only k=v pairs follow;
	// the message itself may hold ": " and "=".
	for i := 0; i < len(rest); {
		j := strings.Index(rest[i:], ": ")
		if j < 0 {
			break
		}
		if f, ok := parseFields(rest[i+j+2:]); ok {
			l.Message, l.Fields = rest[:i+j], f
			return l, true
		}
		i += j + 2
	}
	l.Message, l.Fields = strings.TrimRight(rest, " "), map[string]string{}
	return l, true
}

// parseFields parses "k=v k2="quoted v" k3=[a b]" and reports whether all
// of s is such pairs.
func parseFields(s string) (map[string]string, bool) {
	f := map[string]string{}
	s = strings.TrimRight(s, " ")
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || !isKey(s[:eq]) {
			return nil, false
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		switch {
		case strings.HasPrefix(s, `"`):
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				return nil, false
			}
			v, err := strconv.Unquote(s[:end+1])
			if err != nil {
				v = s[1:end]
			}
			val, s = v, s[end+1:]
		case strings.HasPrefix(s, "["):
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, false
			}
			val, s = s[:end+1], s[end+1:]
		default:
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		if s != "" && s[0] != ' ' {
			return nil, false
		}
		f[key] = val
		s = strings.TrimLeft(s, " ")
	}
	return f, len(f) > 0
}

func isKey(k string) bool {
	for i, c := range k {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '@', c == '.', c == '-':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return k != ""
}

// nodeOps words the provider's node commands.
var nodeOps = map[string]string{
	"apparmor-install":  "node: install and load the AppArmor profile",
	"write-lxc-config":  "node: write the raw lxc lines into the config file, under PVE's lock",
	"pct-set":           "node: pct set as root for what Proxmox VE reserves to root@pam (keyctl)",
	"docker-install":    "container: Docker install script (idempotent)",
	"docker-check":      "container: Docker service check",
	"docker-test":       "container: Docker tests",
	"docker-verify":     "container: Docker check on refresh",
	"apparmor-remove":   "node: remove the AppArmor profile",
	"remove-lxc-config": "node: remove the raw lxc lines",
}

// logRenderer turns the provider's log into progress lines naming the
// container they are about.
type logRenderer struct {
	p *printer
	// names maps a vmid to the resource address planned for it.
	names map[string]string
	// reqs maps a Terraform request to the container it was about.
	reqs map[string]string
	// pending holds the lines of requests whose container is not known yet.
	pending map[string][]string
}

func newLogRenderer(p *printer, names map[string]string) *logRenderer {
	return &logRenderer{p: p, names: names, reqs: map[string]string{}, pending: map[string][]string{}}
}

// flush prints the lines still waiting for their container's name.
func (r *logRenderer) flush() {
	for req, lines := range r.pending {
		for _, l := range lines {
			r.p.detail("provider: %s", l)
		}
		delete(r.pending, req)
	}
}

func (r *logRenderer) container(f map[string]string) string {
	vmid := f["vmid"]
	if vmid == "" {
		if id := f["id"]; id != "" {
			vmid = id[strings.LastIndexByte(id, '/')+1:]
		}
	}
	req := f["tf_req_id"]
	if vmid == "" {
		return r.reqs[req]
	}
	name := "CT " + vmid
	if addr, ok := r.names[vmid]; ok {
		name = addr
	}
	if req != "" {
		r.reqs[req] = name
	}
	return name
}

// render prints the progress line a provider log line stands for, if any.
func (r *logRenderer) render(s string) {
	l, ok := parseLogLine(s)
	if !ok || l.Fields["@module"] != "phoenix" {
		return
	}
	who := r.container(l.Fields)
	req := l.Fields["tf_req_id"]
	if who != "" && len(r.pending[req]) > 0 {
		for _, w := range r.pending[req] {
			r.p.detail("%s: %s", who, w)
		}
		delete(r.pending, req)
	}
	var what string
	switch {
	case l.Message == "container creation started":
		what = "create task " + l.Fields["upid"]
	case l.Message == "running node command":
		op := l.Fields["op"]
		what = nodeOps[op]
		if what == "" && l.Fields["write"] == "true" {
			what = "node: " + op
		}
	case l.Message == "raw lxc lines written":
		what = "lxc.apparmor.profile: " + l.Fields["profile"]
	case l.Message == "updating container configuration":
		what = "updating " + l.Fields["set"]
	case l.Message == "rebooting the container so that the new settings take effect":
		what = "rebooting the container"
	case strings.HasPrefix(l.Message, "phoenix-docker: "):
		what = scriptLine(strings.TrimPrefix(l.Message, "phoenix-docker: "))
	case strings.HasPrefix(l.Message, "test_case_") || strings.HasSuffix(l.Message, " failed"):
		what = "  " + l.Message
	}
	switch {
	case what == "":
	case who != "":
		r.p.detail("%s: %s", who, what)
	case req != "":
		r.pending[req] = append(r.pending[req], what)
	default:
		r.p.detail("provider: %s", what)
	}
}

// scriptLine keeps the lines of the Docker scripts that tell what happens
// (sections, results), not apt's own output.
func scriptLine(s string) string {
	switch {
	case strings.HasPrefix(s, "[packages] "):
		if rest := strings.TrimPrefix(s, "[packages] "); strings.HasPrefix(rest, "installing ") {
			return "  " + rest
		}
		return ""
	case strings.HasPrefix(s, "[check] change needed: "):
		return ""
	case strings.HasPrefix(s, "result "), strings.HasPrefix(s, "check "):
		return ""
	}
	return "  " + s
}

// tailer follows a growing file and hands each complete line to fn.
type tailer struct {
	path  string
	fn    func(string)
	stop  chan struct{}
	done  chan struct{}
	syncs chan chan struct{}
}

func startTail(path string, fn func(string)) *tailer {
	t := &tailer{path: path, fn: fn, stop: make(chan struct{}), done: make(chan struct{}), syncs: make(chan chan struct{})}
	go t.loop()
	return t
}

func (t *tailer) loop() {
	defer close(t.done)
	var off int64
	var partial []byte
	read := func() {
		f, err := os.Open(t.path)
		if err != nil {
			return
		}
		defer f.Close()
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return
		}
		b, err := io.ReadAll(f)
		if err != nil {
			return
		}
		off += int64(len(b))
		partial = append(partial, b...)
		for {
			i := bytes.IndexByte(partial, '\n')
			if i < 0 {
				break
			}
			t.fn(string(partial[:i]))
			partial = partial[i+1:]
		}
	}
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			read()
			return
		case <-tick.C:
			read()
		case c := <-t.syncs:
			read()
			close(c)
		}
	}
}

// sync hands over every complete line written so far.
func (t *tailer) sync() {
	c := make(chan struct{})
	select {
	case t.syncs <- c:
		<-c
	case <-t.done:
	}
}

// close reads what is left and stops.
func (t *tailer) close() {
	close(t.stop)
	<-t.done
}

// outputValue is one entry of "terraform output -json".
type outputValue struct {
	Sensitive bool            `json:"sensitive"`
	Value     json.RawMessage `json:"value"`
}

// formatOutputs renders "terraform output -json" as indented name = value
// lines, nested objects flattened with dots.
func formatOutputs(raw []byte) ([]string, error) {
	var outs map[string]outputValue
	if err := json.Unmarshal(raw, &outs); err != nil {
		return nil, fmt.Errorf("reading terraform output -json: %w", err)
	}
	names := make([]string, 0, len(outs))
	for n := range outs {
		names = append(names, n)
	}
	sort.Strings(names)
	var lines []string
	for _, n := range names {
		o := outs[n]
		lines = append(lines, n+":")
		if o.Sensitive {
			lines = append(lines, "  (sensitive)")
			continue
		}
		var v any
		if err := json.Unmarshal(o.Value, &v); err != nil {
			return nil, err
		}
		var flat [][2]string
		flatten("", v, &flat)
		width := 0
		for _, kv := range flat {
			width = max(width, len(kv[0]))
		}
		for _, kv := range flat {
			lines = append(lines, fmt.Sprintf("  %-*s = %s", width, kv[0], kv[1]))
		}
	}
	return lines, nil
}

func flatten(prefix string, v any, out *[][2]string) {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			*out = append(*out, [2]string{prefix, "{}"})
			return
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, t[k], out)
		}
	case nil:
		*out = append(*out, [2]string{prefix, "null"})
	case string:
		*out = append(*out, [2]string{prefix, t})
	default:
		b, _ := json.Marshal(t)
		*out = append(*out, [2]string{prefix, string(b)})
	}
}

// lineWriter calls fn for each complete line written to it.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(string)
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.fn(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(b), nil
}

// flush hands over a last line without a newline.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.fn(string(w.buf))
		w.buf = nil
	}
}
