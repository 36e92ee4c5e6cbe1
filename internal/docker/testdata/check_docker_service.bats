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
	[ "${lines[-1]}" = "phoenix-docker: check service_active=1 installed_version=5:27.3.1-1~debian.12~bookworm package=docker-ce containerd_version= compose_version= storage_driver=overlay2 daemon_json_sha256= apt_key_sha256= apt_source_sha256= fingerprint=" ]
}

@test "distro package version is reported when docker-ce is absent" {
	touch "$FAKE_STATE/docker.active"
	echo "26.1.3-0ubuntu1~24.04.1" >"$FAKE_STATE/pkg/docker.io"
	run_script check_docker_service.sh
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "phoenix-docker: check service_active=1 installed_version=26.1.3-0ubuntu1~24.04.1 package=docker.io containerd_version= compose_version= storage_driver=overlay2 daemon_json_sha256= apt_key_sha256= apt_source_sha256= fingerprint=" ]
}

@test "inactive service: non-zero exit, FATAL line, service_active=0" {
	echo "5:27.3.1-1~debian.12~bookworm" >"$FAKE_STATE/pkg/docker-ce"
	run_script check_docker_service.sh
	echo "$output"
	[ "$status" -eq 1 ]
	grep -qx 'phoenix-docker: check service_active=0 installed_version=5:27.3.1-1~debian.12~bookworm package=docker-ce containerd_version= compose_version= storage_driver= daemon_json_sha256= apt_key_sha256= apt_source_sha256= fingerprint=' <<<"$output"
	[ "${lines[-1]}" = "FATAL: docker service is not active (state: inactive)" ]
}

@test "docker removed: non-zero exit, empty version" {
	run_script check_docker_service.sh
	[ "$status" -eq 1 ]
	grep -qx 'phoenix-docker: check service_active=0 installed_version= package= containerd_version= compose_version= storage_driver= daemon_json_sha256= apt_key_sha256= apt_source_sha256= fingerprint=' <<<"$output"
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

@test "after an install: versions, driver in use, digests of the files and the fingerprint" {
	local fp
	fp=$(printf 'plan' | sha256sum | cut -d' ' -f1)
	run_script "${INSTALL[@]}" --fingerprint "$fp"
	[ "$status" -eq 0 ]
	echo "1.7.28-1" >"$FAKE_STATE/pkg/containerd.io"
	echo "2.40.3-1" >"$FAKE_STATE/pkg/docker-compose-plugin"
	run_script check_docker_service.sh
	echo "$output"
	[ "$status" -eq 0 ]
	assert_prefixed
	local json key list
	json=$(sha256sum "$PHOENIX_ROOT/etc/docker/daemon.json" | cut -d' ' -f1)
	key=$(sha256sum "$PHOENIX_ROOT/etc/apt/keyrings/docker.asc" | cut -d' ' -f1)
	list=$(sha256sum "$PHOENIX_ROOT/etc/apt/sources.list.d/docker.list" | cut -d' ' -f1)
	[ "$json" = "$(printf '%s\n' '{"storage-driver":"overlay2"}' | sha256sum | cut -d' ' -f1)" ]
	[ "${lines[-1]}" = "phoenix-docker: check service_active=1 installed_version=5:27.3.1-1~debian.12~bookworm package=docker-ce containerd_version=1.7.28-1 compose_version=2.40.3-1 storage_driver=overlay2 daemon_json_sha256=$json apt_key_sha256=$key apt_source_sha256=$list fingerprint=$fp" ]
	refute grep -q 'storage-driver' <<<"$output"
}

@test "a fingerprint file that is not 64 hex digits is reported invalid" {
	touch "$FAKE_STATE/docker.active"
	mkdir -p "$PHOENIX_ROOT/etc/phoenix"
	printf 'edited by hand\n' >"$PHOENIX_ROOT/etc/phoenix/docker.fingerprint"
	run_script check_docker_service.sh
	[ "$status" -eq 0 ]
	[[ "${lines[-1]}" == *" fingerprint=invalid" ]]
}

@test "one dpkg-query run for all packages, each picked by its name" {
	touch "$FAKE_STATE/docker.active"
	echo "26.1.3-0ubuntu1~24.04.1" >"$FAKE_STATE/pkg/docker.io"
	echo "1.7.28-1" >"$FAKE_STATE/pkg/containerd.io"
	echo "2.33.0+ds1-0ubuntu1~24.04.1" >"$FAKE_STATE/pkg/docker-compose-v2"
	run_script check_docker_service.sh
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "phoenix-docker: check service_active=1 installed_version=26.1.3-0ubuntu1~24.04.1 package=docker.io containerd_version=1.7.28-1 compose_version=2.33.0+ds1-0ubuntu1~24.04.1 storage_driver=overlay2 daemon_json_sha256= apt_key_sha256= apt_source_sha256= fingerprint=" ]
	[ "$(wc -l <"$FAKE_STATE/dpkg-query.log")" -eq 1 ]
	grep -qxF -- '-W -f=${Package}\t${Status}\t${Version}\n docker-ce docker.io containerd.io containerd docker-compose-plugin docker-compose-v2 docker-compose' "$FAKE_STATE/dpkg-query.log"
}

