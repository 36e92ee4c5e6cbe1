package pvesim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim/params"
)

// apiPrefix is where PVE serves its JSON API.
const apiPrefix = "/api2/json"

// handlerFunc serves one API method; it returns the value of "data".
type handlerFunc func(r *request) (any, error)

// route is one API method, its path spelled as in the PVE schema.
type route struct {
	method  string
	tmpl    string
	segs    []string
	handler handlerFunc
}

// request is a parsed API call.
type request struct {
	ctx    context.Context
	method string
	path   string // below /api2/json
	tmpl   string
	params map[string]string
	// user is the authenticated user: rootPam, or "root@pam!phoenix" for
	// an API token.
	user string
	// node is the {node} path parameter, "localhost" resolved.
	node string
	// vmid is the {vmid} path parameter when the route has one.
	vmid int
}

// has reports whether the parameter is present.
func (r *request) has(name string) bool {
	_, ok := r.params[name]
	return ok
}

// flag reports whether a boolean parameter is set to true.
func (r *request) flag(name string) bool {
	return normBool(r.params[name]) == "1"
}

func (s *server) addRoute(method, tmpl string, h handlerFunc) {
	s.routes = append(s.routes, &route{method: method, tmpl: tmpl, segs: strings.Split(strings.Trim(tmpl, "/"), "/"), handler: h})
}

// match finds the route for method and path; pathOK reports whether any
// route has that path (for another method).
func (s *server) match(method, path string) (rt *route, vars map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, r := range s.routes {
		if len(r.segs) != len(segs) || r.method != method {
			continue
		}
		v := map[string]string{}
		ok := true
		for i, p := range r.segs {
			if strings.HasPrefix(p, "{") {
				if segs[i] == "" {
					ok = false
					break
				}
				v[strings.Trim(p, "{}")] = segs[i]
				continue
			}
			if p != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return r, v
		}
	}
	return nil, nil
}

// ServeHTTP is the simulator's HTTP entry point.
func (s *server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	if strings.HasPrefix(hr.URL.Path, "/_sim/") {
		s.serveSim(w, hr)
		return
	}
	start := time.Now()
	node := s.nodeCall(hr)
	// The answer is held back until the call is in the request log, so a
	// client that has its answer finds its call there.
	bw := &heldWriter{ResponseWriter: w}
	status, user := s.serveAPI(bw, hr, node)
	e := Request{
		Time:       start.UTC(),
		Method:     hr.Method,
		Path:       hr.URL.Path,
		Query:      hr.URL.RawQuery,
		Status:     status,
		DurationMS: float64(time.Since(start).Microseconds()) / 1000,
		User:       user,
	}
	if node != "" {
		e.Source, e.Node = "node", node
	}
	s.reqlog.add(e)
	bw.release()
}

// heldWriter keeps an answer (an error answer too, written raw at release)
// until release; a hijacked connection (a simulated reset) bypasses it.
type heldWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	raw    *rawAnswer
}

// rawAnswer is an error answer held for writeRawError.
type rawAnswer struct {
	status int
	reason string
	body   []byte
}

func (h *heldWriter) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

func (h *heldWriter) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return h.body.Write(b)
}

func (h *heldWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("pvesim: the connection cannot be hijacked")
	}
	return hj.Hijack()
}

func (h *heldWriter) release() {
	if h.raw != nil {
		writeRawError(h.ResponseWriter, h.raw.status, h.raw.reason, h.raw.body)
		return
	}
	if h.status == 0 {
		return
	}
	h.ResponseWriter.WriteHeader(h.status)
	_, _ = h.ResponseWriter.Write(h.body.Bytes())
}

