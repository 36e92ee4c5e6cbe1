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

// InstallCommands returns the commands, in order, that put the profile in
// place on a node and load it. Today that is a single idempotent command:
//
//   - each of p.Files is written only when the node's copy is missing or
//     its sha256 differs (atomically, via a temporary file and rename);
//   - a file with a MinParserMajor (the AppArmor 4 local include) is
//     installed only when apparmor_parser is that version or later, and a
//     copy of it is removed from older nodes;
//   - "apparmor_parser -r /etc/apparmor.d/lxc-containers" runs when a file
//     changed or the profile is not loaded in the kernel; if it fails, the
//     previous files are put back and the command fails.
//
// Its standard output is one line per action, read by ParseInstallOutput.
func (p Profile) InstallCommands() []Command {
	return []Command{p.installCommand(KernelProfilesPath, ContainersPolicyPath)}
}

// installCommand builds the install command of p with the kernel's profile
// list and the policy file to load; tests point them, and p's files, at a
// temporary tree.
func (p Profile) installCommand(kernelProfiles, policy string) Command {
	args := []string{"sh", "-c", installScript, InstallOperation, kernelProfiles, p.Name, policy}
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
// arguments are: KERNEL_PROFILES NAME POLICY, then five per file:
// PATH MODE MIN_PARSER_MAJOR SHA256 BASE64_CONTENT.
const installScript = `set -eu
umask 022
kernel_profiles=$1 name=$2 policy=$3
shift 3

version=$(apparmor_parser --version 2>/dev/null | sed -n '1s/^.*[Vv]ersion \([0-9][0-9]*\)\..*$/\1/p')
if [ -z "$version" ]; then
	echo "$0: apparmor_parser is missing or did not report its version" >&2
	exit 3
fi

sum() { sha256sum "$1" | cut -d ' ' -f 1; }

backup=$(mktemp -d)
restore=""
trap 'rm -rf -- "$backup"' EXIT
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
	echo "installed $path"
	changed=1
done
if [ "$#" -ne 0 ]; then
	echo "$0: expected five arguments per file" >&2
	exit 2
fi

if [ "$changed" -eq 0 ] && awk -v n="$name" '$1 == n { found = 1 } END { exit !found }' "$kernel_profiles" 2>/dev/null; then
	echo "kept $policy"
	exit 0
fi

if ! apparmor_parser -r "$policy"; then
	for i in $restore; do
		eval "p=\$path_$i"
		if [ -f "$backup/$i" ]; then
			cp -p -- "$backup/$i" "$p"
		else
			rm -f -- "$p"
		fi
		echo "restored $p"
	done
	echo "$0: apparmor_parser -r $policy failed; previous files restored" >&2
	exit 5
fi
echo "loaded $policy"
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
	// Loaded is true when the policy was (re)loaded into the kernel.
	Loaded bool
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
