package apparmor

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// KernelProfilesPath lists the profiles loaded in the kernel, one
// "NAME (MODE)" per line.
const KernelProfilesPath = "/sys/kernel/security/apparmor/profiles"

// InstallOperation names the install command in logs and errors.
const InstallOperation = "apparmor-install"

// Command is one command to run on a node, as data: the runner shell-quotes
// every element of Args and runs the result as root (or through sudo -n).
type Command struct {
	// Name identifies the operation in logs and errors.
	Name string
	// Args is the argv; Args[0] is the program.
	Args []string
}

// InstallLockPath is the lock an install holds on the node, so that two
// runs (two provider processes, or an operator's and a provider's) never
// interleave their writes and loads.
const InstallLockPath = "/run/lock/phoenix-apparmor-install.lock"

// installLockWait is how long an install waits for another one, in seconds.
const installLockWait = 120

// InstallCommands returns the commands, in order, that put the profile in
// place on a node and load it. Today that is a single idempotent command:
//
//   - it holds InstallLockPath (flock) for its whole run;
//   - each of p.Files is written only when the node's copy is missing or
//     its sha256 differs (atomically, via a staged file and rename);
//   - a file with a MinParserMajor (the AppArmor 4 local include) is
//     installed only when apparmor_parser is that version or later, and a
//     copy of it is removed from older nodes;
//   - "apparmor_parser -r" loads the profile file alone (not LXC's whole
//     policy, which an unrelated broken profile would fail) when a file
//     changed or the kernel does not list the profile in enforce mode; if
//     the load fails, the previous files are put back and the command fails;
//   - after a load the kernel must list the profile in enforce mode, else
//     the command fails;
//   - staged and backup files are removed on every exit.
//
// Its standard output is one line per action, read by ParseInstallOutput,
// the first naming the parser's version.
func (p Profile) InstallCommands() []Command {
	return []Command{p.installCommand(KernelProfilesPath, InstallLockPath)}
}

// installCommand builds the install command of p with the kernel's profile
// list and the lock file; tests point them, and p's files, at a temporary
// tree.
func (p Profile) installCommand(kernelProfiles, lock string) Command {
	args := []string{"sh", "-c", installScript, InstallOperation, kernelProfiles, p.Name, lock, strconv.Itoa(installLockWait)}
	for _, f := range p.Files {
		args = append(args,
			f.Path,
			fmt.Sprintf("%04o", f.Mode.Perm()),
			strconv.Itoa(f.MinParserMajor),
			contentSHA256(f.Content),
			base64.StdEncoding.EncodeToString(f.Content),
		)
	}
	return Command{Name: InstallOperation, Args: args}
}

// installScript is run with sh -c; $0 is the operation name and the
// arguments are: KERNEL_PROFILES NAME LOCK LOCK_WAIT, then five per file:
// PATH MODE MIN_PARSER_MAJOR SHA256 BASE64_CONTENT. The first file is the
// profile, the one loaded.
const installScript = `set -eu
umask 022
kernel_profiles=$1 name=$2 lock=$3 wait=$4
shift 4
profile=$1

backup=""
staged=""
cleanup() {
	if [ -n "$staged" ]; then rm -f -- "$staged"; fi
	if [ -n "$backup" ]; then rm -rf -- "$backup"; fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p -- "${lock%/*}"
exec 9>>"$lock"
if ! flock -w "$wait" 9; then
	echo "$0: another install holds $lock (waited ${wait}s)" >&2
	exit 6
fi

full=$(apparmor_parser --version 2>/dev/null | sed -n '1s/^.*[Vv]ersion \([0-9][0-9.]*\).*$/\1/p')
version=${full%%.*}
if [ -z "$version" ]; then
	echo "$0: apparmor_parser is missing or did not report its version" >&2
	exit 3
fi
echo "parser $full"

sum() { sha256sum "$1" | cut -d ' ' -f 1; }
# mode_of: the kernel's mode of the profile ("enforce", "complain", ...),
# empty when it is not loaded.
mode_of() {
	awk -v n="$name" '$1 == n { m = $2; gsub(/[()]/, "", m) } END { print m }' "$kernel_profiles" 2>/dev/null || true
}

backup=$(mktemp -d)
restore=""
changed=0
n=0

while [ "$#" -ge 5 ]; do
	path=$1 mode=$2 min=$3 want=$4 data=$5
	shift 5
	n=$((n + 1))
	if [ "$version" -lt "$min" ]; then
		if [ -f "$path" ] && [ "$(sum "$path")" = "$want" ]; then
			cp -p -- "$path" "$backup/$n"
			restore="$restore $n"
			eval "path_$n=\$path"
			rm -f -- "$path"
			echo "removed $path"
			changed=1
		else
			echo "skipped $path"
		fi
		continue
	fi
	if [ -f "$path" ] && [ "$(sum "$path")" = "$want" ]; then
		echo "unchanged $path"
		continue
	fi
	dir=${path%/*}
	mkdir -p -- "$dir"
	tmp=$(mktemp "$backup/new.XXXXXX")
	printf '%s' "$data" | base64 -d > "$tmp"
	if [ "$(sum "$tmp")" != "$want" ]; then
		echo "$0: content for $path does not match its sha256" >&2
		exit 4
	fi
	chmod "$mode" "$tmp"
	if [ -e "$path" ]; then
		cp -p -- "$path" "$backup/$n"
	fi
	restore="$restore $n"
	eval "path_$n=\$path"
	staged=$(mktemp "$dir/../.$name.XXXXXX")
	cp -p -- "$tmp" "$staged"
	mv -f -- "$staged" "$path"
	staged=""
	echo "installed $path"
	changed=1
done
if [ "$#" -ne 0 ]; then
	echo "$0: expected five arguments per file" >&2
	exit 2
fi

if [ "$changed" -eq 0 ] && [ "$(mode_of)" = enforce ]; then
	echo "kept $profile"
	exit 0
fi

if ! apparmor_parser -r "$profile"; then
	for i in $restore; do
		eval "p=\$path_$i"
		if [ -f "$backup/$i" ]; then
			cp -p -- "$backup/$i" "$p"
		else
			rm -f -- "$p"
		fi
		echo "restored $p"
	done
	echo "$0: apparmor_parser -r $profile failed; previous files restored" >&2
	exit 5
fi
loaded=$(mode_of)
if [ "$loaded" != enforce ]; then
	echo "$0: after apparmor_parser -r $profile the kernel lists $name in mode '${loaded:-not loaded}' ($kernel_profiles), not enforce" >&2
	exit 7
fi
echo "loaded $profile"
`

