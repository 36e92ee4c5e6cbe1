package nodeexec

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Defaults applied by NewPool to zero fields of Config.
const (
	DefaultUsername           = "root"
	DefaultMaxSessionsPerNode = 8
	DefaultDialTimeout        = 15 * time.Second
	DefaultPort               = 22
)

// SudoMode says whether commands marked Sudo are prefixed with "sudo -n --".
type SudoMode int

const (
	// SudoAuto uses sudo exactly when the user is not root.
	SudoAuto SudoMode = iota
	// SudoAlways always uses sudo.
	SudoAlways
	// SudoNever never uses sudo, for a non-root user that needs none.
	SudoNever
)

// Config holds how to reach and authenticate to the nodes. At least one of
// PrivateKey, Agent or Password must be set.
type Config struct {
	// Username to log in as; "root" when empty.
	Username string
	// PrivateKey is an unencrypted private key in PEM or OpenSSH format.
	// Sensitive: it never appears in errors or logs.
	PrivateKey string
	// Password for password and keyboard-interactive authentication.
	// Sensitive: it never appears in errors or logs.
	Password string
	// Agent enables keys from an SSH agent.
	Agent bool
	// AgentSocket is the agent's unix socket; $SSH_AUTH_SOCK when empty.
	AgentSocket string
	// KnownHostsFile is the OpenSSH known_hosts file that host keys are
	// checked against; ~/.ssh/known_hosts when empty. A leading "~/" is
	// expanded.
	KnownHostsFile string
	// TrustOnFirstUse records the key of a host absent from KnownHostsFile
	// (creating the file with mode 0600 when needed) and accepts it. A key
	// that differs from a recorded one is refused all the same.
	TrustOnFirstUse bool
	// Sudo selects when commands are run through "sudo -n".
	Sudo SudoMode
	// MaxSessionsPerNode bounds the concurrent sessions on one node's
	// connection; 8 when zero (OpenSSH's default limit is 10).
	MaxSessionsPerNode int
	// DialTimeout bounds the TCP connect plus SSH handshake; 15s when zero.
	DialTimeout time.Duration
}

// Node says where a node's SSH server listens.
type Node struct {
	// Name is the PVE node name, e.g. "pve1".
	Name string
	// Address is a host name or IP address (IPv6 without brackets).
	Address string
	// Port is the SSH port; 22 when zero.
	Port int
}

// hostPort returns the node's address in host:port form.
func (n Node) hostPort() string {
	port := n.Port
	if port == 0 {
		port = DefaultPort
	}
	return net.JoinHostPort(n.Address, fmt.Sprint(port))
}

// withDefaults returns cfg with defaults filled in and paths expanded.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Username == "" {
		cfg.Username = DefaultUsername
	}
	if cfg.MaxSessionsPerNode <= 0 {
		cfg.MaxSessionsPerNode = DefaultMaxSessionsPerNode
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Agent && cfg.AgentSocket == "" {
		cfg.AgentSocket = os.Getenv("SSH_AUTH_SOCK")
		if cfg.AgentSocket == "" {
			return cfg, errors.New("ssh agent authentication is enabled but SSH_AUTH_SOCK is not set; start ssh-agent or set the agent socket path")
		}
	}
	if cfg.KnownHostsFile == "" {
		cfg.KnownHostsFile = "~/.ssh/known_hosts"
	}
	if cfg.KnownHostsFile == "~" || strings.HasPrefix(cfg.KnownHostsFile, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return cfg, fmt.Errorf("known_hosts file %s: %w", cfg.KnownHostsFile, err)
		}
		cfg.KnownHostsFile = filepath.Join(home, strings.TrimPrefix(cfg.KnownHostsFile, "~"))
	}
	if cfg.PrivateKey == "" && !cfg.Agent && cfg.Password == "" {
		return cfg, errors.New("no ssh authentication configured: set a private key, enable the agent, or set a password")
	}
	return cfg, nil
}

// useSudo reports whether commands marked Sudo get the sudo prefix.
func (cfg Config) useSudo() bool {
	switch cfg.Sudo {
	case SudoAlways:
		return true
	case SudoNever:
		return false
	default:
		return cfg.Username != "root"
	}
}

// parsePrivateKey parses a private key without ever echoing its content.
func parsePrivateKey(pemText string) (ssh.Signer, error) {
	signer, err := ssh.ParsePrivateKey([]byte(pemText))
	if err == nil {
		return signer, nil
	}
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, errors.New("the ssh private key is protected by a passphrase, which is not supported: load it into ssh-agent and enable agent authentication, or use a key without a passphrase")
	}
	// Errors from the parser name the format problem, not key material.
	return nil, fmt.Errorf("the ssh private key cannot be parsed (expected an unencrypted PEM or OpenSSH private key): %w", err)
}

