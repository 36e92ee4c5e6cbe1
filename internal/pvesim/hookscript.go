package pvesim

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// A hookscript is a volume of a directory storage's snippets directory.
// The simulator keeps each node's snippets under
// <state>/storage/<node>/<storage>/snippets; Options.Snippets puts
// executable scripts into every node's local storage.

// SnippetPath returns the file behind a snippet volume
// ("local:snippets/hook.sh") on node.
func SnippetPath(stateDir, node, volid string) string {
	sid, volname, _ := strings.Cut(volid, ":")
	return filepath.Join(stateDir, "storage", node, sid, filepath.FromSlash(volname))
}

// writeSnippets creates Options.Snippets on every node.
func writeSnippets(stateDir string, nodes, names []string) error {
	for _, node := range nodes {
		for _, name := range names {
			p := SnippetPath(stateDir, node, "local:snippets/"+name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil { //nolint:gosec // a hookscript must be executable
				return err
			}
		}
	}
	return nil
}

// Volume names of a directory storage that PVE::Storage::Plugin's
// parse_volname knows, other than snippets (their types are not snippets).
var reDirNonSnippet = regexp.MustCompile(`^(?:\d+/\S+|iso/[^/]+\.(?:iso|img)|vztmpl/[^/]+\.(?:tar|tar\.gz|tgz|tar\.xz|tar\.zst|tar\.bz2)|backup/[^/]+|import/[^/]+)$`)

// reLVMName is PVE::Storage::Plugin::parse_lvm_name's check.
var reLVMName = regexp.MustCompile(`(?i)^[a-z0-9][a-z0-9\-_.]*[a-z0-9]$`)

// checkHookscript is PVE::GuestHelpers::check_hookscript, which
// update_pct_config runs for a hookscript being set (on create and update):
// PVE::Storage::path resolves the volume on its storage (which must exist,
// and whose plugin must parse the name), the volume must be of type
// snippets, and the file must exist and be executable.
func (s *server) checkHookscript(node, volid string) error {
	sid, volname, ok := strings.Cut(volid, ":")
	if !ok || sid == "" {
		return errf("unable to parse volume ID '%s'", volid)
	}
	d, err := storageConfig(sid)
	if err != nil {
		return err
	}
	snippet := false
	switch d.typ {
	case "dir":
		switch {
		case strings.HasPrefix(volname, "snippets/") && !strings.Contains(volname[len("snippets/"):], "/") && len(volname) > len("snippets/"):
			snippet = true
		case reDirNonSnippet.MatchString(volname):
		default:
			return errf("unable to parse directory volume name '%s'", volname)
		}
	default:
		// LvmThinPlugin::parse_volname: only guest images.
		if !reLVMName.MatchString(volname) {
			return errf("lvm name '%s' contains illegal characters", volname)
		}
		if !regexp.MustCompile(`^(?:vm|base)-\d+-\S+$`).MatchString(volname) {
			return errf("unable to parse lvm volume name '%s'", volname)
		}
	}
	if !snippet {
		return errf("'%s' is not in the snippets directory", volid)
	}
	fi, err := os.Stat(SnippetPath(s.opts.StateDir, node, volid))
	if err != nil || !fi.Mode().IsRegular() {
		return errf("script '%s' does not exist", volid)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return errf("script '%s' is not executable", volid)
	}
	return nil
}
