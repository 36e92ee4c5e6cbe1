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
#
# Behaviour: when docker is active and the packages, the apt repository,
# /etc/docker/daemon.json and the marker /etc/phoenix/docker-feature.conf
# all match the request, the script changes nothing and exits 0. Otherwise it
# waits for the network (only when packages or the repository must change),
# installs what is missing, writes daemon.json when its content differs,
# restarts docker when only the configuration changed (or runs
# "systemctl enable --now docker"), and verifies that the service is active.
#
# Strict mode (set -Eeuo pipefail) holds from the first line, the check
# included; every failure, planned or not, ends with a FATAL line.
#
# Output: every line starts with "phoenix-docker: [step] ", except a final
# "FATAL: ..." line on failure. On success the last line is
#   phoenix-docker: result installed_version=<dpkg version> changed=<0|1>
#
# Compose on the distro source: Ubuntu ships the plugin as docker-compose-v2;
# Debian ships docker-compose (Compose v2 from Debian 13; Debian 12 only has
# the Python Compose v1 under that name).
#
# Environment, for tests only: PHOENIX_ROOT (prefix of every file path,
# default ""), PHOENIX_RETRY_DELAY (seconds between retries, default 5),
# PHOENIX_NETWORK_ATTEMPTS (default 30), PHOENIX_APT_ATTEMPTS (default 3),
# PHOENIX_VERIFY_ATTEMPTS (default 5).

set -Eeuo pipefail

readonly TAG="phoenix-docker:"
ROOT="${PHOENIX_ROOT:-}"
RETRY_DELAY="${PHOENIX_RETRY_DELAY:-5}"
NETWORK_ATTEMPTS="${PHOENIX_NETWORK_ATTEMPTS:-30}"
APT_ATTEMPTS="${PHOENIX_APT_ATTEMPTS:-3}"
VERIFY_ATTEMPTS="${PHOENIX_VERIFY_ATTEMPTS:-5}"

readonly KEY_PATH="/etc/apt/keyrings/docker.asc"
readonly LIST_PATH="/etc/apt/sources.list.d/docker.list"
readonly DAEMON_JSON_PATH="/etc/docker/daemon.json"
readonly MARKER_PATH="/etc/phoenix/docker-feature.conf"

export DEBIAN_FRONTEND=noninteractive

fatal_printed=0
last_failed_command=""

log() {
	local step=$1
	shift
	printf '%s [%s] %s\n' "$TAG" "$step" "$*"
}

# result KEY=VALUE...: the machine-readable last line.
result() {
	printf '%s result %s\n' "$TAG" "$*"
}

fatal() {
	printf 'FATAL: %s\n' "$*"
	fatal_printed=1
	exit 1
}

on_err() {
	last_failed_command=$1
}

on_exit() {
	local rc=$?
	if ((rc != 0 && fatal_printed == 0)); then
		printf 'FATAL: unexpected failure (exit %d) in: %s\n' "$rc" "${last_failed_command:-unknown command}"
	fi
}

trap 'on_err "$BASH_COMMAND"' ERR
trap on_exit EXIT

# prefix_lines STEP: copy stdin to stdout with the progress prefix.
prefix_lines() {
	local step=$1 line
	while IFS= read -r line || [[ -n $line ]]; do
		printf '%s [%s] %s\n' "$TAG" "$step" "${line%$'\r'}"
	done
}

