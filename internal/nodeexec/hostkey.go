package nodeexec

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// UnknownHostError is returned when a node's host key is not in the
// known_hosts file and trust on first use is off. Nothing was sent to the
// node.
type UnknownHostError struct {
	Node           string // PVE node name
	Host           string // address in known_hosts form, e.g. [10.0.0.1]:2222
	KeyType        string // e.g. ssh-ed25519
	Fingerprint    string // SHA256:...
	Line           string // the known_hosts line that would trust the key
	KnownHostsFile string
}

func (e *UnknownHostError) Error() string {
	return fmt.Sprintf("ssh host key verification failed for node %q at %s: the host is not in %s.\n"+
		"It presented a %s key with fingerprint %s.\n"+
		"Check that fingerprint on the node itself (ssh-keygen -lf /etc/ssh/%s), then either:\n"+
		"  - add this line to %s:\n"+
		"    %s\n"+
		"  - or set trust_on_first_use = true in the provider's ssh block, which records the key on the first connection.",
		e.Node, e.Host, e.KnownHostsFile, e.KeyType, e.Fingerprint, hostKeyFile(e.KeyType), e.KnownHostsFile, e.Line)
}

// hostKeyFile names the sshd public key file that holds a key of type t.
func hostKeyFile(t string) string {
	switch {
	case strings.HasPrefix(t, "ecdsa-"):
		return "ssh_host_ecdsa_key.pub"
	case t == ssh.KeyAlgoRSA:
		return "ssh_host_rsa_key.pub"
	default:
		return "ssh_host_ed25519_key.pub"
	}
}

// KnownHostKey is a key recorded in a known_hosts file.
type KnownHostKey struct {
	File        string
	Line        int
	KeyType     string
	Fingerprint string
}

// HostKeyChangedError is returned when a node presents a key that differs
// from the one recorded for it, or offers none of the recorded key types.
// This is always an error, with or without trust on first use. Nothing was
// sent to the node.
type HostKeyChangedError struct {
	Node           string
	Host           string
	KeyType        string // empty when the node offered no recorded key type
	Fingerprint    string // of the presented key; empty as KeyType
	Known          []KnownHostKey
	KnownHostsFile string
}

func (e *HostKeyChangedError) Error() string {
	var known []string
	for _, k := range e.Known {
		known = append(known, fmt.Sprintf("%s %s (%s:%d)", k.KeyType, k.Fingerprint, k.File, k.Line))
	}
	presented := fmt.Sprintf("it presented a %s key with fingerprint %s", e.KeyType, e.Fingerprint)
	if e.Fingerprint == "" {
		presented = "it offers none of the key types recorded for it"
	}
	return fmt.Sprintf("ssh host key verification failed for node %q at %s: THE HOST KEY HAS CHANGED.\n"+
		"Recorded: %s; %s.\n"+
		"Someone could be intercepting the connection, or the node was reinstalled. "+
		"If the change is expected, remove the old entry (ssh-keygen -R '%s' -f %s) and trust the new key after checking its fingerprint on the node. "+
		"trust_on_first_use never accepts a changed key.",
		e.Node, e.Host, strings.Join(known, ", "), presented, e.Host, e.KnownHostsFile)
}

// knownHostsMu serializes trust-on-first-use writes within the process.
var knownHostsMu sync.Mutex

// probeKey is a throwaway key used to ask the known_hosts database which keys
// it holds for a host: checking it always fails, listing the recorded keys.
var probeKey = sync.OnceValues(func() (ssh.PublicKey, error) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return ssh.NewPublicKey(pub)
})

// hostAddr is a net.Addr for a host:port string.
type hostAddr string

func (a hostAddr) Network() string { return "tcp" }
func (a hostAddr) String() string  { return string(a) }

// hostKeys checks host keys against one known_hosts file.
type hostKeys struct {
	file string
	tofu bool
}