// serveAPI answers one API call and returns the HTTP status it sent (0 for a
// reset connection) and who the call authenticated as. A node's own call
// (node not empty) is root@pam's and meets no API latency or fault: on a
// real node pct runs the API code in its own process.
func (s *server) serveAPI(w http.ResponseWriter, hr *http.Request, node string) (int, string) {
	path := hr.URL.Path
	if node == "" {
		// Latency: the configured API latency plus matching fault rules.
		delay := s.opts.APILatency + s.faults.latency(hr.Method, path)
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-hr.Context().Done():
				return 0, ""
			case <-s.closing:
			}
		}
		if s.faults.reset(hr.Method, path) {
			resetConnection(w)
			return 0, ""
		}
		if f := s.faults.status(hr.Method, path); f != nil {
			return s.writeError(w, hr, &apiError{status: f.Status, msg: f.Message}), ""
		}
	}
	writeError := s.writeError
	if node != "" {
		writeError = writeCLIError
	}
	if !strings.HasPrefix(path, apiPrefix+"/") {
		return writeError(w, hr, &apiError{status: http.StatusNotImplemented, msg: fmt.Sprintf("Method '%s %s' not implemented", hr.Method, path)}), ""
	}
	rel := strings.TrimPrefix(path, apiPrefix)
	if len(rel) > 1 {
		rel = strings.TrimSuffix(rel, "/")
	}

	// Authentication comes first, as in PVE's auth_handler.
	noAuth := rel == "/access/ticket" && (hr.Method == http.MethodGet || hr.Method == http.MethodPost)
	user := ""
	switch {
	case node != "":
		user = rootPam
	case !noAuth:
		u, err := s.auth.check(hr)
		if err != nil {
			return writeError(w, hr, err), user
		}
		user = u
	}

	rt, vars := s.match(hr.Method, rel)
	if rt == nil {
		return writeError(w, hr, &apiError{status: http.StatusNotImplemented, msg: fmt.Sprintf("Method '%s %s' not implemented", hr.Method, rel)}), user
	}

	p, perr := readParams(hr)
	if perr != nil {
		return writeError(w, hr, perr), user
	}
	for k, v := range vars {
		p[k] = v
	}
	req := &request{ctx: hr.Context(), method: hr.Method, path: rel, tmpl: rt.tmpl, params: p, user: user}

	// Calls for a node are proxied there first; an unknown node fails the
	// name lookup before any parameter is checked.
	if node, ok := vars["node"]; ok {
		if node == "localhost" {
			node = s.opts.Nodes[0]
		}
		if !s.isNode(node) {
			return writeError(w, hr, errf("hostname lookup '%s' failed - failed to get address info for: %s: Name or service not known", node, node)), user
		}
		req.node = node
	}

	// PVE's HTTP server checks the method's permissions before the handler
	// verifies its parameters (check_api2_permissions in rest_handler).
	if err := s.checkAPIPermissions(hr.Method, rt.tmpl, user, p); err != nil {
		return writeError(w, hr, asAPIError(err)), user
	}
	if params.Known(hr.Method, rt.tmpl) {
		if errs := params.Validate(hr.Method, rt.tmpl, p); len(errs) > 0 {
			return writeError(w, hr, paramErr(errs)), user
		}
	}
	if v, ok := vars["vmid"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n > 999999999 {
			return writeError(w, hr, paramErr1("vmid", fmt.Sprintf("value '%s' does not look like a valid VM ID", v))), user
		}
		req.vmid = n
	}

	data, err := rt.handler(req)
	if err != nil {
		return writeError(w, hr, asAPIError(err)), user
	}
	return writeData(w, data), user
}

// isNode reports whether name is one of the simulated nodes.
func (s *server) isNode(name string) bool {
	for _, n := range s.opts.Nodes {
		if n == name {
			return true
		}
	}
	return false
}

