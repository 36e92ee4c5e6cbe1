package pve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"
	"syscall"

	proxmox "github.com/luthermonson/go-proxmox"
)

// APIError is an error answer of the Proxmox VE API: a 400 with a
// per-parameter "errors" object, a 401/403, or a 5xx whose message PVE puts
// in the HTTP status line.
type APIError struct {
	// Method and Path name the request, e.g. PUT /nodes/pve1/lxc/102/config
	// (the path is relative to /api2/json and carries no query).
	Method, Path string
	// Status is the HTTP status code.
	Status int
	// Message is PVE's message: the body's "message" when present, else the
	// reason phrase of the status line.
	Message string
	// Errors maps a parameter name to PVE's complaint about it (400 only).
	Errors map[string]string
}

// Error implements error. Authentication and permission failures say what
// to check; other errors carry the request and PVE's message.
func (e *APIError) Error() string {
	req := e.Method + " " + e.Path
	switch e.Status {
	case 401:
		return fmt.Sprintf("authentication failed (HTTP 401 %s on %s): check api_token (USER@REALM!TOKENID=SECRET) or username and password, and that the token or user is not expired or disabled", e.Message, req)
	case 403:
		return fmt.Sprintf("permission denied (HTTP 403 %s on %s): check the privileges of the token or user (with privilege separation the token needs its own ACL entry)", e.Message, req)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s (HTTP %d)", req, e.Message, e.Status)
	if len(e.Errors) > 0 {
		keys := make([]string, 0, len(e.Errors))
		for k := range e.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			sep := "; "
			if i == 0 {
				sep = ": "
			}
			fmt.Fprintf(&b, "%s%s: %s", sep, k, e.Errors[k])
		}
	}
	return b.String()
}

// text is the message and every parameter complaint, lower-cased, for
// classification.
func (e *APIError) text() string {
	parts := []string{e.Message}
	for _, v := range e.Errors {
		parts = append(parts, v)
	}
	return strings.ToLower(strings.Join(parts, "\n"))
}

// ConnKind tells which way a connection to the API failed.
type ConnKind int

// The ways a connection can fail.
const (
	ConnOther       ConnKind = iota // Anything not listed below.
	ConnRefused                     // Nothing listens on the port.
	ConnUnreachable                 // No route to the host or network.
	ConnTimeout                     // No answer in time.
	ConnReset                       // The connection broke mid-request.
	ConnDNS                         // The host name does not resolve.
	ConnTLS                         // The server certificate is not trusted.
	ConnProtocol                    // The server did not speak TLS.
)

// ConnError is a failure to talk to the API endpoint at all. Its message says
// what failed and what to check.
type ConnError struct {
	// Endpoint is the endpoint URL, Host its host:port.
	Endpoint, Host string
	// Method and Path name the request that failed.
	Method, Path string
	// Kind classifies the failure.
	Kind ConnKind
	// NotSent is true when the request provably never reached the server
	// (the connection was never established), so repeating it is safe.
	NotSent bool
	// Err is the underlying error.
	Err error
}

// Error implements error.
func (e *ConnError) Error() string {
	cause := rootCause(e.Err)
	var msg string
	switch e.Kind {
	case ConnRefused:
		msg = fmt.Sprintf("cannot reach %s: connection refused — check endpoint, that pveproxy runs on the node (systemctl status pveproxy) and that no firewall blocks the port", e.Endpoint)
	case ConnUnreachable:
		msg = fmt.Sprintf("cannot reach %s: %s — check endpoint, routing and firewall", e.Endpoint, cause)
	case ConnTimeout:
		msg = fmt.Sprintf("no answer from %s in time: %s — check endpoint, the network and firewall; the node may be overloaded", e.Endpoint, cause)
	case ConnReset:
		msg = fmt.Sprintf("the connection to %s broke: %s — pveproxy may be restarting or a proxy in between dropped it", e.Endpoint, cause)
	case ConnDNS:
		msg = fmt.Sprintf("cannot resolve the host of %s: %s — check endpoint", e.Endpoint, cause)
	case ConnTLS:
		var he x509.HostnameError
		if errors.As(e.Err, &he) {
			msg = fmt.Sprintf("TLS certificate of %s does not match the host name: %s — use a host name the certificate names in endpoint, or set insecure = true", e.Host, cause)
		} else {
			msg = fmt.Sprintf("TLS certificate of %s is not trusted: %s — set ca_certificate to the PVE CA (/etc/pve/pve-root-ca.pem on any node) or insecure = true", e.Host, cause)
		}
	case ConnProtocol:
		msg = fmt.Sprintf("%s did not answer with TLS: %s — Proxmox VE serves https on port 8006; check the scheme and port of endpoint", e.Endpoint, cause)
	default:
		msg = fmt.Sprintf("request to %s failed: %s", e.Endpoint, cause)
	}
	if e.Method != "" {
		msg += " (" + e.Method + " " + e.Path + ")"
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *ConnError) Unwrap() error { return e.Err }

// rootCause returns the most specific message of a network error chain
// without the URL and operation prefixes.
func rootCause(err error) string {
	var x509Unknown x509.UnknownAuthorityError
	var x509Host x509.HostnameError
	var x509Invalid x509.CertificateInvalidError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &x509Unknown):
		return x509Unknown.Error()
	case errors.As(err, &x509Host):
		return x509Host.Error()
	case errors.As(err, &x509Invalid):
		return x509Invalid.Error()
	case errors.As(err, &certErr):
		return certErr.Err.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// classifyConn turns a transport-level error into a *ConnError, or returns
// nil when err is not one.
func classifyConn(endpoint *url.URL, method, path string, err error) *ConnError {
	ce := &ConnError{Endpoint: endpoint.String(), Host: endpoint.Host, Method: method, Path: path, Err: err}
	var dnsErr *net.DNSError
	var recErr tls.RecordHeaderError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidErr x509.CertificateInvalidError
	var opErr *net.OpError
	var netErr net.Error
	dial := errors.As(err, &opErr) && opErr.Op == "dial"
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &invalidErr):
		ce.Kind, ce.NotSent = ConnTLS, true
	case errors.As(err, &recErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		ce.Kind, ce.NotSent = ConnProtocol, true
	case errors.As(err, &dnsErr):
		ce.Kind, ce.NotSent = ConnDNS, true
	case errors.Is(err, syscall.ECONNREFUSED):
		ce.Kind, ce.NotSent = ConnRefused, true
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		ce.Kind, ce.NotSent = ConnUnreachable, true
	case errors.As(err, &netErr) && netErr.Timeout():
		ce.Kind, ce.NotSent = ConnTimeout, dial
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		ce.Kind = ConnReset
	case dial:
		ce.Kind, ce.NotSent = ConnOther, true
	default:
		var ue *url.Error
		if !errors.As(err, &ue) {
			return nil
		}
		ce.Kind = ConnOther
	}
	return ce
}

