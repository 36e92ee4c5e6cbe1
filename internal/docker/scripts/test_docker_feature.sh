#!/usr/bin/env bash
# test_docker_feature.sh: functional tests of Docker inside an LXC container.
#
# Run inside the container with the script on stdin and the arguments after
# "--":
#
#   pct exec <vmid> -- bash -s -- --network-target 1.1.1.1 --hello-world 1 < test_docker_feature.sh
#
# Options:
#   --network-target HOST  host or IP that a container must reach by ping
#                          (default 1.1.1.1).
#   --hello-world 1|0      run the hello-world case (default 1); 0 marks it
#                          skipped.
#   --hello-world-image I  the image of the hello-world case (default
#                          hello-world): [registry[:port]/]path[:tag] or
#                          path@sha256:<64 hex>, e.g. a registry mirror's
#                          copy.
#
# Cases:
#   test_case_docker_service_is_running  systemctl is-active docker
#   test_case_docker_hello_world         docker run --rm IMAGE prints
#                                        "Hello from Docker!"
#   test_case_docker_network_access      docker run --rm busybox ping -c 1 -W 5 HOST
#
# Output: one line per case,
#
#   test_case_<name>: passed|failed|skipped duration_ms=<n> ran_at=<UTC time>
#
# with the case's wall time in milliseconds (0 for a skipped case) and the
# time it started (or was skipped) as YYYY-MM-DDTHH:MM:SSZ. A failed case is
# followed by the last lines of its output, each indented as "  | <line>".
# The last line is "N passed, N failed", with ", N skipped" appended when a
# case was skipped. Exit status 1 when any case failed, 2 on invalid
# arguments, 0 otherwise.
#
# Environment, for tests only: PHOENIX_TEST_TIMEOUT (seconds per docker run,
# default 300).

set -euo pipefail

readonly TAIL_LINES=10
TEST_TIMEOUT="${PHOENIX_TEST_TIMEOUT:-300}"

passed=0
failed=0
skipped=0
network_target=1.1.1.1
hello_world=1
hello_world_image=hello-world
network_image=busybox

# now_ms: the wall clock in milliseconds.
now_ms() {
	local t=${EPOCHREALTIME//[!0-9]/}
	if [[ -n $t ]]; then
		printf '%s' "$((10#$t / 1000))"
	else
		date +%s%3N
	fi
}

# utc_now: the current time as YYYY-MM-DDTHH:MM:SSZ.
utc_now() {
	local TZ=UTC0
	printf '%(%Y-%m-%dT%H:%M:%SZ)T' -1
}

# with_timeout COMMAND...: COMMAND bounded by TEST_TIMEOUT when timeout exists.
with_timeout() {
	if command -v timeout >/dev/null 2>&1; then
		timeout "$TEST_TIMEOUT" "$@"
	else
		"$@"
	fi
}

case_docker_service_is_running() {
	systemctl is-active docker
}

case_docker_hello_world() {
	local out rc=0
	out=$(with_timeout docker run --rm "$hello_world_image" 2>&1) || rc=$?
	printf '%s\n' "$out"
	if ((rc != 0)); then
		echo "docker run --rm $hello_world_image exited $rc"
		return 1
	fi
	if [[ $out != *"Hello from Docker!"* ]]; then
		echo "the greeting \"Hello from Docker!\" is missing from the output"
		return 1
	fi
}

case_docker_network_access() {
	with_timeout docker run --rm "$network_image" ping -c 1 -W 5 "$network_target"
}

# run_case NAME FUNCTION: run one case and report it.
run_case() {
	local name=$1 fn=$2 out rc=0 line start ran_at took
	ran_at=$(utc_now)
	start=$(now_ms)
	out=$("$fn" 2>&1) || rc=$?
	took=$(($(now_ms) - start))
	((took >= 0)) || took=0
	if ((rc == 0)); then
		printf '%s: passed duration_ms=%d ran_at=%s\n' "$name" "$took" "$ran_at"
		passed=$((passed + 1))
		return 0
	fi
	printf '%s: failed duration_ms=%d ran_at=%s\n' "$name" "$took" "$ran_at"
	failed=$((failed + 1))
	while IFS= read -r line; do
		printf '  | %s\n' "${line%$'\r'}"
	done < <(printf '%s\n' "$out" | tail -n "$TAIL_LINES")
}

skip_case() {
	printf '%s: skipped duration_ms=0 ran_at=%s\n' "$1" "$(utc_now)"
	skipped=$((skipped + 1))
}

usage_error() {
	printf 'FATAL: invalid arguments: %s\n' "$*"
	exit 2
}

main() {
	exec </dev/null 2>&1
	while (($# > 0)); do
		case $1 in
		--network-target | --hello-world | --hello-world-image | --network-image)
			(($# >= 2)) || usage_error "$1 needs a value"
			case $1 in
			--network-target) network_target=$2 ;;
			--hello-world) hello_world=$2 ;;
			--network-image) network_image=$2 ;;
			*) hello_world_image=$2 ;;
			esac
			shift 2
			;;
		*) usage_error "unknown argument: $1" ;;
		esac
	done
	case $hello_world in 0 | 1) ;; *) usage_error "--hello-world must be 1 or 0, not '$hello_world'" ;; esac
	[[ $network_target =~ ^[A-Za-z0-9:][A-Za-z0-9.:-]*$ ]] || usage_error "--network-target must be a host name or IP address, not '$network_target'"
	# The provider validates the reference fully (docker.ValidateImage); this
	# keeps anything that is not an image reference out of docker's argv.
	[[ $hello_world_image =~ ^[A-Za-z0-9][A-Za-z0-9._:/@-]*$ ]] ||
		usage_error "--hello-world-image must be an image reference, not '$hello_world_image'"
	[[ $network_image =~ ^[A-Za-z0-9][A-Za-z0-9._:/@-]*$ ]] ||
		usage_error "--network-image must be an image reference, not '$network_image'"

	run_case test_case_docker_service_is_running case_docker_service_is_running
	if ((hello_world == 1)); then
		run_case test_case_docker_hello_world case_docker_hello_world
	else
		skip_case test_case_docker_hello_world
	fi
	run_case test_case_docker_network_access case_docker_network_access

	if ((skipped > 0)); then
		printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
	else
		printf '%d passed, %d failed\n' "$passed" "$failed"
	fi
	((failed == 0))
}

main "$@"