@test "dpkg-query lines in any order, a package not fully installed, exit 1: versions by name" {
	touch "$FAKE_STATE/docker.active"
	local body
	body=$(printf '%s\n' \
		"printf 'docker-compose-plugin\tinstall ok installed\t2.40.3-1\n'" \
		"printf 'docker-ce\tinstall ok unpacked\t5:29.1.3-1~debian.12~bookworm\n'" \
		"printf 'docker.io\tinstall ok installed\t20.10.24+dfsg1-1+deb12u1\n'" \
		"printf 'containerd.io\tinstall ok installed\t2.2.1-1\n'" \
		"echo 'dpkg-query: no packages found matching containerd' >&2" \
		"exit 1")
	run_with dpkg-query "$body" check_docker_service.sh
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "phoenix-docker: check service_active=1 installed_version=20.10.24+dfsg1-1+deb12u1 package=docker.io containerd_version=2.2.1-1 compose_version=2.40.3-1 storage_driver=overlay2 daemon_json_sha256= apt_key_sha256= apt_source_sha256= fingerprint=" ]
}

@test "digests from one sha256sum run, each file on its own when that run falls short" {
	touch "$FAKE_STATE/docker.active"
	mkdir -p "$PHOENIX_ROOT/etc/docker" "$PHOENIX_ROOT/etc/apt/sources.list.d"
	printf '{}\n' >"$PHOENIX_ROOT/etc/docker/daemon.json"
	printf 'deb x y z\n' >"$PHOENIX_ROOT/etc/apt/sources.list.d/docker.list"
	local json list want
	json=$(printf '{}\n' | sha256sum | cut -d' ' -f1)
	list=$(printf 'deb x y z\n' | sha256sum | cut -d' ' -f1)
	want="daemon_json_sha256=$json apt_key_sha256= apt_source_sha256=$list fingerprint="
	local real log=$FAKE_STATE/sha256sum.log
	real=$(command -v sha256sum)
	run_with sha256sum "echo \"\$*\" >>$log; exec $real \"\$@\"" check_docker_service.sh
	[ "$status" -eq 0 ]
	[[ "${lines[-1]}" == *" $want" ]]
	[ "$(cat "$log")" = "-- $PHOENIX_ROOT/etc/docker/daemon.json $PHOENIX_ROOT/etc/apt/sources.list.d/docker.list" ]
	# A sha256sum that answers only for the first of several files.
	: >"$log"
	run_with sha256sum "echo \"\$*\" >>$log; if [ \$# -gt 2 ]; then exec $real -- \"\$2\"; fi; exec $real \"\$@\"" check_docker_service.sh
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[-1]}" == *" $want" ]]
	[ "$(wc -l <"$log")" -eq 3 ]
}