# run_logged STEP COMMAND...: run COMMAND with its output prefixed; returns
# the command's exit status.
run_logged() {
	local step=$1
	shift
	"$@" 2>&1 | prefix_lines "$step"
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

# write_if_changed FILE CONTENT: write CONTENT (plus a newline) unless FILE
# already holds it; returns 0 when it wrote, 1 when it did not need to. It is
# called as a condition, where errexit is off: every step checks itself.
write_if_changed() {
	local file=$1 content=$2
	if file_holds "$file" "$content"; then
		return 1
	fi
	mkdir -p "$(dirname "$file")" || fatal "cannot create the directory of ${file#"$ROOT"}"
	printf '%s\n' "$content" >"$file.phoenix-tmp" || fatal "cannot write ${file#"$ROOT"}"
	mv -f "$file.phoenix-tmp" "$file" || fatal "cannot write ${file#"$ROOT"}"
	return 0
}

main() {
	# Nothing below may read the rest of the script from stdin, and stderr
	# joins stdout so the provider sees one ordered stream.
	exec </dev/null 2>&1

	local package_source=docker-ce version="" compose=1 storage_driver=overlay2
	local daemon_json="" network_target=1.1.1.1
	while (($# > 0)); do
		case $1 in
		--package-source | --version | --compose | --storage-driver | --daemon-json | --network-target)
			(($# >= 2)) || usage_error "$1 needs a value"
			case $1 in
			--package-source) package_source=$2 ;;
			--version) version=$2 ;;
			--compose) compose=$2 ;;
			--storage-driver) storage_driver=$2 ;;
			--daemon-json) daemon_json=$2 ;;
			--network-target) network_target=$2 ;;
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
	if [[ -z $daemon_json ]]; then
		daemon_json="{\"storage-driver\":\"$storage_driver\"}"
	fi
	[[ $daemon_json == "{"*"}" && $daemon_json != *$'\n'* ]] || usage_error "--daemon-json must be a one-line JSON object"

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
	local pkg have missing=() reasons=() repo_line="" repo_ok=1
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
		if [[ ! -s "$ROOT$KEY_PATH" ]] || ! file_holds "$ROOT$LIST_PATH" "$repo_line"; then
			repo_ok=0
			reasons+=("Docker apt repository not configured")
		fi
	fi
	file_holds "$ROOT$DAEMON_JSON_PATH" "$daemon_json" || reasons+=("$DAEMON_JSON_PATH differs")
	file_holds "$ROOT$MARKER_PATH" "$marker" || reasons+=("$MARKER_PATH differs")
	systemctl is-active --quiet docker || reasons+=("docker service not active")

	if ((${#reasons[@]} == 0)); then
		log check "docker is active and configured as requested; nothing to do"
		result "installed_version=$(installed_version "$main_pkg") changed=0"
		return 0
	fi
	local reason
	for reason in "${reasons[@]}"; do
		log check "change needed: $reason"
	done

	# Packages and repository.
	if ((${#missing[@]} > 0 || repo_ok == 0)); then
		wait_for_network "$probe"
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
				mkdir -p "$ROOT$(dirname "$KEY_PATH")" || fatal "cannot create $(dirname "$KEY_PATH")"
				run_logged repository curl -fsSL --retry 3 --retry-delay 2 \
					-o "$ROOT$KEY_PATH.phoenix-tmp" "https://download.docker.com/linux/$family/gpg" ||
					fatal "cannot download Docker's apt key from https://download.docker.com/linux/$family/gpg"
				[[ -s "$ROOT$KEY_PATH.phoenix-tmp" ]] || fatal "Docker's apt key downloaded empty"
				chmod a+r "$ROOT$KEY_PATH.phoenix-tmp"
				mv -f "$ROOT$KEY_PATH.phoenix-tmp" "$ROOT$KEY_PATH"
				write_if_changed "$ROOT$LIST_PATH" "$repo_line" || true
				log repository "added $repo_line"
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
			log packages "installing ${args[*]}"
			apt_get packages install --allow-downgrades "${args[@]}"
		fi
	fi

	# Configuration.
	local json_changed=0
	if write_if_changed "$ROOT$DAEMON_JSON_PATH" "$daemon_json"; then
		json_changed=1
		log config "wrote $DAEMON_JSON_PATH: $daemon_json"
	fi
	if write_if_changed "$ROOT$MARKER_PATH" "$marker"; then
		log config "wrote $MARKER_PATH"
	fi

	# Service.
	local action rc=0
	if ((json_changed == 1)) && systemctl is-active --quiet docker; then
		action="restart docker"
		run_logged service systemctl restart docker || rc=$?
		((rc != 0)) || run_logged service systemctl enable docker || rc=$?
	else
		action="enable --now docker"
		run_logged service systemctl enable --now docker || rc=$?
	fi
	log service "systemctl $action exited $rc"

	local i
	for ((i = 1; i <= VERIFY_ATTEMPTS; i++)); do
		if systemctl is-active --quiet docker; then
			log verify "docker service is active"
			result "installed_version=$(installed_version "$main_pkg") changed=1"
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