// wrapErr maps an error from go-proxmox to *APIError or *ConnError where it
// can, and otherwise names the request.
func (c *Client) wrapErr(ctx context.Context, method, path string, cp *capture, err error) error {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if errors.Is(err, proxmox.ErrNotAuthorized) {
		if last := cp.get(); last != nil {
			return last
		}
		return &APIError{Method: method, Path: path, Status: 401, Message: "not authorized"}
	}
	if ce := classifyConn(c.endpoint, method, path, err); ce != nil {
		return ce
	}
	return fmt.Errorf("%s %s: %w", method, path, err)
}

// IsNotFound reports whether PVE said the object does not exist, e.g.
// "Configuration file 'nodes/pve1/lxc/102.conf' does not exist".
func IsNotFound(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	if ae.Status == 404 {
		return true
	}
	t := ae.text()
	return strings.Contains(t, "does not exist") || strings.Contains(t, "no such ") ||
		strings.Contains(t, "unable to find")
}

// IsLocked reports whether PVE refused because the guest config is locked
// ("CT is locked (backup)") or the config lock could not be taken in time.
func IsLocked(err error) bool {
	var t string
	var ae *APIError
	var te *TaskError
	switch {
	case errors.As(err, &ae):
		t = ae.text()
	case errors.As(err, &te):
		t = strings.ToLower(te.ExitStatus)
	default:
		return false
	}
	return strings.Contains(t, "is locked") ||
		(strings.Contains(t, "can't lock file") && strings.Contains(t, "got timeout"))
}

// IsAlreadyExists reports whether PVE said the object already exists, e.g.
// "CT 102 already exists on node 'pve1'".
func IsAlreadyExists(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && strings.Contains(ae.text(), "already exists")
}

// IsDigestMismatch reports whether PVE refused a config change because the
// config changed since it was read (the digest did not match).
func IsDigestMismatch(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	t := ae.text()
	return strings.Contains(t, "detected modified configuration") ||
		strings.Contains(t, "file changed by other user") ||
		strings.Contains(t, "digest mismatch")
}

// IsTransient reports whether the error may go away by itself: a 5xx other
// than the classified ones above (and other than 501 Not Implemented), 429,
// or a refused, reset or timed out connection.
func IsTransient(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		if ae.Status == 429 {
			return true
		}
		if ae.Status < 500 || ae.Status == 501 {
			return false
		}
		if IsNotFound(err) || IsLocked(err) || IsAlreadyExists(err) || IsDigestMismatch(err) {
			return false
		}
		if ae.Status != 500 {
			return true // 502, 503, 504 and PVE's 595/596 proxy errors
		}
		return transient500(ae.Message)
	}
	var ce *ConnError
	if errors.As(err, &ce) {
		switch ce.Kind {
		case ConnRefused, ConnUnreachable, ConnTimeout, ConnReset:
			return true
		case ConnDNS:
			var dnsErr *net.DNSError
			return errors.As(ce.Err, &dnsErr) && (dnsErr.IsTemporary || dnsErr.IsTimeout)
		}
	}
	return false
}

// IsAmbiguous reports whether a failed request may still have taken effect:
// a transient failure (5xx, broken connection, timeout) of a request that
// reached, or may have reached, PVE.
func IsAmbiguous(err error) bool { return IsTransient(err) && !notSent(err) }

// notSent reports whether the request provably never reached the server.
func notSent(err error) bool {
	var ce *ConnError
	return errors.As(err, &ce) && ce.NotSent
}

// transient500Hints are the messages of HTTP 500 answers that come from a
// busy or restarting node rather than from the request: PVE answers 500 to
// nearly every refusal of a handler ("CT is running", "storage does not
// exist"), which repeating cannot fix.
var transient500Hints = []string{
	"internal server error", "got timeout", "timeout", "proxy", "connection refused", "cfs-lock", "unable to connect",
	"temporarily", "try again later", "service unavailable", "broken pipe", "connection reset", "quorum", "not ready",
	"unexpected server error",
}

func transient500(msg string) bool {
	m := strings.ToLower(strings.TrimSpace(msg))
	if m == "" || m == "500" {
		return true
	}
	for _, h := range transient500Hints {
		if strings.Contains(m, h) {
			return true
		}
	}
	return false
}