// agentConn is a lazily opened connection to the SSH agent, shared by all
// dials and closed with the Pool.
type agentConn struct {
	socket string
	mu     sync.Mutex
	conn   net.Conn
	client agent.ExtendedAgent
}

// signers returns the agent's signers, connecting on first use.
func (a *agentConn) signers() ([]ssh.Signer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client == nil {
		conn, err := net.Dial("unix", a.socket)
		if err != nil {
			return nil, fmt.Errorf("connect to ssh agent at %s: %w", a.socket, err)
		}
		a.conn = conn
		a.client = agent.NewClient(conn)
	}
	signers, err := a.client.Signers()
	if err != nil {
		// The agent may have gone away; reconnect on the next dial.
		_ = a.conn.Close()
		a.conn, a.client = nil, nil
		return nil, fmt.Errorf("list ssh agent keys: %w", err)
	}
	return signers, nil
}

func (a *agentConn) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn != nil {
		_ = a.conn.Close()
		a.conn, a.client = nil, nil
	}
}

// authMethods returns the client's authentication methods. The SSH client
// tries each method name once, so the key and the agent's keys share one
// public key method.
func authMethods(cfg Config, key ssh.Signer, ag *agentConn) []ssh.AuthMethod {
	var methods []ssh.AuthMethod
	if key != nil || ag != nil {
		methods = append(methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			var signers []ssh.Signer
			if key != nil {
				signers = append(signers, key)
			}
			if ag != nil {
				s, err := ag.signers()
				if err != nil && key == nil {
					return nil, err
				}
				signers = append(signers, s...)
			}
			return signers, nil
		}))
	}
	if cfg.Password != "" {
		password := cfg.Password
		methods = append(methods,
			ssh.Password(password),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
				return answerPasswordPrompts(password, questions, echos)
			}),
		)
	}
	return methods
}

// answerPasswordPrompts answers a keyboard-interactive challenge with the
// password only where each hidden prompt asks for the password itself: one
// that says "password", or the challenge's only hidden prompt in another
// language ("Passwort:", "Mot de passe :"). A hidden prompt that asks for
// something else (a one-time code, a token, a PIN) refuses the whole
// challenge, so the password never reaches it; visible prompts get an
// empty answer.
func answerPasswordPrompts(password string, questions []string, echos []bool) ([]string, error) {
	answers := make([]string, len(questions))
	hidden := 0
	for i := range questions {
		if i >= len(echos) || !echos[i] {
			hidden++
		}
	}
	for i, q := range questions {
		if i < len(echos) && echos[i] {
			continue
		}
		ok, secondFactor := readPrompt(q)
		if secondFactor || (!ok && hidden > 1) {
			return nil, fmt.Errorf("the node asks %q, which is not a password prompt: the provider answers only password prompts "+
				"(use a private key or the SSH agent for nodes that ask for a second factor)", shortPrompt(q))
		}
		answers[i] = password
	}
	return answers, nil
}

// secondFactorWords are words of prompts that ask for something other than
// the account's password, even when they say "password" ("One-time password
// (OATH) for `root':", "New password:").
var secondFactorWords = map[string]bool{
	"one-time": true, "otp": true, "oath": true, "totp": true, "hotp": true, "code": true, "token": true, "pin": true,
	"passcode": true, "verification": true, "yubikey": true, "new": true, "retype": true, "again": true,
}

// readPrompt reads a hidden prompt as words: whether it asks for the
// account's password ("Password: ", "root@pve1's password: "), and whether
// it asks for a second factor or a new password. A host name such as
// "hotpot" holds no second-factor word: the user@host part is not read.
func readPrompt(q string) (password, secondFactor bool) {
	words := strings.FieldsFunc(strings.ToLower(q), func(r rune) bool {
		word := unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '@' || r == '.' || r == '\''
		return !word
	})
	for i, w := range words {
		if strings.Contains(w, "@") {
			continue
		}
		w = strings.TrimSuffix(strings.TrimRight(w, "."), "'s")
		switch {
		case w == "password" || w == "password'":
			password = true
		case secondFactorWords[w], w == "one" && i+1 < len(words) && words[i+1] == "time",
			strings.Contains(w, "code"), strings.Contains(w, "token"):
			return false, true
		}
	}
	return password, false
}

// shortPrompt is a prompt as an error may quote it: one line, bounded.
func shortPrompt(q string) string {
	q = strings.TrimSpace(strings.ReplaceAll(q, "\n", " "))
	if len(q) > 80 {
		q = q[:80] + "..."
	}
	return q
}
