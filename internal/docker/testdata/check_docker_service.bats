#!/usr/bin/env bats
# Tests of check_docker_service.sh with stand-in commands.

load helpers

setup() {
	setup_fakes
}

@test "active service: exit 0, status line with the installed version" {
	touch "$FAKE_STATE/docker.active"
	echo "5:27.3.1-1~debian.12~bookworm" >"$FAKE_STATE/pkg/docker-ce"
	run_script check_docker_service.sh
	echo "$output"
	[ "$status" -eq 0 ]
	assert_prefixed
	[ "${lines[-1]}" = "phoenix-docker: check service_active=1 installed_version=5:27.3.1-1~debian.12~bookworm" ]
}

@test "distro package version is reported when docker-ce is absent" {
	touch "$FAKE_STATE/docker.active"
	echo "26.1.3-0ubuntu1~24.04.1" >"$FAKE_STATE/pkg/docker.io"
	run_script check_docker_service.sh
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "phoenix-docker: check service_active=1 installed_version=26.1.3-0ubuntu1~24.04.1" ]
}

@test "inactive service: non-zero exit, FATAL line, service_active=0" {
	echo "5:27.3.1-1~debian.12~bookworm" >"$FAKE_STATE/pkg/docker-ce"
	run_script check_docker_service.sh
	echo "$output"
	[ "$status" -eq 1 ]
	grep -qx 'phoenix-docker: check service_active=0 installed_version=5:27.3.1-1~debian.12~bookworm' <<<"$output"
	[ "${lines[-1]}" = "FATAL: docker service is not active (state: inactive)" ]
}

@test "docker removed: non-zero exit, empty version" {
	run_script check_docker_service.sh
	[ "$status" -eq 1 ]
	grep -qx 'phoenix-docker: check service_active=0 installed_version=' <<<"$output"
}

@test "read-only: no apt, no systemctl change" {
	touch "$FAKE_STATE/docker.active"
	run_script check_docker_service.sh
	[ "$status" -eq 0 ]
	[ ! -s "$FAKE_STATE/apt.log" ]
	[ "$(grep -cv '^is-active' "$FAKE_STATE/systemctl.log")" -eq 0 ]
}

@test "arguments are rejected" {
	run_script check_docker_service.sh --now
	[ "$status" -eq 2 ]
	grep -q '^FATAL: check_docker_service.sh takes no arguments' <<<"$output"
}
