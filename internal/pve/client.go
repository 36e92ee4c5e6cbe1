// Package pve wraps the Proxmox VE API client (go-proxmox) with the
// authentication, TLS, task waiting and retry behavior the provider needs.
// It knows nothing about Terraform types.
package pve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

// Config holds everything needed to build a client. Building a client never
// touches the network.
type Config struct {
	// Endpoint is the URL of any cluster node, e.g. https://pve1.lan:8006/.
	Endpoint string
	// APIToken is USER@REALM!TOKENID=SECRET. Mutually exclusive with
	// Username/Password.
	APIToken string
	// Username and Password select ticket authentication.
	Username string
	Password string
	// Insecure disables TLS certificate verification.
	Insecure bool
	// CACertificatePEM, when set, is trusted in addition to the system roots.
	CACertificatePEM string
	// UserAgent is sent with every request.
	UserAgent string
	// Timeout bounds a single HTTP request (0: 60 s).
	Timeout time.Duration
	// ReadRetry, when set, replaces DefaultReadPolicy for idempotent reads.
	ReadRetry *RetryPolicy
	// WriteRetry, when set, replaces DefaultWritePolicy for writes that are
	// safe to repeat when PVE refused them (locked) or never received them.
	WriteRetry *RetryPolicy
}

// Client is a Proxmox VE API client.
type Client struct {
	api      *proxmox.Client
	http     *http.Client
	endpoint *url.URL
	baseURL  string
	cfg      Config

	readPolicy  RetryPolicy
	writePolicy RetryPolicy
	poll        PollPolicy
	// sleep waits for d or until ctx is done; tests replace it to count
	// waits without spending wall time.
	sleep func(ctx context.Context, d time.Duration) error
	// sleepWake is sleep that also ends when wake is closed (WaitTask
	// waiting for what another wait learns).
	sleepWake func(ctx context.Context, d time.Duration, wake <-chan struct{}) error
	// now is the clock WaitTask measures tasks with; tests replace it
	// together with sleep.
	now func() time.Time
	// tasks learns how long tasks take, for WaitTask.
	tasks *taskTimes
}

var tokenPattern = regexp.MustCompile(`^([^@\s!=]+)@([^@\s!=]+)!([A-Za-z][A-Za-z0-9._-]*)=(\S+)$`)

// ParseAPIToken splits USER@REALM!TOKENID=SECRET into the token id
// (USER@REALM!TOKENID) and the secret.
func ParseAPIToken(token string) (id, secret string, err error) {
	m := tokenPattern.FindStringSubmatch(token)
	if m == nil {
		return "", "", errors.New("an API token has the form USER@REALM!TOKENID=SECRET, for example root@pam!terraform=01234567-89ab-cdef-0123-456789abcdef")
	}
	return m[1] + "@" + m[2] + "!" + m[3], m[4], nil
}

// ParseEndpoint checks that an endpoint is an absolute http(s) URL with a
// host and returns it normalised with a trailing slash.
func ParseEndpoint(endpoint string) (*url.URL, error) {
	if !strings.Contains(endpoint, "://") {
		return nil, fmt.Errorf("%q has no scheme: write it as https://%s", endpoint, strings.TrimSuffix(endpoint, "/")+"/")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("%q is not a valid URL: %w", endpoint, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("%q uses the scheme %q: Proxmox VE listens on https (port 8006)", endpoint, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q has no host: write it as https://HOST:8006/", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q must not carry a query or fragment", endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/"
	return u, nil
}

// TLSConfig returns the TLS settings for cfg: verification on unless
// Insecure, TLS 1.2 at least, and CACertificatePEM added to the system roots.
func TLSConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.Insecure {
		tc.InsecureSkipVerify = true //nolint:gosec // explicit user choice, warned about by the provider
	}
	if cfg.CACertificatePEM != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(cfg.CACertificatePEM)) {
			return nil, errors.New("ca_certificate holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// New validates cfg and builds a client. It never dials the network.
func New(cfg Config) (*Client, error) {
	u, err := ParseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	tc, err := TLSConfig(cfg)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	transport := http.DefaultTransport.(*http.Transport).Clone() //nolint:forcetypeassert // the standard library's default is always an *http.Transport
	transport.TLSClientConfig = tc
	transport.MaxIdleConnsPerHost = 32
	base := u.String() + "api2/json"
	hc := &http.Client{Transport: &statusTransport{base: transport, prefix: u.Path + "api2/json"}, Timeout: timeout}

	opts := []proxmox.Option{proxmox.WithHTTPClient(hc)}
	if cfg.UserAgent != "" {
		opts = append(opts, proxmox.WithUserAgent(cfg.UserAgent))
	}
	switch {
	case cfg.APIToken != "":
		id, secret, err := ParseAPIToken(cfg.APIToken)
		if err != nil {
			return nil, err
		}
		opts = append(opts, proxmox.WithAPIToken(id, secret))
	case cfg.Username != "" && cfg.Password != "":
		opts = append(opts, proxmox.WithCredentials(&proxmox.Credentials{Username: cfg.Username, Password: cfg.Password}))
	default:
		return nil, errors.New("no credentials: set api_token, or username and password")
	}
	c := &Client{
		api:         proxmox.NewClient(base, opts...),
		http:        hc,
		endpoint:    u,
		baseURL:     base,
		cfg:         cfg,
		readPolicy:  DefaultReadPolicy(),
		writePolicy: DefaultWritePolicy(),
		poll:        DefaultPollPolicy(),
		sleep:       sleepCtx,
		sleepWake:   sleepWakeCtx,
		now:         time.Now,
		tasks:       &taskTimes{},
	}
	if cfg.ReadRetry != nil {
		c.readPolicy = *cfg.ReadRetry
	}
	if cfg.WriteRetry != nil {
		c.writePolicy = *cfg.WriteRetry
	}
	return c, nil
}

// API returns the underlying go-proxmox client. Its HTTP transport turns
// every non-2xx answer other than 401/403 into an *APIError, so its
// websocket helpers (which expect a bare *http.Transport) are not usable.
func (c *Client) API() *proxmox.Client { return c.api }
