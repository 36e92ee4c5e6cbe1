#!/usr/bin/env bash
# phoenix_hypervisor_feature_install_docker.sh: install and configure Docker
# inside an LXC container, idempotently.
#
# Run inside the container with the script on stdin and the arguments after
# "--" (they are never spliced into the script text):
#
#   pct exec <vmid> -- bash -s -- [options] < phoenix_hypervisor_feature_install_docker.sh
#
# Options:
#   --package-source docker-ce|distro  Docker's apt repository (default) or
#                                      the distribution's docker.io.
#   --version VERSION                  optional pin of the Docker package: the
#                                      full Debian version ("5:27.3.1-1~debian.12~bookworm")
#                                      or the upstream part ("27.3.1"), which
#                                      is resolved with apt-cache madison.
#   --compose 1|0                      install the Compose v2 plugin (default 1);
#                                      0 does not remove an installed one.
#   --storage-driver overlay2|fuse-overlayfs
#   --daemon-json JSON                 the complete /etc/docker/daemon.json,
#                                      already merged with the storage driver
#                                      (one line).
#   --network-target HOST              host or IP pinged while waiting for
#                                      the container's network.
#   --fingerprint HEX                  optional: the provider's fingerprint
#                                      of the whole docker block (64 hex
#                                      digits), written to
#                                      /etc/phoenix/docker.fingerprint only
#                                      once the run succeeded.
#   --apt-key-sha256 HEX               optional: the SHA-256 of Docker's apt
#                                      key file as the provider ships it. The
#                                      key file is then right only when its
#                                      bytes have this digest, and a download
#                                      must have it too (besides the
#                                      fingerprint check below).
#
# Behaviour: when docker is active and the packages, the apt repository,
# /etc/docker/daemon.json, the marker /etc/phoenix/docker-feature.conf and
# the fingerprint file all match the request, the script changes nothing and
# exits 0. Otherwise it repairs each item that is wrong and leaves the others
# alone: it waits for the network (only when packages or the repository must
# change), restores the apt key and source list when they differ, installs
# only the packages that are missing or not at the pinned version (a pinned
# package upgraded by hand is put back with --allow-downgrades), writes
# daemon.json when its content differs, restarts docker when daemon.json
# changed or the running daemon uses another storage driver than the one
# asked for (or runs "systemctl enable --now docker" when it is not active),
# and verifies that the service is active. The result line lists what it
# installed and which items it changed.
#
# Strict mode (set -Eeuo pipefail) holds from the first line, the check
# included; every failure, planned or not, ends with a FATAL line.
#
# One run at a time: the script holds an exclusive flock(1) on
# /run/phoenix-docker.lock from the check to the end; a second run waits for
# it (PHOENIX_LOCK_TIMEOUT seconds, default 300), then fails with a FATAL line
# naming the lock.
#
# Docker's apt key: /etc/apt/keyrings/docker.asc must hold exactly one
# primary key, Docker's release key with the fingerprint
#   9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88
# This is verified on every run, also when the file is already there; a key
# file that fails the check is downloaded again, verified before it replaces
# the file and verified again in place. A downloaded key with another
# fingerprint is fatal. The fingerprints come from gpg when it is installed
# ("gpg --show-keys --with-colons": the fpr record after each pub record, with
# a throw-away home directory and no keyring). A minimal Debian or Ubuntu
# container has no gpg: apt brings only gpgv (Debian 12, Ubuntu) or sqv
# (Debian 13), and both only verify signatures, neither prints a key's
# fingerprint. Without gpg the script computes the fingerprints itself with
# coreutils (base64, od, sha1sum): the V4 fingerprint of RFC 4880 section
# 12.2, SHA-1 over 0x99, the two-octet length and the body of each public-key
# packet. A key of another version counts as a mismatch.
#
# Interrupted dpkg: before apt-get installs anything, a dpkg run that was
# interrupted (journal files in /var/lib/dpkg/updates, or packages reported by
# "dpkg --audit": unpacked, half-configured, awaiting triggers) is completed
# with "dpkg --configure -a"; apt-get would otherwise refuse with "dpkg was
# interrupted". Its failure is fatal. A package whose unpack was interrupted
# stays half-installed ("reinstreq") after that, so its install runs with
# apt-get --reinstall.
#
# Files are written through mktemp(1) files beside their destination and
# renamed into place; the download goes to a mktemp -d directory. An EXIT
# trap removes whatever is left of them.
#
# The content of daemon.json is never printed: it may hold settings that do
# not belong in logs, and the output reaches the provider's log.
#
# Output: every line starts with "phoenix-docker: [step] ", except a final
# "FATAL: ..." line on failure. On success the last line is
#   phoenix-docker: result installed_version=<dpkg version> changed=<0|1> packages=<list> items=<list>
# packages: what apt-get installed, "name=version" joined by commas (empty
# when it installed nothing); items: what the run changed, joined by commas,
# of dpkg-repair, apt-key, apt-source, packages, daemon.json, marker,
# fingerprint, service-restart, service-start (empty when nothing).
#
# Compose on the distro source: Ubuntu ships the plugin as docker-compose-v2;
# Debian ships docker-compose (Compose v2 from Debian 13; Debian 12 only has
# the Python Compose v1 under that name).
#
# Environment, for tests only: PHOENIX_ROOT (prefix of every file path,
# default ""), PHOENIX_RETRY_DELAY (seconds between retries, default 5),
# PHOENIX_NETWORK_ATTEMPTS (default 30), PHOENIX_APT_ATTEMPTS (default 3),
# PHOENIX_VERIFY_ATTEMPTS (default 5), PHOENIX_LOCK_TIMEOUT (default 300).

