#!/usr/bin/env bash
# check_docker_service.sh: post-deployment health check of Docker inside an
# LXC container. Read-only: it changes nothing.
#
# Run inside the container with the script on stdin:
#
#   pct exec <vmid> -- bash -s < check_docker_service.sh
#
# It takes no arguments. Exit status 0 only when the docker service is
# active; 1 otherwise, with a "FATAL: ..." line; 2 when given arguments. The
# last "phoenix-docker:" line is machine-readable:
#
#   phoenix-docker: check service_active=<1|0> installed_version=<dpkg version or empty>
#
# installed_version is the version of docker-ce, or of docker.io when
# docker-ce is not installed.

set -euo pipefail

readonly TAG="phoenix-docker:"

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

main() {
	exec </dev/null 2>&1
	if (($# > 0)); then
		printf 'FATAL: check_docker_service.sh takes no arguments, got: %s\n' "$*"
		return 2
	fi

	local version state
	version=$(installed_version docker-ce)
	[[ -n $version ]] || version=$(installed_version docker.io)

	if systemctl is-active --quiet docker; then
		printf '%s [check] docker service is active (version %s)\n' "$TAG" "${version:-unknown}"
		printf '%s check service_active=1 installed_version=%s\n' "$TAG" "$version"
		return 0
	fi
	state=$(systemctl is-active docker 2>/dev/null) || true
	printf '%s [check] docker service is not active (state: %s)\n' "$TAG" "${state:-unknown}"
	printf '%s check service_active=0 installed_version=%s\n' "$TAG" "$version"
	printf 'FATAL: docker service is not active (state: %s)\n' "${state:-unknown}"
	return 1
}

main "$@"
