#!/usr/bin/env bash
# check_docker_service.sh: post-deployment health check of Docker inside an
# LXC container. Read-only: it changes nothing.
#
# Run inside the container with the script on stdin:
#
#   pct exec <vmid> -- bash -s < check_docker_service.sh
#
# or as a command, as check_docker_batch.sh runs it for each container:
#
#   pct exec <vmid> -- bash -c "$(cat check_docker_service.sh)" check_docker_service.sh
#
# It takes no arguments. Exit status 0 only when the docker service is
# active; 1 otherwise, with a "FATAL: ..." line; 2 when given arguments. The
# last "phoenix-docker:" line is machine-readable, one line of key=value
# words (a value is empty when the thing is absent):
#
#   phoenix-docker: check service_active=<1|0> installed_version=<v>
#     package=<docker-ce|docker.io> containerd_version=<v> compose_version=<v>
#     storage_driver=<driver> daemon_json_sha256=<hex> apt_key_sha256=<hex>
#     apt_source_sha256=<hex> fingerprint=<hex|invalid>
#
# installed_version is the dpkg version of docker-ce, or of docker.io when
# docker-ce is not installed, and package names which. containerd_version is
# containerd.io's (or containerd's), compose_version the Compose plugin's
# (docker-compose-plugin, docker-compose-v2 or docker-compose).
# storage_driver is what the running daemon uses ("docker info"), empty when
# the service is not active. The three digests are SHA-256 of
# /etc/docker/daemon.json, /etc/apt/keyrings/docker.asc and
# /etc/apt/sources.list.d/docker.list. fingerprint is the content of
# /etc/phoenix/docker.fingerprint, which the install script writes after a
# successful run ("invalid" when the file holds anything else than 64 hex
# digits). The content of daemon.json is never printed.
#
# Environment, for tests only: PHOENIX_ROOT (prefix of every file path).

set -euo pipefail

readonly TAG="phoenix-docker:"
ROOT="${PHOENIX_ROOT:-}"

# The dpkg versions of the installed packages query_installed asked for,
# by package name.
declare -A INSTALLED=()

# query_installed PACKAGE...: fills INSTALLED for the PACKAGEs that are
# installed, in one dpkg-query run. dpkg-query prints the packages in name
# order (not the order asked) and exits 1 when a name matches no package, so
# each line is taken by the name it starts with, whatever the exit status. A
# name's first line counts.
query_installed() {
	local out name status version
	local -A seen=()
	INSTALLED=()
	# shellcheck disable=SC2016 # dpkg-query expands ${...} itself.
	out=$(dpkg-query -W -f='${Package}\t${Status}\t${Version}\n' "$@" 2>/dev/null) || true
	while IFS=$'\t' read -r name status version; do
		[[ -n $name && -z ${seen[$name]:-} ]] || continue
		seen[$name]=1
		if [[ $status == "install ok installed" ]]; then
			INSTALLED[$name]=$version
		fi
	done <<<"$out"
	return 0
}

# first_installed PACKAGE...: sets FIRST to "name version" of the first
# PACKAGE with a version in INSTALLED, "" when none has one.
first_installed() {
	local pkg
	FIRST=""
	for pkg in "$@"; do
		if [[ -n ${INSTALLED[$pkg]:-} ]]; then
			FIRST="$pkg ${INSTALLED[$pkg]}"
			return 0
		fi
	done
	return 0
}

# sha256_of FILE: the hex SHA-256 of FILE, or "" when it does not exist.
sha256_of() {
	local sum
	[[ -f $1 ]] || return 0
	sum=$(sha256sum -- "$1" 2>/dev/null) || return 0
	printf '%s' "${sum%% *}"
}

# digests FILE...: sets DIGESTS to the sha256_of each FILE, in order, from
# one sha256sum run over the files that exist. When that run does not give
# one plain line per file (a file it could not read, a name it had to
# escape), each file is read on its own.
digests() {
	local f out line
	local -a files=() sums=()
	DIGESTS=()
	for f in "$@"; do
		[[ -f $f ]] && files+=("$f")
	done
	if ((${#files[@]} > 0)); then
		out=$(sha256sum -- "${files[@]}" 2>/dev/null) || out=""
		while IFS= read -r line; do
			[[ -n $line && $line != "\\"* ]] && sums+=("${line%% *}")
		done <<<"$out"
	fi
	if ((${#sums[@]} != ${#files[@]})); then
		for f in "$@"; do
			DIGESTS+=("$(sha256_of "$f")")
		done
		return 0
	fi
	local i=0
	for f in "$@"; do
		if [[ -f $f ]]; then
			DIGESTS+=("${sums[i]}")
			i=$((i + 1))
		else
			DIGESTS+=("")
		fi
	done
	return 0
}

# fingerprint: FINGERPRINT is the recorded fingerprint, "" when there is
# none. (Functions here set variables rather than print: each command
# substitution is one more process.)
fingerprint() {
	local file=$ROOT/etc/phoenix/docker.fingerprint content
	FINGERPRINT=""
	[[ -f $file ]] || return 0
	content=$(<"$file") || content=""
	if [[ $content =~ ^[0-9a-f]{64}$ ]]; then
		FINGERPRINT=$content
	else
		FINGERPRINT=invalid
	fi
}

# storage_driver: DRIVER is the running daemon's storage driver, "" when
# unknown.
storage_driver() {
	local d
	DRIVER=""
	d=$(timeout 20 docker info --format '{{.Driver}}' 2>/dev/null) || return 0
	[[ $d =~ ^[A-Za-z0-9._-]+$ ]] && DRIVER=$d
	return 0
}

main() {
	exec </dev/null 2>&1
	if (($# > 0)); then
		printf 'FATAL: check_docker_service.sh takes no arguments, got: %s\n' "$*"
		return 2
	fi

	local package="" version="" containerd compose active=0 state="" driver=""
	query_installed docker-ce docker.io containerd.io containerd docker-compose-plugin docker-compose-v2 docker-compose
	first_installed docker-ce docker.io
	if [[ -n $FIRST ]]; then
		package=${FIRST%% *} version=${FIRST#* }
	fi
	first_installed containerd.io containerd
	containerd=$FIRST
	first_installed docker-compose-plugin docker-compose-v2 docker-compose
	compose=$FIRST

	# "systemctl is-active" prints the state and exits 0 only for an active
	# (or reloading, refreshing) unit; what it reports on stderr (no
	# systemd, say) stays in the output.
	if state=$(systemctl is-active docker); then
		active=1
		storage_driver
		driver=$DRIVER
		printf '%s [check] docker service is active (version %s)\n' "$TAG" "${version:-unknown}"
	else
		printf '%s [check] docker service is not active (state: %s)\n' "$TAG" "${state:-unknown}"
	fi
	digests "$ROOT/etc/docker/daemon.json" "$ROOT/etc/apt/keyrings/docker.asc" "$ROOT/etc/apt/sources.list.d/docker.list"
	fingerprint
	printf '%s check service_active=%s installed_version=%s package=%s containerd_version=%s compose_version=%s storage_driver=%s daemon_json_sha256=%s apt_key_sha256=%s apt_source_sha256=%s fingerprint=%s\n' \
		"$TAG" "$active" "$version" "$package" "${containerd#* }" "${compose#* }" "$driver" \
		"${DIGESTS[0]}" "${DIGESTS[1]}" "${DIGESTS[2]}" "$FINGERPRINT"
	if ((active == 1)); then
		return 0
	fi
	printf 'FATAL: docker service is not active (state: %s)\n' "${state:-unknown}"
	return 1
}

main "$@"
