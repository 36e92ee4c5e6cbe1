package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshDir is the directory of the state dir holding keys and known_hosts.
func sshDir(stateDir string) string { return filepath.Join(stateDir, "ssh") }

// loadOrCreateKey reads an OpenSSH ed25519 private key from path, creating it
// (mode 0600) when the file does not exist. Concurrent callers agree on one
// key: the file is published with a hard link, which fails when another
// caller won the race, and the loser then reads the winner's key.
func loadOrCreateKey(path, comment string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createKey(path, comment); err != nil {
			return nil, err
		}
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("parse key %s: %w", path, err)
	}
	if signer.PublicKey().Type() != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("key %s is %s, want ssh-ed25519", path, signer.PublicKey().Type())
	}
	return signer, nil
}

func createKey(path, comment string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.Write(pem.EncodeToMemory(block)); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create key %s: %w", path, err)
	}
	return nil
}

// EnsureClientKey returns the simulator's client key, <state>/ssh/id_ed25519
// (OpenSSH format, mode 0600), creating it and its .pub companion when absent.
// Pass pub in Options.AuthorizedKeys so clients using the key can log in.
func EnsureClientKey(stateDir string) (privPEMPath string, pub ssh.PublicKey, err error) {
	privPEMPath = filepath.Join(sshDir(stateDir), "id_ed25519")
	signer, err := loadOrCreateKey(privPEMPath, "phoenix-pvesim-client")
	if err != nil {
		return "", nil, err
	}
	pub = signer.PublicKey()
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " phoenix-pvesim-client\n"
	if err := writeFileAtomic(privPEMPath+".pub", []byte(line), 0o644); err != nil {
		return "", nil, err
	}
	return privPEMPath, pub, nil
}

// WriteKnownHosts writes a known_hosts file listing every server's host key
// under its address, in OpenSSH's "[127.0.0.1]:PORT ssh-ed25519 AAAA..." form.
// The file is replaced atomically.
func WriteKnownHosts(path string, servers ...*Server) error {
	var b strings.Builder
	for _, s := range servers {
		if s == nil {
			continue
		}
		b.WriteString(knownhosts.Line([]string{s.Addr()}, s.HostKey()))
		b.WriteByte('\n')
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(path, []byte(b.String()), 0o600)
}

// writeFileAtomic replaces path with data through a temporary file and a
// rename, skipping the write when the file already holds data.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer func() { _ = os.Remove(name) }()
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(name, path)
}
