package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SimStart is the part of the start line cmd/pvesim prints when ready that
// the bench and the demo use.
type SimStart struct {
	Endpoint string `json:"endpoint"`
	CAFile   string `json:"ca_file"`
	// APIToken is the least-privilege, privilege-separated token the tools
	// run with, as a real cluster should.
	APIToken string   `json:"provider_token"`
	Nodes    []string `json:"nodes"`
	SSH      *SimSSH  `json:"ssh"`
}

// SimSSH is how to reach the simulated nodes over SSH.
type SimSSH struct {
	User           string             `json:"user"`
	PrivateKeyFile string             `json:"private_key_file"`
	KnownHostsFile string             `json:"known_hosts_file"`
	Nodes          map[string]SimNode `json:"nodes"`
}

// SimNode is one node's SSH endpoint.
type SimNode struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

// Sim is a running pvesim process.
type Sim struct {
	Start  SimStart
	cmd    *exec.Cmd
	client *http.Client
	waited chan struct{}
	// exit is the process's exit error, set before waited closes.
	exit error
}

// SimOptions are the flags of one simulator process.
type SimOptions struct {
	Binary     string
	StateDir   string
	Nodes      []string
	TaskDelay  time.Duration
	APILatency time.Duration
	// ExecLatency is how long each pct exec on the nodes waits
	// (--exec-latency; Sim.SetExecLatency changes it).
	ExecLatency time.Duration
	// LogFile receives the simulator's standard error.
	LogFile string
}

// StartSim starts cmd/pvesim and waits for its start line.
func StartSim(ctx context.Context, o SimOptions) (*Sim, error) {
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, err
	}
	nodes := ""
	for i, n := range o.Nodes {
		if i > 0 {
			nodes += ","
		}
		nodes += n
	}
	cmd := exec.Command(o.Binary, "--listen", "127.0.0.1:0", "--nodes", nodes, "--state-dir", o.StateDir, //nolint:gosec // the simulator built for this run.
		"--task-delay", o.TaskDelay.String(), "--api-latency", o.APILatency.String(), "--exec-latency", o.ExecLatency.String(), "--ssh=true")
	logf, err := os.Create(o.LogFile)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting pvesim: %w", err)
	}
	s := &Sim{cmd: cmd, waited: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			line = ""
		}
		lines <- line
		_, _ = io.Copy(io.Discard, stdout)
		s.exit = cmd.Wait()
		close(s.waited)
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(60 * time.Second):
		_ = s.Close()
		return nil, fmt.Errorf("pvesim printed no start line within a minute (see %s)", o.LogFile)
	case <-ctx.Done():
		_ = s.Close()
		return nil, ctx.Err()
	}
	if err := json.Unmarshal([]byte(line), &s.Start); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("pvesim start line: %w (see %s)", err, o.LogFile)
	}
	if s.Start.SSH == nil {
		_ = s.Close()
		return nil, errors.New("pvesim started without SSH servers")
	}
	ca, err := os.ReadFile(s.Start.CAFile)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		_ = s.Close()
		return nil, fmt.Errorf("%s holds no certificate", s.Start.CAFile)
	}
	s.client = &http.Client{
		Timeout:   2 * time.Minute,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
	return s, nil
}

// SSHPorts maps each node's SSH port to the node's name.
func (s *Sim) SSHPorts() map[int]string {
	out := map[int]string{}
	for name, n := range s.Start.SSH.Nodes {
		out[n.Port] = name
	}
	return out
}

func (s *Sim) do(ctx context.Context, method string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.Start.Endpoint+"_sim/requests?format=jsonl", nil)
	if err != nil {
		return nil, err
	}
	res, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		_ = res.Body.Close()
		return nil, fmt.Errorf("%s /_sim/requests: %s", method, res.Status)
	}
	return res, nil
}

// ResetLog empties the simulator's request log.
func (s *Sim) ResetLog(ctx context.Context) error {
	res, err := s.do(ctx, http.MethodDelete)
	if err != nil {
		return err
	}
	return res.Body.Close()
}

// Log returns the request log since the last reset.
func (s *Sim) Log(ctx context.Context) ([]LogEntry, error) {
	res, err := s.do(ctx, http.MethodGet)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var out []LogEntry
	dec := json.NewDecoder(res.Body)
	for {
		var e LogEntry
		if err := dec.Decode(&e); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("request log: %w", err)
		}
		out = append(out, e)
	}
}

// TaskTiming is one simulated task as GET /_sim/tasks lists it.
type TaskTiming struct {
	UPID   string    `json:"upid"`
	Node   string    `json:"node"`
	Type   string    `json:"type"`
	ID     string    `json:"id"`
	Target int       `json:"target"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Exit   string    `json:"exitstatus"`
}

// Container is the container a task concerns: its ID, or for a clone task
// (whose ID is the source's, as in PVE) its target.
func (t TaskTiming) Container() int {
	if t.Type == "vzclone" {
		return t.Target
	}
	id, _ := strconv.Atoi(t.ID)
	return id
}

// Tasks returns every task the simulator ran, with exact start and end.
func (s *Sim) Tasks(ctx context.Context) ([]TaskTiming, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Start.Endpoint+"_sim/tasks", nil)
	if err != nil {
		return nil, err
	}
	res, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /_sim/tasks: %s", res.Status)
	}
	var out []TaskTiming
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("task list: %w", err)
	}
	return out, nil
}

// SetExecLatency changes how long each pct exec waits from the next one
// on (PUT /_sim/exec-latency).
func (s *Sim) SetExecLatency(ctx context.Context, d time.Duration) error {
	body := fmt.Sprintf(`{"exec_latency_ms": %g}`, float64(d)/float64(time.Millisecond))
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.Start.Endpoint+"_sim/exec-latency", strings.NewReader(body))
	if err != nil {
		return err
	}
	res, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT /_sim/exec-latency: %s", res.Status)
	}
	return nil
}

// Close stops the simulator (SIGTERM, then SIGKILL of its process group).
func (s *Sim) Close() error {
	if s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.waited:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.waited
	}
	return nil
}

// goBuild builds a main package of the repository into dir.
func goBuild(ctx context.Context, repo, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// findRepo walks up from dir to the directory holding go.mod.
func findRepo(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}