// readParams collects the query parameters and the body parameters (form or
// JSON) the way PVE's HTTP server merges them.
func readParams(hr *http.Request) (map[string]string, *apiError) {
	p := map[string]string{}
	for k, vs := range hr.URL.Query() {
		if len(vs) > 0 {
			p[k] = vs[0]
		}
	}
	if hr.Body == nil {
		return p, nil
	}
	body, err := io.ReadAll(io.LimitReader(hr.Body, 1<<20))
	if err != nil {
		return nil, &apiError{status: http.StatusBadRequest, msg: "unable to read request body"}
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return p, nil
	}
	ct := hr.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	switch strings.TrimSpace(strings.ToLower(ct)) {
	case "application/json":
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, &apiError{status: http.StatusBadRequest, msg: "malformed JSON string"}
		}
		errs := map[string]string{}
		for k, v := range m {
			switch x := v.(type) {
			case nil:
			case string:
				p[k] = x
			case json.Number:
				p[k] = x.String()
			case bool:
				p[k] = "0"
				if x {
					p[k] = "1"
				}
			case []any:
				errs[k] = "type check ('string') failed - got ARRAY"
			default:
				errs[k] = "type check ('string') failed - got HASH"
			}
		}
		if len(errs) > 0 {
			return nil, paramErr(errs)
		}
	default:
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, &apiError{status: http.StatusBadRequest, msg: "unable to parse request body"}
		}
		for k, vs := range vals {
			if len(vs) > 0 {
				p[k] = vs[0]
			}
		}
	}
	return p, nil
}

// writeData sends a successful {"data": ...} response.
func writeData(w http.ResponseWriter, data any) int {
	b, err := json.Marshal(map[string]any{"data": data})
	if err != nil {
		b = []byte(`{"data":null}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "max-age=0")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return http.StatusOK
}

// writeError sends an error the way PVE does: the message as the HTTP reason
// phrase and {"data":null} (plus "errors" for parameter errors) as body.
// net/http always writes its own reason phrase, so the response is written
// on the hijacked connection, which is then closed.
func (s *server) writeError(w http.ResponseWriter, hr *http.Request, e *apiError) int {
	// Read what is left of the body first: closing a connection with unread
	// input makes the kernel reset it, and the client would lose the answer.
	if hr.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(hr.Body, 1<<20))
	}
	body := map[string]any{"data": nil}
	if len(e.errors) > 0 {
		body["errors"] = e.errors
	}
	b, _ := json.Marshal(body)
	status := e.status
	if status < 100 || status > 999 {
		status = http.StatusInternalServerError
	}
	if h, ok := w.(*heldWriter); ok {
		h.raw = &rawAnswer{status: status, reason: reasonPhrase(e.msg), body: b}
		return status
	}
	return writeRawError(w, status, reasonPhrase(e.msg), b)
}

// writeRawError sends an error answer with PVE's message as the status
// line's reason phrase, which net/http cannot do but over the hijacked
// connection.
func writeRawError(w http.ResponseWriter, status int, reason string, b []byte) int {
	hj, ok := w.(http.Hijacker)
	if !ok {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(status)
		_, _ = w.Write(b)
		return status
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		w.WriteHeader(status)
		return status
	}
	defer func() { _ = conn.Close() }()
	writeRawResponse(rw.Writer, status, reason, b)
	_ = rw.Flush()
	return status
}

func writeRawResponse(bw *bufio.Writer, status int, reason string, body []byte) {
	if reason == "" {
		reason = http.StatusText(status)
	}
	fmt.Fprintf(bw, "HTTP/1.1 %03d %s\r\n", status, reason)
	fmt.Fprintf(bw, "Date: %s\r\n", time.Now().UTC().Format(http.TimeFormat))
	_, _ = bw.WriteString("Content-Type: application/json;charset=UTF-8\r\n")
	fmt.Fprintf(bw, "Content-Length: %d\r\n", len(body))
	_, _ = bw.WriteString("Cache-Control: max-age=0\r\nPragma: no-cache\r\nConnection: close\r\n\r\n")
	_, _ = bw.Write(body)
}

// resetConnection drops the client's connection without an answer.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
	}
	_ = conn.Close()
}