set -Eeuo pipefail

readonly TAG="phoenix-docker:"
ROOT="${PHOENIX_ROOT:-}"
RETRY_DELAY="${PHOENIX_RETRY_DELAY:-5}"
NETWORK_ATTEMPTS="${PHOENIX_NETWORK_ATTEMPTS:-30}"
APT_ATTEMPTS="${PHOENIX_APT_ATTEMPTS:-3}"
VERIFY_ATTEMPTS="${PHOENIX_VERIFY_ATTEMPTS:-5}"
LOCK_TIMEOUT="${PHOENIX_LOCK_TIMEOUT:-300}"

readonly KEY_PATH="/etc/apt/keyrings/docker.asc"
readonly LIST_PATH="/etc/apt/sources.list.d/docker.list"
readonly DAEMON_JSON_PATH="/etc/docker/daemon.json"
readonly MARKER_PATH="/etc/phoenix/docker-feature.conf"
readonly FINGERPRINT_PATH="/etc/phoenix/docker.fingerprint"
readonly LOCK_PATH="/run/phoenix-docker.lock"
readonly DPKG_UPDATES_DIR="/var/lib/dpkg/updates"
# Docker's release key (Docker Release (CE deb) <docker@docker.com>).
readonly DOCKER_KEY_FPR="9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
readonly DOCKER_KEY_FPR_SHOWN="9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88"

export DEBIAN_FRONTEND=noninteractive

fatal_printed=0
last_failed_command=""
# secret: a value no output line may contain (the daemon.json content).
secret=""
# workdir: the mktemp -d directory, made on first use; pending: mktemp files
# not yet renamed into place. The EXIT trap removes both.
workdir=""
pending=()
# changed_items, installed_packages: what this run changed (the result line).
changed_items=()
installed_packages=()
# key_sha256: the expected digest of the key file (--apt-key-sha256), or "".
key_sha256=""

# changed ITEM: record ITEM as changed by this run.
changed() {
	changed_items+=("$1")
}

# joined ARRAY-ELEMENTS...: the words joined by commas.
joined() {
	local IFS=,
	printf '%s' "$*"
}

# sha256_of FILE: the hex SHA-256 of FILE, or "" when it cannot be read.
sha256_of() {
	local sum
	sum=$(sha256sum -- "$1" 2>/dev/null) || return 0
	printf '%s' "${sum%% *}"
}