// load reads the known_hosts file; a missing file is an empty database
// (nil callback).
func (h hostKeys) load() (ssh.HostKeyCallback, error) {
	cb, err := knownhosts.New(h.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read known_hosts file: %w", err)
	}
	return cb, nil
}

// recorded returns the keys recorded for hostport.
func (h hostKeys) recorded(hostport string) ([]knownhosts.KnownKey, error) {
	cb, err := h.load()
	if err != nil || cb == nil {
		return nil, err
	}
	probe, err := probeKey()
	if err != nil {
		return nil, err
	}
	var ke *knownhosts.KeyError
	if err := cb(hostport, hostAddr(hostport), probe); errors.As(err, &ke) {
		return ke.Want, nil
	}
	return nil, nil
}

// algorithms returns the host key algorithms to offer for the recorded keys,
// so a node holding several key types presents the one we know, as OpenSSH
// does. Nil means the library's default list.
func algorithms(keys []knownhosts.KnownKey) []string {
	var algos []string
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			algos = append(algos, a)
		}
	}
	for _, k := range keys {
		t := k.Key.Type()
		if t == ssh.KeyAlgoRSA {
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
		}
		add(t)
	}
	return algos
}

// callback returns the host key callback for one dial to node.
func (h hostKeys) callback(node string) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := h.check(node, hostname, remote, key)
		if err == nil || !h.tofu {
			return err
		}
		var unknown *UnknownHostError
		if !errors.As(err, &unknown) {
			return err
		}
		knownHostsMu.Lock()
		defer knownHostsMu.Unlock()
		// Another connection may have recorded a key meanwhile.
		err = h.check(node, hostname, remote, key)
		if !errors.As(err, &unknown) {
			return err
		}
		return appendKnownHost(h.file, unknown.Line)
	}
}

// check verifies key for hostname against the file as it is now.
func (h hostKeys) check(node, hostname string, remote net.Addr, key ssh.PublicKey) error {
	cb, err := h.load()
	if err != nil {
		return err
	}
	err = &knownhosts.KeyError{}
	if cb != nil {
		err = cb(hostname, remote, key)
	}
	if err == nil {
		return nil
	}
	host := knownhosts.Normalize(hostname)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(err, &ke) && len(ke.Want) == 0:
		return &UnknownHostError{
			Node:           node,
			Host:           host,
			KeyType:        key.Type(),
			Fingerprint:    ssh.FingerprintSHA256(key),
			Line:           knownhosts.Line([]string{hostname}, key),
			KnownHostsFile: h.file,
		}
	case errors.As(err, &ke):
		e := &HostKeyChangedError{
			Node:           node,
			Host:           host,
			KeyType:        key.Type(),
			Fingerprint:    ssh.FingerprintSHA256(key),
			KnownHostsFile: h.file,
		}
		e.Known = knownList(ke.Want)
		return e
	case errors.As(err, &re):
		return fmt.Errorf("ssh host key verification failed for node %q at %s: its key %s is marked @revoked in %s:%d",
			node, host, ssh.FingerprintSHA256(key), re.Revoked.Filename, re.Revoked.Line)
	default:
		return fmt.Errorf("ssh host key verification failed for node %q at %s: %w", node, host, err)
	}
}

func knownList(keys []knownhosts.KnownKey) []KnownHostKey {
	out := make([]KnownHostKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, KnownHostKey{
			File:        k.Filename,
			Line:        k.Line,
			KeyType:     k.Key.Type(),
			Fingerprint: ssh.FingerprintSHA256(k.Key),
		})
	}
	return out
}

// appendKnownHost appends line to file, creating the file (0600) and its
// directory (0700) when absent.
func appendKnownHost(file, line string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("record host key: %w", err)
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("record host key: %w", err)
	}
	prefix := ""
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			prefix = "\n"
		}
	}
	_, werr := f.WriteString(prefix + line + "\n")
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("record host key in %s: %w", file, werr)
	}
	if cerr != nil {
		return fmt.Errorf("record host key in %s: %w", file, cerr)
	}
	return nil
}
