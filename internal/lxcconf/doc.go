// Package lxcconf reads and edits Proxmox VE container configuration files
// (/etc/pve/lxc/<vmid>.conf) without losing a byte.
//
// # File format
//
// A PVE container config is a list of lines split on '\n'. It starts with the
// main section (the current configuration); each line "[name]" starts a new
// section: "[pve:pending]" holds pending changes and any other name is a
// snapshot. Inside a section PVE recognizes, in this order:
//
//   - blank lines (only whitespace), which it skips;
//   - comment lines starting with '#': every one of them is a line of the
//     section's description, percent-encoded with PVE::Tools::encode_text;
//   - raw LXC keys "lxc.xxx: value" (PVE also reads "lxc.xxx = value"),
//     which may repeat and keep their order;
//   - "description: text", an older spelling of the description;
//   - "key: value" with key matching [a-z][a-z_]*[0-9]* (net0, mp1, unused0,
//     snaptime, parent...). When a key repeats, the last line wins. PVE
//     reads "delete: ..." only in the pending section.
//
// Everything else is a line PVE warns about and ignores; this package keeps it
// as it is. The regular expressions are those of parse_pct_config in
// pve-container's PVE::LXC::Config, so Get, LXC and Description report what
// PVE itself would read.
//
// # Round trips and edits
//
// Parse keeps every line with its exact bytes (including trailing whitespace,
// "\r" and a missing final newline), so Bytes of an unmodified Config returns
// the input byte for byte. Edits touch only the lines they are about: Set
// rewrites one line in place or inserts one, Delete removes lines, and the
// rest of the file, other sections included, is left as it was. An edit that
// does not change a value leaves the line alone even if its spacing differs
// from what PVE would write.
//
// Set and AddLXC panic on a key or value that would not read back
// unchanged (a programming error, like an invalid regexp); Section.Check
// reports the same condition as an error for values that come from users.
//
// # Known differences from PVE
//
//   - LXC returns every syntactically valid "lxc.*" line; PVE additionally
//     drops, with a warning, keys its is_valid_lxc_conf_key rejects.
//   - PVE removes "snapstate" from the main section after parsing; Get
//     still reports such a line.
//   - On malformed UTF-8 inside a percent-encoded description, DecodeText
//     follows Perl's common replacement rules but not every quirk of Perl's
//     Encode module (see DecodeText).
//
// The package does no I/O; callers read and write the file (holding PVE's
// config lock) and may use Digest to compute the digest PVE reports.
package lxcconf