# redact TEXT: TEXT with the secret replaced.
redact() {
	local text=$1
	if [[ -n $secret ]]; then
		text=${text//"$secret"/"<daemon.json content>"}
	fi
	printf '%s' "$text"
}

log() {
	local step=$1
	shift
	printf '%s [%s] %s\n' "$TAG" "$step" "$(redact "$*")"
}

# result INSTALLED_VERSION CHANGED: the machine-readable last line.
result() {
	printf '%s result installed_version=%s changed=%s packages=%s items=%s\n' "$TAG" "$1" "$2" \
		"$(joined "${installed_packages[@]}")" "$(joined "${changed_items[@]}")"
}

fatal() {
	printf 'FATAL: %s\n' "$(redact "$*")"
	fatal_printed=1
	exit 1
}

on_err() {
	last_failed_command=$1
}

on_exit() {
	local rc=$?
	local f
	for f in "${pending[@]}"; do
		[[ -z $f ]] || rm -f -- "$f" || true
	done
	if [[ -n $workdir ]]; then
		rm -rf -- "$workdir" || true
	fi
	if ((rc != 0 && fatal_printed == 0)); then
		printf 'FATAL: unexpected failure (exit %d) in: %s\n' "$rc" "$(redact "${last_failed_command:-unknown command}")"
	fi
}

trap 'on_err "$BASH_COMMAND"' ERR
trap on_exit EXIT

# prefix_lines STEP: copy stdin to stdout with the progress prefix.
prefix_lines() {
	local step=$1 line
	while IFS= read -r line || [[ -n $line ]]; do
		line=${line%$'\r'}
		if [[ -n $secret ]]; then
			line=${line//"$secret"/"<daemon.json content>"}
		fi
		printf '%s [%s] %s\n' "$TAG" "$step" "$line"
	done
}

# run_logged STEP COMMAND...: run COMMAND with its output prefixed; returns
# the command's exit status. COMMAND does not inherit the lock's descriptor,
# so a daemon it leaves behind cannot keep the lock.
run_logged() {
	local step=$1
	shift
	"$@" 9>&- 2>&1 | prefix_lines "$step"
	return "${PIPESTATUS[0]}"
}

usage_error() {
	fatal "invalid arguments: $*"
}

# os_field KEY: the value of KEY in os-release, unquoted, or "".
os_field() {
	local key=$1 line value
	[[ -r "$ROOT/etc/os-release" ]] || return 0
	while IFS= read -r line || [[ -n $line ]]; do
		if [[ $line == "$key="* ]]; then
			value=${line#*=}
			value=${value#[\"\']}
			value=${value%[\"\']}
			printf '%s' "$value"
			return 0
		fi
	done <"$ROOT/etc/os-release"
}

# reinstall_required PACKAGE: whether dpkg marks PACKAGE "reinstreq", as it
# does when an unpack was interrupted (half-installed): "dpkg --configure -a"
# cannot complete that, and apt-get install only reinstalls it with
# --reinstall (without it apt reports the package as already the newest
# version and leaves it broken).
reinstall_required() {
	local out
	# shellcheck disable=SC2016 # dpkg-query expands ${...} itself.
	out=$(dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null) || return 1
	[[ $out == *" reinstreq "* ]]
}

# installed_version PACKAGE: the installed dpkg version, or "" when absent.
installed_version() {
	local out
	# shellcheck disable=SC2016 # dpkg-query expands ${...} itself.
	out=$(dpkg-query -W -f='${Status}\t${Version}\n' "$1" 2>/dev/null) || return 0
	if [[ $out == "install ok installed"$'\t'* ]]; then
		out=${out#*$'\t'}
		printf '%s' "${out%%$'\n'*}"
	fi
}

# upstream_version VERSION: VERSION without its epoch and Debian revision.
upstream_version() {
	local v=$1
	v=${v#*:}
	if [[ $v == *-* ]]; then
		v=${v%-*}
	fi
	printf '%s' "$v"
}

# version_matches INSTALLED PIN: whether the installed version satisfies the pin.
version_matches() {
	local installed=$1 pin=$2 up
	[[ -z $pin || $installed == "$pin" ]] && return 0
	up=$(upstream_version "$installed")
	[[ $up == "$pin" || $up == "$pin+"* || $up == "$pin~"* ]]
}

# resolve_pin PACKAGE PIN: the full apt version for PIN.
resolve_pin() {
	local pkg=$1 pin=$2 version
	if [[ $pin == *:* || $pin == *-* ]]; then
		printf '%s' "$pin"
		return 0
	fi
	while IFS='|' read -r _ version _; do
		version=${version//[[:space:]]/}
		[[ -n $version ]] || continue
		if version_matches "$version" "$pin"; then
			printf '%s' "$version"
			return 0
		fi
	done < <(apt-cache madison "$pkg" 2>/dev/null || true)
	return 1
}

wait_for_network() {
	local i probe=$1
	for ((i = 1; i <= NETWORK_ATTEMPTS; i++)); do
		if getent hosts "$probe" >/dev/null 2>&1 || ping -c 1 -W 2 "$network_target" >/dev/null 2>&1; then
			log network "network is up (attempt $i)"
			return 0
		fi
		log network "waiting for the network: $probe does not resolve and $network_target does not answer (attempt $i/$NETWORK_ATTEMPTS)"
		if ((i < NETWORK_ATTEMPTS)); then
			sleep "$RETRY_DELAY"
		fi
	done
	fatal "network not reachable after $NETWORK_ATTEMPTS attempts ($probe does not resolve, $network_target does not answer ping)"
}

# apt_get STEP ARGS...: apt-get with retries for transient failures.
apt_get() {
	local step=$1 i
	shift
	for ((i = 1; i <= APT_ATTEMPTS; i++)); do
		if run_logged "$step" apt-get -q -y \
			-o DPkg::Lock::Timeout=120 \
			-o Dpkg::Options::=--force-confdef \
			-o Dpkg::Options::=--force-confold \
			"$@"; then
			return 0
		fi
		log "$step" "apt-get $1 failed (attempt $i/$APT_ATTEMPTS)"
		if ((i < APT_ATTEMPTS)); then
			sleep "$RETRY_DELAY"
		fi
	done
	fatal "apt-get $* failed after $APT_ATTEMPTS attempts"
}

# file_holds FILE CONTENT: whether FILE exists and holds exactly CONTENT.
file_holds() {
	[[ -f $1 ]] && [[ "$(<"$1")" == "$2" ]]
}

# ensure_workdir: make the private temporary directory (mktemp -d) unless it
# exists. Call it outside command substitutions, so that the EXIT trap knows it.
ensure_workdir() {
	[[ -z $workdir ]] || return 0
	workdir=$(mktemp -d "${TMPDIR:-/tmp}/phoenix-docker.XXXXXXXXXX") || fatal "mktemp -d failed: cannot make a temporary directory"
}

# place_file FILE SOURCE: install the content of SOURCE as FILE (mode 0644)
# through a mktemp file in FILE's directory and a rename.
place_file() {
	local file=$1 source=$2 dir tmp
	dir=$(dirname "$file")
	mkdir -p "$dir" || fatal "cannot create the directory of ${file#"$ROOT"}"
	tmp=$(mktemp "$dir/.${file##*/}.XXXXXXXXXX") || fatal "cannot write ${file#"$ROOT"}: mktemp failed"
	pending+=("$tmp")
	cat -- "$source" >"$tmp" || fatal "cannot write ${file#"$ROOT"}"
	chmod 0644 "$tmp" || fatal "cannot write ${file#"$ROOT"}"
	mv -f -- "$tmp" "$file" || fatal "cannot write ${file#"$ROOT"}"
	pending=("${pending[@]/"$tmp"/}")
}

# write_if_changed FILE CONTENT: write CONTENT (plus a newline) unless FILE
# already holds it; returns 0 when it wrote, 1 when it did not need to. It is
# called as a condition, where errexit is off: every step checks itself.
write_if_changed() {
	local file=$1 content=$2
	if file_holds "$file" "$content"; then
		return 1
	fi
	place_file "$file" <(printf '%s\n' "$content")
	return 0
}

# running_storage_driver: the storage driver of the running daemon ("docker
# info"), "" when it cannot be read.
running_storage_driver() {
	local d
	d=$(timeout 20 docker info --format '{{.Driver}}' 2>/dev/null) || return 0
	[[ $d =~ ^[A-Za-z0-9._-]+$ ]] && printf '%s' "$d"
	return 0
}

# acquire_lock: hold the exclusive lock for the rest of the run (fd 9).
acquire_lock() {
	local lock=$ROOT$LOCK_PATH
	mkdir -p "$(dirname "$lock")" || fatal "cannot create the directory of $LOCK_PATH"
	exec 9>>"$lock" || fatal "cannot open the lock file $LOCK_PATH"
	if ! flock -x -n 9; then
		log lock "another run holds $LOCK_PATH; waiting up to $LOCK_TIMEOUT s"
		flock -x -w "$LOCK_TIMEOUT" 9 ||
			fatal "another run of this script still holds $LOCK_PATH after $LOCK_TIMEOUT s: not starting a concurrent run"
	fi
}

# openpgp_fingerprints FILE: the V4 fingerprint of every public-key packet
# (tag 6, primary keys; subkeys are tag 14) in FILE, armored or binary, one
# per line; "unsupported-vN" for another key version, "unparsable" for data
# that is not a sequence of OpenPGP packets. Coreutils only (RFC 4880 4.2,
# 5.5.2, 12.2).
openpgp_fingerprints() {
	local file=$1 line in_body=0 armored=0 b64=""
	local -a bytes
	if [[ ! -r $file ]]; then
		echo unparsable
		return 0
	fi
	while IFS= read -r line || [[ -n $line ]]; do
		line=${line%$'\r'}
		if [[ $line == "-----BEGIN PGP PUBLIC KEY BLOCK-----" ]]; then
			armored=1 in_body=0 b64=""
			continue
		fi
		((armored == 1)) || continue
		[[ $line != "-----END PGP PUBLIC KEY BLOCK-----" ]] || break
		if ((in_body == 0)); then
			[[ -n $line ]] || in_body=1
			continue
		fi
		[[ $line != =* ]] || continue
		b64+=$line
	done <"$file" 2>/dev/null || true
	if ((armored == 1)); then
		mapfile -t bytes < <(printf '%s' "$b64" | base64 -d 2>/dev/null | od -An -v -tu1 | tr -s ' ' '\n' | grep -v '^$')
	else
		mapfile -t bytes < <(od -An -v -tu1 "$file" 2>/dev/null | tr -s ' ' '\n' | grep -v '^$')
	fi
	local n=${#bytes[@]} i=0 b tag len hdr l0 fmt
	if ((n == 0)); then
		echo unparsable
		return 0
	fi
	while ((i < n)); do
		b=${bytes[i]}
		if ((b < 128)); then
			echo unparsable
			return 0
		fi
		if ((b & 64)); then
			tag=$((b & 63))
			l0=${bytes[i + 1]:-0}
			if ((l0 < 192)); then
				len=$l0 hdr=2
			elif ((l0 < 224)); then
				len=$((((l0 - 192) << 8) + ${bytes[i + 2]:-0} + 192)) hdr=3
			elif ((l0 == 255)); then
				len=$(((${bytes[i + 2]:-0} << 24) + (${bytes[i + 3]:-0} << 16) + (${bytes[i + 4]:-0} << 8) + ${bytes[i + 5]:-0})) hdr=6
			else
				echo unparsable
				return 0
			fi
		else
			tag=$(((b >> 2) & 15))
			case $((b & 3)) in
			0) len=${bytes[i + 1]:-0} hdr=2 ;;
			1) len=$(((${bytes[i + 1]:-0} << 8) + ${bytes[i + 2]:-0})) hdr=3 ;;
			2) len=$(((${bytes[i + 1]:-0} << 24) + (${bytes[i + 2]:-0} << 16) + (${bytes[i + 3]:-0} << 8) + ${bytes[i + 4]:-0})) hdr=5 ;;
			*)
				echo unparsable
				return 0
				;;
			esac
		fi
		if ((i + hdr + len > n)); then
			echo unparsable
			return 0
		fi
		if ((tag == 6)); then
			if ((bytes[i + hdr] != 4 || len > 65535)); then
				echo "unsupported-v${bytes[i + hdr]}"
			else
				fmt=$(printf '\\%03o' 153 $((len >> 8)) $((len & 255)) "${bytes[@]:i+hdr:len}")
				# shellcheck disable=SC2059 # the format is the key's octets as escapes.
				printf "$fmt" | sha1sum | { read -r line _ && printf '%s\n' "${line^^}"; }
			fi
		fi
		i=$((i + hdr + len))
	done
}

# key_fingerprints FILE: the fingerprints of FILE's primary keys, one per
# line (see the header: gpg when installed, coreutils otherwise).
key_fingerprints() {
	local file=$1 rec want=0
	local -a f
	if [[ -n $workdir ]] && command -v gpg >/dev/null 2>&1; then
		while IFS=: read -r -a f; do
			rec=${f[0]:-}
			if [[ $rec == pub ]]; then
				want=1
			elif [[ $rec == fpr ]] && ((want == 1)); then
				printf '%s\n' "${f[9]:-}"
				want=0
			elif [[ $rec != fpr ]]; then
				want=0
			fi
		done < <(gpg --homedir "$workdir" --batch --no-options --no-keyring --trust-model always \
			--with-colons --show-keys "$file" 2>/dev/null || true)
		return 0
	fi
	openpgp_fingerprints "$file"
}

# check_key FILE: set verdict to "ok" when FILE holds Docker's release key
# as its only primary key, else to what it holds instead ("no key", or the
# fingerprints). Not for command substitutions: it may make the workdir.
verdict=""
check_key() {
	local file=$1 fprs
	if [[ ! -s $file ]]; then
		verdict="no key"
		return 0
	fi
	if command -v gpg >/dev/null 2>&1; then
		ensure_workdir
	fi
	fprs=$(key_fingerprints "$file")
	if [[ $fprs == "$DOCKER_KEY_FPR" && -n $key_sha256 && $(sha256_of "$file") != "$key_sha256" ]]; then
		verdict="Docker's key, but not the expected file (SHA-256 $(sha256_of "$file"), expected $key_sha256)"
	elif [[ $fprs == "$DOCKER_KEY_FPR" ]]; then
		verdict=ok
	elif [[ -z $fprs ]]; then
		verdict="no key"
	else
		verdict=${fprs//$'\n'/, }
	fi
}

# repair_dpkg: complete an interrupted dpkg run before apt-get needs dpkg.
repair_dpkg() {
	local f journal=0 audit i
	for f in "$ROOT$DPKG_UPDATES_DIR"/*; do
		if [[ -f $f && ${f##*/} =~ ^[0-9]+$ ]]; then
			journal=1
			break
		fi
	done
	audit=$(dpkg --audit 2>&1) || fatal "dpkg --audit failed: $audit"
	if ((journal == 0)) && [[ -z $audit ]]; then
		return 0
	fi
	if ((journal == 1)); then
		log dpkg "dpkg was interrupted: $DPKG_UPDATES_DIR holds journal files"
	fi
	if [[ -n $audit ]]; then
		log dpkg "dpkg --audit reports:"
		prefix_lines dpkg <<<"$audit"
	fi
	for ((i = 1; i <= APT_ATTEMPTS; i++)); do
		log dpkg "running dpkg --configure -a (attempt $i/$APT_ATTEMPTS)"
		if run_logged dpkg dpkg --force-confdef --force-confold --configure -a; then
			changed dpkg-repair
			return 0
		fi
		if ((i < APT_ATTEMPTS)); then
			sleep "$RETRY_DELAY"
		fi
	done
	fatal "dpkg --configure -a failed after $APT_ATTEMPTS attempts: the interrupted dpkg run could not be completed"
}

# install_docker_key URL: download Docker's apt key from URL into the
# private directory, verify it, put it in place and verify it there.
install_docker_key() {
	local url=$1 key
	ensure_workdir
	key=$workdir/docker.asc
	run_logged repository curl -fsSL --retry 3 --retry-delay 2 -o "$key" "$url" ||
		fatal "cannot download Docker's apt key from $url"
	[[ -s $key ]] || fatal "Docker's apt key downloaded empty from $url"
	check_key "$key"
	[[ $verdict == ok ]] ||
		fatal "Docker's apt key from $url is not Docker's release key: expected fingerprint $DOCKER_KEY_FPR_SHOWN, got: $verdict"
	log repository "Docker's apt key from $url has the expected fingerprint $DOCKER_KEY_FPR_SHOWN"
	place_file "$ROOT$KEY_PATH" "$key"
	check_key "$ROOT$KEY_PATH"
	[[ $verdict == ok ]] ||
		fatal "$KEY_PATH is not Docker's release key after it was written: expected fingerprint $DOCKER_KEY_FPR_SHOWN, got: $verdict"
	log repository "installed Docker's apt key as $KEY_PATH"
	changed apt-key
}

# write_fingerprint FINGERPRINT: record the fingerprint of the request that
# this successful run applied (root only); nothing when none was given.
write_fingerprint() {
	local fp=$1 file=$ROOT$FINGERPRINT_PATH
	[[ -n $fp ]] || return 0
	if write_if_changed "$file" "$fp"; then
		changed fingerprint
		log verify "wrote $FINGERPRINT_PATH"
	fi
}

main() {
	# Nothing below may read the rest of the script from stdin, and stderr
	# joins stdout so the provider sees one ordered stream.
	exec </dev/null 2>&1

	local package_source=docker-ce version="" compose=1 storage_driver=overlay2
	local daemon_json="" network_target=1.1.1.1 fingerprint=""
	while (($# > 0)); do
		case $1 in
		--package-source | --version | --compose | --storage-driver | --daemon-json | --network-target | --fingerprint | --apt-key-sha256)
			(($# >= 2)) || usage_error "$1 needs a value"
			case $1 in
			--package-source) package_source=$2 ;;
			--version) version=$2 ;;
			--compose) compose=$2 ;;
			--storage-driver) storage_driver=$2 ;;
			--daemon-json) daemon_json=$2 ;;
			--network-target) network_target=$2 ;;
			--fingerprint) fingerprint=$2 ;;
			--apt-key-sha256) key_sha256=$2 ;;
			esac
			shift 2
			;;
		*) usage_error "unknown argument: $1" ;;
		esac
	done
	case $package_source in docker-ce | distro) ;; *) usage_error "--package-source must be docker-ce or distro, not '$package_source'" ;; esac
	case $compose in 0 | 1) ;; *) usage_error "--compose must be 1 or 0, not '$compose'" ;; esac
	case $storage_driver in overlay2 | fuse-overlayfs) ;; *) usage_error "--storage-driver must be overlay2 or fuse-overlayfs, not '$storage_driver'" ;; esac
	[[ $version =~ ^([A-Za-z0-9][A-Za-z0-9.+:~_-]*)?$ ]] || usage_error "--version has unexpected characters: '$version'"
	[[ $network_target =~ ^[A-Za-z0-9:][A-Za-z0-9.:-]*$ ]] || usage_error "--network-target must be a host name or IP address, not '$network_target'"
	[[ $fingerprint =~ ^([0-9a-f]{64})?$ ]] || usage_error "--fingerprint must be 64 lower-case hex digits"
	[[ $key_sha256 =~ ^([0-9a-f]{64})?$ ]] || usage_error "--apt-key-sha256 must be 64 lower-case hex digits"
	if [[ -z $daemon_json ]]; then
		daemon_json="{\"storage-driver\":\"$storage_driver\"}"
	fi
	[[ $daemon_json == "{"*"}" && $daemon_json != *$'\n'* ]] || usage_error "--daemon-json must be a one-line JSON object"
	secret=$daemon_json
	[[ $LOCK_TIMEOUT =~ ^[0-9]+$ ]] || usage_error "PHOENIX_LOCK_TIMEOUT must be a number of seconds"

	acquire_lock

	# What is asked for.
	local os_id os_like family codename
	os_id=$(os_field ID)
	os_like=$(os_field ID_LIKE)
	if [[ $os_id == ubuntu || " $os_like " == *" ubuntu "* ]]; then
		family=ubuntu
		codename=$(os_field UBUNTU_CODENAME)
		[[ -n $codename ]] || codename=$(os_field VERSION_CODENAME)
	elif [[ $os_id == debian || " $os_like " == *" debian "* ]]; then
		family=debian
		codename=$(os_field VERSION_CODENAME)
	else
		fatal "unsupported distribution '${os_id:-unknown}' (from /etc/os-release): Debian or Ubuntu expected"
	fi

	local main_pkg packages=() pinned=() probe
	if [[ $package_source == docker-ce ]]; then
		main_pkg=docker-ce
		packages=(docker-ce docker-ce-cli containerd.io)
		pinned=(docker-ce docker-ce-cli)
		((compose == 0)) || packages+=(docker-compose-plugin)
		probe=download.docker.com
	else
		main_pkg=docker.io
		packages=(docker.io)
		pinned=(docker.io)
		if ((compose == 1)); then
			if [[ $family == ubuntu ]]; then packages+=(docker-compose-v2); else packages+=(docker-compose); fi
		fi
		if [[ $family == ubuntu ]]; then probe=archive.ubuntu.com; else probe=deb.debian.org; fi
	fi
	[[ $storage_driver != fuse-overlayfs ]] || packages+=(fuse-overlayfs)

	local marker
	marker=$(printf '%s\n' \
		"# The Docker configuration applied by phoenix_hypervisor_feature_install_docker.sh." \
		"package_source=$package_source" \
		"version=$version" \
		"compose=$compose" \
		"storage_driver=$storage_driver")

	# What is there.
	local pkg have missing=() reasons=() repo_line="" repo_ok=1 key_state=""
	for pkg in "${packages[@]}"; do
		have=$(installed_version "$pkg")
		if [[ -z $have ]]; then
			missing+=("$pkg")
			reasons+=("$pkg not installed")
		elif [[ -n $version && " ${pinned[*]} " == *" $pkg "* ]] && ! version_matches "$have" "$version"; then
			missing+=("$pkg")
			reasons+=("$pkg is $have, not $version")
		fi
	done
	if [[ $package_source == docker-ce ]]; then
		[[ -n $codename ]] || fatal "no VERSION_CODENAME in /etc/os-release: cannot choose the Docker apt repository"
		repo_line="deb [arch=$(dpkg --print-architecture) signed-by=$KEY_PATH] https://download.docker.com/linux/$family $codename stable"
		check_key "$ROOT$KEY_PATH"
		key_state=$verdict
		if [[ $key_state == "no key" && ! -e "$ROOT$KEY_PATH" ]]; then
			repo_ok=0
			reasons+=("Docker apt key $KEY_PATH missing")
		elif [[ $key_state != ok ]]; then
			repo_ok=0
			reasons+=("Docker apt key $KEY_PATH is not Docker's release key $DOCKER_KEY_FPR_SHOWN (it holds: $key_state)")
		fi
		if ! file_holds "$ROOT$LIST_PATH" "$repo_line"; then
			repo_ok=0
			reasons+=("Docker apt repository $LIST_PATH not configured")
		fi
	fi
	file_holds "$ROOT$DAEMON_JSON_PATH" "$daemon_json" || reasons+=("$DAEMON_JSON_PATH differs")
	file_holds "$ROOT$MARKER_PATH" "$marker" || reasons+=("$MARKER_PATH differs")
	if [[ -n $fingerprint ]] && ! file_holds "$ROOT$FINGERPRINT_PATH" "$fingerprint"; then
		reasons+=("$FINGERPRINT_PATH differs")
	fi
	local driver_in_use=""
	if systemctl is-active --quiet docker; then
		driver_in_use=$(running_storage_driver)
		if [[ -n $driver_in_use && $driver_in_use != "$storage_driver" ]]; then
			reasons+=("docker runs with the storage driver $driver_in_use, not $storage_driver")
		else
			driver_in_use=""
		fi
	else
		reasons+=("docker service not active")
	fi

	if ((${#reasons[@]} == 0)); then
		log check "docker is active and configured as requested; nothing to do"
		result "$(installed_version "$main_pkg")" 0
		return 0
	fi
	local reason
	for reason in "${reasons[@]}"; do
		log check "change needed: $reason"
	done

	# Packages and repository.
	if ((${#missing[@]} > 0 || repo_ok == 0)); then
		wait_for_network "$probe"
		repair_dpkg
		if [[ $package_source == docker-ce ]]; then
			local prereqs=()
			for pkg in ca-certificates curl; do
				[[ -n $(installed_version "$pkg") ]] || prereqs+=("$pkg")
			done
			if ((${#prereqs[@]} > 0)); then
				apt_get prerequisites update
				apt_get prerequisites install --no-install-recommends "${prereqs[@]}"
			fi
			if ((repo_ok == 0)); then
				if [[ $key_state != ok ]]; then
					install_docker_key "https://download.docker.com/linux/$family/gpg"
				fi
				if write_if_changed "$ROOT$LIST_PATH" "$repo_line"; then
					log repository "wrote $LIST_PATH: $repo_line"
					changed apt-source
				fi
			fi
		fi
		if ((${#missing[@]} > 0)); then
			apt_get packages update
			local args=() pin
			for pkg in "${missing[@]}"; do
				if [[ -n $version && " ${pinned[*]} " == *" $pkg "* ]]; then
					pin=$(resolve_pin "$pkg" "$version") || fatal "version $version of $pkg is not available from apt (apt-cache madison $pkg)"
					args+=("$pkg=$pin")
				else
					args+=("$pkg")
				fi
			done
			local reinstall=()
			for pkg in "${missing[@]}"; do
				if reinstall_required "$pkg"; then
					log packages "$pkg is half-installed (dpkg: reinstreq): reinstalling it"
					reinstall=(--reinstall)
				fi
			done
			log packages "installing ${args[*]}"
			apt_get packages install --allow-downgrades "${reinstall[@]}" "${args[@]}"
			installed_packages=("${args[@]}")
			changed packages
		fi
	fi

	# Configuration.
	local json_changed=0
	if write_if_changed "$ROOT$DAEMON_JSON_PATH" "$daemon_json"; then
		json_changed=1
		changed daemon.json
		log config "wrote $DAEMON_JSON_PATH (${#daemon_json} bytes; its content is not shown)"
	fi
	if write_if_changed "$ROOT$MARKER_PATH" "$marker"; then
		changed marker
		log config "wrote $MARKER_PATH"
	fi

	# Service.
	local action="" rc=0
	if ((json_changed == 1 || ${#driver_in_use} > 0)) && systemctl is-active --quiet docker; then
		action="restart docker"
		changed service-restart
		run_logged service systemctl restart docker || rc=$?
		((rc != 0)) || run_logged service systemctl enable docker || rc=$?
	elif ! systemctl is-active --quiet docker; then
		action="enable --now docker"
		changed service-start
		run_logged service systemctl enable --now docker || rc=$?
	fi
	if [[ -n $action ]]; then
		log service "systemctl $action exited $rc"
	fi

	local i
	for ((i = 1; i <= VERIFY_ATTEMPTS; i++)); do
		if systemctl is-active --quiet docker; then
			log verify "docker service is active"
			write_fingerprint "$fingerprint"
			result "$(installed_version "$main_pkg")" 1
			return 0
		fi
		if ((i < VERIFY_ATTEMPTS)); then
			sleep "$RETRY_DELAY"
		fi
	done
	run_logged verify systemctl status docker --no-pager --lines=20 || true
	fatal "docker service is not active after 'systemctl $action' (exit $rc)"
}

main "$@"
