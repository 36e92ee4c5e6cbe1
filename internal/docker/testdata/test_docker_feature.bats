#!/usr/bin/env bats
# Tests of test_docker_feature.sh with stand-in commands.

load helpers

# A case line's duration and start time.
readonly RUN_RE=' duration_ms=[0-9]+ ran_at=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'

# case_line LINE CASE STATUS: LINE reports CASE with STATUS, its duration
# and start time (a skipped case lasts 0 ms).
case_line() {
	if [[ $3 == skipped ]]; then
		[[ $1 =~ ^$2:\ skipped\ duration_ms=0\ ran_at=[0-9T:Z-]{20}$ ]]
	else
		[[ $1 =~ ^$2:\ $3$RUN_RE$ ]]
	fi
}

# assert_case_failed CASE LINE SUMMARY: the run exited 1, CASE failed with
# LINE in the tail it printed, and SUMMARY is the last line.
assert_case_failed() {
	[ "$status" -eq 1 ] || return 1
	grep -qE "^$1: failed$RUN_RE\$" <<<"$output" || return 1
	grep -qxF "  | $2" <<<"$output" || return 1
	[ "${lines[-1]}" = "$3" ]
}

setup() {
	setup_fakes
	touch "$FAKE_STATE/docker.active"
	echo "5:27.3.1-1~debian.12~bookworm" >"$FAKE_STATE/pkg/docker-ce"
}

@test "all cases pass" {
	run_script test_docker_feature.sh --network-target 1.1.1.1 --hello-world 1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	case_line "${lines[0]}" test_case_docker_service_is_running passed
	case_line "${lines[1]}" test_case_docker_hello_world passed
	case_line "${lines[2]}" test_case_docker_network_access passed
	[ "${lines[3]}" = "3 passed, 0 failed" ]
	grep -qx 'run --rm busybox ping -c 1 -W 5 1.1.1.1' "$FAKE_STATE/docker.log"
	grep -qx 'run --rm hello-world' "$FAKE_STATE/docker.log"
}

@test "hello_world 0: case skipped, not run" {
	run_script test_docker_feature.sh --network-target 10.0.0.1 --hello-world 0
	echo "$output"
	[ "$status" -eq 0 ]
	case_line "${lines[1]}" test_case_docker_hello_world skipped
	[ "${lines[-1]}" = "2 passed, 0 failed, 1 skipped" ]
	refute grep -q hello-world "$FAKE_STATE/docker.log"
	grep -qx 'run --rm busybox ping -c 1 -W 5 10.0.0.1' "$FAKE_STATE/docker.log"
}

@test "failing hello-world: counted, tail printed, non-zero" {
	touch "$FAKE_STATE/hello.fail"
	run_script test_docker_feature.sh --network-target 1.1.1.1 --hello-world 1
	echo "$output"
	[ "$status" -eq 1 ]
	case_line "${lines[1]}" test_case_docker_hello_world failed
	[ "${lines[2]}" = "  | Unable to find image 'hello-world:latest' locally" ]
	grep -qx '  | docker run --rm hello-world exited 125' <<<"$output"
	grep -qE "^test_case_docker_network_access: passed$RUN_RE\$" <<<"$output"
	[ "${lines[-1]}" = "2 passed, 1 failed" ]
}

@test "greeting missing although docker run succeeds: failed" {
	run_with docker 'echo "Hello from Podman"' test_docker_feature.sh --hello-world 1
	echo "$output"
	[ "$status" -eq 1 ]
	grep -qE "^test_case_docker_hello_world: failed$RUN_RE\$" <<<"$output"
	grep -q 'greeting "Hello from Docker!" is missing' <<<"$output"
}

@test "no network: network case fails, others pass" {
	touch "$FAKE_STATE/net.down"
	run_script test_docker_feature.sh --network-target 1.1.1.1 --hello-world 0
	echo "$output"
	assert_case_failed test_case_docker_network_access 'ping: sendto: Network unreachable' "1 passed, 1 failed, 1 skipped"
}

@test "service down: every case fails" {
	rm "$FAKE_STATE/docker.active"
	run_script test_docker_feature.sh
	echo "$output"
	assert_case_failed test_case_docker_service_is_running inactive "0 passed, 3 failed"
}

@test "a failing case shows at most its last 10 lines" {
	run_with docker $'seq 1 30\nexit 1' test_docker_feature.sh --hello-world 0
	echo "$output"
	[ "$(grep -c '^  | ' <<<"$output")" -eq 10 ]
	grep -qx '  | 30' <<<"$output"
	refute grep -qx '  | 20' <<<"$output"
}

@test "hello-world image from a registry mirror, or by digest" {
	run_script test_docker_feature.sh --hello-world-image mirror.lan:5000/library/hello-world:latest
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx 'run --rm mirror.lan:5000/library/hello-world:latest' "$FAKE_STATE/docker.log"
	digest=sha256:$(printf '%064d' 7)
	run_script test_docker_feature.sh --hello-world-image "hello-world@$digest"
	[ "$status" -eq 0 ]
	grep -qx "run --rm hello-world@$digest" "$FAKE_STATE/docker.log"
}

@test "network case from a registry mirror's busybox" {
	run_script test_docker_feature.sh --network-image mirror.lan:5000/library/busybox:latest
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx 'run --rm mirror.lan:5000/library/busybox:latest ping -c 1 -W 5 1.1.1.1' "$FAKE_STATE/docker.log"
	refute grep -q 'run --rm busybox ' "$FAKE_STATE/docker.log"
}

@test "a case's duration and start time are its own" {
	run_with docker $'sleep 0.3\necho "64 bytes from x"' test_docker_feature.sh --hello-world 0
	echo "$output"
	[ "$status" -eq 0 ]
	[[ ${lines[2]} =~ duration_ms=([0-9]+)\ ran_at=(.*)$ ]]
	((BASH_REMATCH[1] >= 300 && BASH_REMATCH[1] < 5000))
	before=$(date -u -d "${BASH_REMATCH[2]}" +%s)
	(($(date -u +%s) - before < 60))
	[[ ${lines[0]} =~ duration_ms=([0-9]+) ]]
	((BASH_REMATCH[1] < 300))
}

@test "invalid arguments: exit 2" {
	run_script test_docker_feature.sh --hello-world maybe
	[ "$status" -eq 2 ]
	grep -q '^FATAL: invalid arguments' <<<"$output"
	run_script test_docker_feature.sh --network-target '1.1.1.1;reboot'
	[ "$status" -eq 2 ]
	run_script test_docker_feature.sh --hello-world-image '--privileged'
	[ "$status" -eq 2 ]
	grep -q "^FATAL: invalid arguments: --hello-world-image" <<<"$output"
	run_script test_docker_feature.sh --hello-world-image 'hello-world;reboot'
	[ "$status" -eq 2 ]
	run_script test_docker_feature.sh --network-image '-v/:/host'
	[ "$status" -eq 2 ]
	grep -q "^FATAL: invalid arguments: --network-image" <<<"$output"
	[ ! -e "$FAKE_STATE/docker.log" ]
}
