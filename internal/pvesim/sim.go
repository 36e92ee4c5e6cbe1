package pvesim

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTaskDelay is how long a task runs when Options.TaskDelay is zero.
const DefaultTaskDelay = 200 * time.Millisecond

// Options configures a simulator.
type Options struct {
	// Listen is the address to listen on (default "127.0.0.1:0").
	Listen string
	// Nodes are the cluster's node names (default ["pve1"]). The endpoint
	// answers for all of them, like any node of a real cluster.
	Nodes []string
	// StateDir holds the config files and volumes (required for New; Start
	// uses a temporary directory when empty).
	StateDir string
	// TaskDelay is how long each task runs: zero means DefaultTaskDelay, a
	// negative value means no delay.
	TaskDelay time.Duration
	// APILatency delays every API call.
	APILatency time.Duration
	// LeaseDelay is how long after a start (or reboot) a DHCP network's
	// address appears on the container's interfaces: a real DHCP client
	// needs a moment after the container's network comes up. Zero means at
	// once.
	LeaseDelay time.Duration
	// NodeDevices are the device nodes under /dev of each node, by node
	// name; a node not listed has DefaultDevices. A devN path must be one of
	// them (PVE stats it on the node).
	NodeDevices map[string][]string
	// APIToken is the accepted token "root@pam!ID=SECRET". When empty the
	// token saved in the state dir is reused, or root@pam!phoenix=<uuid>
	// generated.
	APIToken string
	// Password is root@pam's password for tickets. When empty the saved one
	// is reused or a random one generated; it is kept in the file
	// <state>/pvesim-password (mode 0600), never printed.
	Password string
	// ClusterName is reported when there is more than one node (default
	// "pvesim").
	ClusterName string
	// Templates are offered in local:vztmpl in addition to DefaultTemplates.
	Templates []string
	// Snippets are executable scripts every node's local storage holds in
	// its snippets directory (local:snippets/NAME), for hookscript; see
	// SnippetPath for adding others.
	Snippets []string
	// Faults are active from the start.
	Faults []Fault
	// Access are user.cfg lines (user, token, group, role, acl) applied on
	// top of the default access configuration: root@pam with the API token
	// (no privilege separation) and phoenix@pve with the privilege-separated
	// token ProviderTokenID, which holds ProviderRole on "/". Each token's
	// secret is in Sim.Tokens.
	Access []string
	// ExecLatency is how long every "pct exec" on a node waits before it
	// runs its command, each one, also when one SSH command runs several:
	// on Proxmox VE lxc-attach and the setup of the container's namespaces
	// take a few hundred milliseconds. Sim.SetExecLatency (and PUT
	// /_sim/exec-latency) change it while the simulator runs.
	ExecLatency time.Duration
	// StartSSH, when set, starts the per-node SSH servers once the API
	// listens. The info it returns is published as Sim.SSH and as the "ssh"
	// field of the start line; stop is called by Close.
	StartSSH func(s *Sim) (info any, stop func() error, err error)
}

// Sim is a running simulator.
type Sim struct {
	// Endpoint is the API base URL, "https://127.0.0.1:PORT/".
	Endpoint string
	// CAFile is the CA certificate to trust (<state>/pvesim-ca.pem).
	CAFile string
	// CAPEM is the content of CAFile.
	CAPEM []byte
	// APIToken is root@pam's API token without privilege separation,
	// USER@REALM!ID=SECRET: it may do what root@pam's ACLs allow, but PVE
	// refuses it what only root@pam itself may do.
	APIToken string
	// ProviderToken is the least-privilege, privilege-separated token
	// (ProviderTokenID holding ProviderRole on "/").
	ProviderToken string
	// Tokens are all tokens of the access configuration, by token id, each
	// as USER@REALM!ID=SECRET.
	Tokens map[string]string
	// User and Password are the credentials for ticket login; the password
	// is also in PasswordFile.
	User         string
	Password     string
	PasswordFile string
	// Nodes are the node names.
	Nodes []string
	// StateDir is the state directory.
	StateDir string
	// SSH is what Options.StartSSH returned.
	SSH any
	// Fingerprint is the SHA-256 fingerprint of the server certificate.
	Fingerprint string

	opts Options
	srv  *server
}

