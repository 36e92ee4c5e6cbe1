package pve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// statusTransport turns non-2xx answers into *APIError before go-proxmox sees
// them, so PVE's status-line messages and per-parameter errors are kept and
// unusual statuses (404, 502, 595...) never pass for success. 401 and 403
// pass through (go-proxmox renews tickets on them) after being recorded in
// the request's capture.
type statusTransport struct {
	base   http.RoundTripper
	prefix string // URL path of the API root, e.g. /api2/json
}

// RoundTrip implements http.RoundTripper.
func (t *statusTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return res, nil
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	_ = res.Body.Close()
	ae := newAPIError(req.Method, strings.TrimPrefix(req.URL.Path, t.prefix), res.StatusCode, res.Status, body)
	if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
		if cp, ok := req.Context().Value(captureKey{}).(*capture); ok {
			cp.set(ae)
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		return res, nil
	}
	return nil, ae
}

// newAPIError builds an *APIError from an answer's status line and body.
func newAPIError(method, path string, code int, status string, body []byte) *APIError {
	msg := strings.TrimSpace(strings.TrimPrefix(status, strconv.Itoa(code)))
	var parsed struct {
		Message string                     `json:"message"`
		Errors  map[string]json.RawMessage `json:"errors"`
	}
	ae := &APIError{Method: method, Path: path, Status: code}
	if json.Unmarshal(body, &parsed) == nil {
		if m := strings.TrimSpace(parsed.Message); m != "" {
			msg = m
		}
		if len(parsed.Errors) > 0 {
			ae.Errors = make(map[string]string, len(parsed.Errors))
			for k, v := range parsed.Errors {
				var s string
				if json.Unmarshal(v, &s) != nil {
					s = string(v)
				}
				ae.Errors[k] = strings.TrimSpace(s)
			}
		}
	}
	if msg == "" {
		msg = http.StatusText(code)
	}
	ae.Message = msg
	return ae
}

type captureKey struct{}

// capture records the last 401/403 of one call, which go-proxmox reports
// only as ErrNotAuthorized.
type capture struct {
	mu  sync.Mutex
	err *APIError
}

func (c *capture) set(e *APIError) {
	c.mu.Lock()
	c.err = e
	c.mu.Unlock()
}

func (c *capture) get() *APIError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// do performs one request through go-proxmox, without retries. GET and
// DELETE send params as a query, POST and PUT as a JSON body. The "data"
// member of the answer is decoded into out when out is not nil.
func (c *Client) do(ctx context.Context, method, path string, params map[string]string, out any) error {
	cp := &capture{}
	ctx = context.WithValue(ctx, captureKey{}, cp)
	full := path
	var body []byte
	switch method {
	case http.MethodGet, http.MethodDelete:
		if len(params) > 0 {
			q := url.Values{}
			for k, v := range params {
				q.Set(k, v)
			}
			full += "?" + q.Encode()
		}
	default:
		if len(params) > 0 {
			var err error
			if body, err = json.Marshal(params); err != nil {
				return fmt.Errorf("%s %s: encoding parameters: %w", method, path, err)
			}
		}
	}
	var raw json.RawMessage
	if err := c.api.Req(ctx, method, full, body, &raw); err != nil {
		return c.wrapErr(ctx, method, path, cp, err)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// get is an idempotent read, retried on transient and lock errors.
func (c *Client) get(ctx context.Context, path string, params map[string]string, out any) error {
	return c.retry(ctx, "GET "+path, c.readPolicy, func() error {
		return c.do(ctx, http.MethodGet, path, params, out)
	})
}

// write is a request that is repeated only when PVE refused it because of a
// lock or when it never reached PVE.
func (c *Client) write(ctx context.Context, method, path string, params map[string]string, out any) error {
	return c.retry(ctx, method+" "+path, c.writePolicy, func() error {
		return c.do(ctx, method, path, params, out)
	})
}

// notAppliedError marks an ambiguous failure of a request that a check has
// shown took no effect, so repeating the request is safe.
type notAppliedError struct{ err error }

func (e *notAppliedError) Error() string { return e.err.Error() }
func (e *notAppliedError) Unwrap() error { return e.err }

// writeChecked is a non-idempotent request that is never repeated blindly:
// after a failure that leaves open whether PVE acted on it (a 5xx answer, a
// connection broken after sending), check says whether it took effect.
// When it did, writeChecked returns applied = true and no error, and out is
// not filled; when it did not, the request is repeated with backoff. Locked
// configs and requests that never reached PVE are retried as by write.
func (c *Client) writeChecked(ctx context.Context, method, path string, params map[string]string, out any,
	check func(ctx context.Context) (applied bool, err error),
) (applied bool, err error) {
	p := c.writePolicy
	p.RetryIf = func(err error) bool {
		var na *notAppliedError
		return IsLocked(err) || notSent(err) || errors.As(err, &na)
	}
	err = c.retry(ctx, method+" "+path, p, func() error {
		err := c.do(ctx, method, path, params, out)
		if err == nil || !IsAmbiguous(err) {
			return err
		}
		ok, cerr := check(ctx)
		switch {
		case cerr != nil:
			return fmt.Errorf("%w (and checking whether it took effect failed: %v)", err, cerr)
		case ok:
			applied = true
			return nil
		}
		return &notAppliedError{err: err}
	})
	return applied, err
}

// seg escapes one path segment.
func seg(s string) string { return url.PathEscape(s) }
