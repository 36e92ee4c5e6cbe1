// Package nodeexec runs commands on Proxmox VE nodes over SSH.
//
// A Pool keeps one SSH connection per node for the whole run and multiplexes
// sessions over it, with a bounded number of sessions per node. Host keys are
// checked against an OpenSSH known_hosts file: an unknown host is refused
// (unless trust on first use is enabled, which records the key), and a
// changed key is always refused.
//
// Commands are data. Each operation has one builder function that returns a
// Command holding an argument vector; the vector is shell-quoted only at the
// last moment, when the Pool sends it to the node, whose login shell must be
// POSIX compatible (bash or dash; csh and fish are not supported). Secrets
// never belong in the argument vector, which appears in logs and errors: pass
// them on standard input.
//
// NUL bytes cannot travel through an argument vector. Quote and Join return
// ErrNUL for such strings, and Pool.Run refuses a Command whose arguments
// contain one before it opens any connection. Standard input may hold any
// bytes.
package nodeexec