// server is the running part of a Sim, replaced by a restart.
type server struct {
	opts     Options
	store    *store
	tasks    *taskManager
	faults   *faultSet
	reqlog   *requestLog
	controls *controls
	auth     *authenticator
	access   *accessConfig
	nodeKeys map[string]string // node -> key of its node channel
	routes   []*route
	httpSrv  *http.Server
	ln       net.Listener
	closing  chan struct{}
	stopSSH  func() error
	serveErr chan error
	closed   sync.Once
	fp       string
}

var reNodeName = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?$`)

var reToken = regexp.MustCompile(`^([^@\s!=]+@[^@\s!=]+)!([A-Za-z][A-Za-z0-9._-]*)=(\S+)$`)

// New starts a simulator for opts and returns once it accepts connections.
func New(opts Options) (*Sim, error) {
	if opts.StateDir == "" {
		return nil, errors.New("pvesim: Options.StateDir is required")
	}
	ctl := &controls{}
	ctl.execLatency.Store(int64(max(opts.ExecLatency, 0)))
	return newSim(opts, newFaultSet(), &requestLog{}, ctl)
}

func newSim(opts Options, faults *faultSet, reqlog *requestLog, ctl *controls) (*Sim, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if len(opts.Nodes) == 0 {
		opts.Nodes = []string{"pve1"}
	}
	for _, n := range opts.Nodes {
		if !reNodeName.MatchString(n) {
			return nil, fmt.Errorf("pvesim: invalid node name %q", n)
		}
	}
	if opts.ClusterName == "" {
		opts.ClusterName = "pvesim"
	}
	abs, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, err
	}
	opts.StateDir = abs
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, err
	}
	delay := opts.TaskDelay
	switch {
	case delay == 0:
		delay = DefaultTaskDelay
	case delay < 0:
		delay = 0
	}

	token, err := loadOrCreateSecret(filepath.Join(abs, "pvesim-token"), opts.APIToken, func() string { return "root@pam!phoenix=" + newUUID() })
	if err != nil {
		return nil, err
	}
	m := reToken.FindStringSubmatch(token)
	if m == nil || m[1] != rootPam {
		return nil, fmt.Errorf("pvesim: the API token must be root@pam's: root@pam!ID=SECRET")
	}
	access := newAccessConfig()
	if err := access.parse(strings.Join(append(defaultAccess(m[1]+"!"+m[2]), opts.Access...), "\n")); err != nil {
		return nil, fmt.Errorf("pvesim: access: %w", err)
	}
	if rt := access.token(m[1] + "!" + m[2]); rt != nil {
		rt.secret = m[3]
	}
	passFile := filepath.Join(abs, "pvesim-password")
	password, err := loadOrCreateSecret(passFile, opts.Password, func() string { return hex.EncodeToString(randBytes(12)) })
	if err != nil {
		return nil, err
	}
	authKey, err := loadOrCreateSecret(filepath.Join(abs, "pvesim-authkey"), "", func() string { return hex.EncodeToString(randBytes(32)) })
	if err != nil {
		return nil, err
	}

	st, err := newStore(abs, opts.Nodes)
	if err != nil {
		return nil, err
	}
	if err := writeSnippets(abs, opts.Nodes, opts.Snippets); err != nil {
		return nil, err
	}
	ca, caKey, caPEM, err := loadOrCreateCA(abs)
	if err != nil {
		return nil, fmt.Errorf("pvesim: CA: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, err
	}
	tcpAddr, _ := ln.Addr().(*net.TCPAddr)
	var ip net.IP
	if tcpAddr != nil {
		ip = tcpAddr.IP
	}
	cert, fp, err := issueServerCert(ca, caKey, opts.Nodes, ip)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}

	s := &server{
		opts:     opts,
		store:    st,
		faults:   faults,
		reqlog:   reqlog,
		controls: ctl,
		closing:  make(chan struct{}),
		nodeKeys: newNodeKeys(opts.Nodes),
		serveErr: make(chan error, 1),
		fp:       fp,
		access:   access,
		auth: &authenticator{
			access:   access,
			user:     rootPam,
			password: password,
			key:      []byte(authKey),
			now:      time.Now,
		},
	}
	for _, f := range opts.Faults {
		if err := faults.add(f); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("pvesim: fault: %w", err)
		}
	}
	s.tasks = newTaskManager(delay, faults, s.closing)
	s.registerRoutes()

	tlsCfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
	s.httpSrv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// PVE speaks HTTP/1.1 only; HTTP/2 would also drop the reason
		// phrases that carry PVE's error messages.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:     nil,
	}
	s.ln = tls.NewListener(ln, tlsCfg)
	go func() { s.serveErr <- s.httpSrv.Serve(s.ln) }()

	host := "127.0.0.1"
	port := "0"
	if tcpAddr != nil {
		port = fmt.Sprint(tcpAddr.Port)
		if !tcpAddr.IP.IsUnspecified() {
			host = tcpAddr.IP.String()
		}
	}
	sim := &Sim{
		Endpoint:      "https://" + net.JoinHostPort(host, port) + "/",
		CAFile:        filepath.Join(abs, caFileName),
		CAPEM:         caPEM,
		APIToken:      token,
		ProviderToken: ProviderTokenID + "=" + s.auth.tokenSecret(ProviderTokenID),
		Tokens:        map[string]string{},
		User:          rootPam,
		Password:      password,
		PasswordFile:  passFile,
		Nodes:         append([]string(nil), opts.Nodes...),
		StateDir:      abs,
		Fingerprint:   fp,
		opts:          opts,
		srv:           s,
	}
	if err := s.writeNodeChannels(sim.Endpoint, caPEM); err != nil {
		s.close()
		return nil, fmt.Errorf("pvesim: node channel: %w", err)
	}
	for uid, u := range access.users {
		for name := range u.tokens {
			id := uid + "!" + name
			sim.Tokens[id] = id + "=" + s.auth.tokenSecret(id)
		}
	}
	if opts.StartSSH != nil {
		info, stop, err := opts.StartSSH(sim)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("pvesim: ssh: %w", err)
		}
		sim.SSH = info
		s.stopSSH = stop
	}
	return sim, nil
}

// loadOrCreateSecret returns given when set (and saves it), else the
// content of path, else a new value from gen saved to path with mode 0600.
func loadOrCreateSecret(path, given string, gen func() string) (string, error) {
	if given == "" {
		if b, err := os.ReadFile(path); err == nil {
			if v := strings.TrimSpace(string(b)); v != "" {
				return v, nil
			}
		}
		given = gen()
	}
	if err := writeFileAtomic(path, []byte(given+"\n"), 0o600); err != nil {
		return "", err
	}
	return given, nil
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func newUUID() string {
	b := randBytes(16)
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// close stops the server: listener, open connections, tasks and SSH.
func (s *server) close() error {
	var err error
	s.closed.Do(func() {
		close(s.closing)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if e := s.httpSrv.Shutdown(ctx); e != nil {
			err = errors.Join(err, s.httpSrv.Close())
		}
		s.tasks.wait()
		if s.stopSSH != nil {
			err = errors.Join(err, s.stopSSH())
		}
	})
	return err
}

// Close stops the simulator. The state dir is kept.
func (s *Sim) Close() error {
	return s.srv.close()
}

// Addr is the host:port the API listens on.
func (s *Sim) Addr() string {
	return s.srv.ln.Addr().String()
}

// StartLine is the JSON object cmd/pvesim prints when ready.
type StartLine struct {
	Endpoint string `json:"endpoint"`
	CAFile   string `json:"ca_file"`
	APIToken string `json:"api_token"`
	// ProviderToken is the least-privilege, privilege-separated token.
	ProviderToken string `json:"provider_token"`
	// Tokens are every token of the access configuration, by id.
	Tokens       map[string]string `json:"tokens"`
	Nodes        []string          `json:"nodes"`
	User         string            `json:"user"`
	PasswordFile string            `json:"password_file"`
	StateDir     string            `json:"state_dir"`
	SSH          any               `json:"ssh,omitempty"`
}

// StartLine returns the simulator's start line.
func (s *Sim) StartLine() StartLine {
	return StartLine{
		Endpoint:      s.Endpoint,
		CAFile:        s.CAFile,
		APIToken:      s.APIToken,
		ProviderToken: s.ProviderToken,
		Tokens:        s.Tokens,
		Nodes:         s.Nodes,
		User:          s.User,
		PasswordFile:  s.PasswordFile,
		StateDir:      s.StateDir,
		SSH:           s.SSH,
	}
}

// Requests returns the request log since start or the last ResetRequests.
func (s *Sim) Requests() []Request { return s.srv.reqlog.all() }

// Forbidden returns the API calls the simulator refused with 403 since it
// started, whatever ResetRequests did since.
func (s *Sim) Forbidden() []Request { return s.srv.reqlog.refused() }

// ResetRequests empties the request log.
func (s *Sim) ResetRequests() { s.srv.reqlog.reset() }

// RecordRequest adds an entry to the request log (the SSH servers record
// their commands with Source "ssh").
func (s *Sim) RecordRequest(r Request) {
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	s.srv.reqlog.add(r)
}

// CountMutating counts the logged API calls that change state (POST, PUT,
// DELETE; logins excluded).
func (s *Sim) CountMutating() int {
	n := 0
	for _, r := range s.Requests() {
		if isMutating(r) {
			n++
		}
	}
	return n
}

// AddFault activates a fault rule.
func (s *Sim) AddFault(f Fault) error { return s.srv.faults.add(f) }

// ClearFaults removes every fault rule and releases hanging tasks.
func (s *Sim) ClearFaults() { s.srv.faults.clear() }

// Faults returns the active fault rules.
func (s *Sim) Faults() []Fault { return s.srv.faults.list() }

// ExecLatency is how long each pct exec waits now (Options.ExecLatency).
func (s *Sim) ExecLatency() time.Duration {
	return time.Duration(s.srv.controls.execLatency.Load())
}

// SetExecLatency changes the wait of each pct exec from the next one on;
// a negative value counts as zero.
func (s *Sim) SetExecLatency(d time.Duration) {
	s.srv.controls.execLatency.Store(int64(max(d, 0)))
}

// controls are the settings that can change while the simulator runs; they
// carry over a restart.
type controls struct {
	execLatency atomic.Int64 // time.Duration
}

// TaskDelay is the effective task duration.
func (s *Sim) TaskDelay() time.Duration { return s.srv.tasks.delay }

// restart stops the server and starts a new one on the same state dir,
// preferably on the same address. The request log and faults carry over.
func (s *Sim) restart() error {
	addr := s.Addr()
	if err := s.srv.close(); err != nil {
		return err
	}
	opts := s.opts
	opts.Listen = addr
	opts.APIToken = s.APIToken
	opts.Password = s.Password
	opts.Faults = nil
	ns, err := newSim(opts, s.srv.faults, s.srv.reqlog, s.srv.controls)
	if err != nil {
		opts.Listen = "127.0.0.1:0"
		ns, err = newSim(opts, s.srv.faults, s.srv.reqlog, s.srv.controls)
		if err != nil {
			return err
		}
	}
	s.Endpoint, s.CAPEM, s.SSH, s.Fingerprint, s.srv = ns.Endpoint, ns.CAPEM, ns.SSH, ns.Fingerprint, ns.srv
	return nil
}