// InstallReport is what the install command did on a node.
type InstallReport struct {
	// Installed lists the files written.
	Installed []string
	// Removed lists the files deleted (the AppArmor 4 include on an
	// AppArmor 3 node).
	Removed []string
	// Unchanged lists the files already up to date.
	Unchanged []string
	// Skipped lists the files not meant for this node's parser.
	Skipped []string
	// Loaded is true when the profile was (re)loaded into the kernel.
	Loaded bool
	// ParserVersion is the node's apparmor_parser version, e.g. "3.0.8".
	ParserVersion string
}

// Changed reports whether the node's files or loaded policy changed.
func (r InstallReport) Changed() bool {
	return len(r.Installed) > 0 || len(r.Removed) > 0 || r.Loaded
}

// ParseInstallOutput reads the standard output of the install command.
func ParseInstallOutput(stdout string) (InstallReport, error) {
	var r InstallReport
	for _, line := range strings.Split(stdout, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		verb, path, ok := strings.Cut(line, " ")
		if !ok || path == "" {
			return InstallReport{}, fmt.Errorf("%s: unexpected output line %q", InstallOperation, line)
		}
		switch verb {
		case "installed":
			r.Installed = append(r.Installed, path)
		case "removed":
			r.Removed = append(r.Removed, path)
		case "skipped":
			r.Skipped = append(r.Skipped, path)
		case "loaded":
			r.Loaded = true
		case "parser":
			r.ParserVersion = path
		case "unchanged":
			r.Unchanged = append(r.Unchanged, path)
		case "kept", "restored":
			// The loaded policy was current, or a failed load was undone
			// (the command then exits non-zero).
		default:
			return InstallReport{}, fmt.Errorf("%s: unexpected output line %q", InstallOperation, line)
		}
	}
	return r, nil
}

// mountRulesFixed is the first apparmor_parser release whose bind, move and
// propagation mount rules no longer also compile into rules that allow any
// mount without flags (CVE-2016-1585).
var mountRulesFixed = [3]int{3, 0, 10}

// ParserWarning says what holds of p's mount rules on node, whose
// apparmor_parser is version: "" from 3.0.10 on (and for a version it cannot
// read), else a sentence for the apply's warning.
func (p Profile) ParserWarning(node, version string) string {
	if !parserBefore(version, mountRulesFixed) {
		return ""
	}
	return fmt.Sprintf("Node %s compiles AppArmor profiles with apparmor_parser %s, which predates 3.0.10: "+
		"its bind, move and mount-propagation rules also compile into rules that allow any mount without flags "+
		"(CVE-2016-1585), so of the mount rules of %s only the explicit \"deny mount fstype=...\" rules hold there "+
		"(a container may, for instance, mount a new procfs anywhere or mount onto /). File, capability and other rules are not affected. "+
		"Upgrade the node's apparmor package to 3.0.10 or later (Proxmox VE 9 ships AppArmor 4) to enforce them.", node, version, p.Name)
}

// parserBefore reports whether version (e.g. "3.0.8") is older than v; a
// version it cannot read is not.
func parserBefore(version string, v [3]int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	for i, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil {
			return false
		}
		if n != v[i] {
			return n < v[i]
		}
	}
	return len(parts) < 3 && v[2] > 0
}
