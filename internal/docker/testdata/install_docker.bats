#!/usr/bin/env bats
# Tests of phoenix_hypervisor_feature_install_docker.sh with stand-in commands.

load helpers

setup() {
	setup_fakes
}

@test "fresh docker-ce install: repository, packages, daemon.json, marker, service" {
	run_script "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	assert_prefixed
	[[ "${lines[-1]}" == "phoenix-docker: result installed_version=5:27.3.1-1~debian.12~bookworm changed=1 packages="* ]]
	grep -qx -- '-q -y -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --allow-downgrades docker-ce docker-ce-cli containerd.io docker-compose-plugin' "$FAKE_STATE/apt.log"
	grep -q 'install --no-install-recommends ca-certificates curl' "$FAKE_STATE/apt.log"
	[ "$(cat "$PHOENIX_ROOT/etc/apt/sources.list.d/docker.list")" = "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian bookworm stable" ]
	grep -q 'BEGIN PGP PUBLIC KEY BLOCK' "$PHOENIX_ROOT/etc/apt/keyrings/docker.asc"
	grep -q 'https://download.docker.com/linux/debian/gpg' "$FAKE_STATE/curl.log"
	[ "$(cat "$PHOENIX_ROOT/etc/docker/daemon.json")" = '{"storage-driver":"overlay2"}' ]
	grep -qx 'package_source=docker-ce' "$PHOENIX_ROOT/etc/phoenix/docker-feature.conf"
	grep -qx 'compose=1' "$PHOENIX_ROOT/etc/phoenix/docker-feature.conf"
	[ -f "$FAKE_STATE/docker.active" ]
	[ -f "$FAKE_STATE/docker.enabled" ]
	# The fake apt-get swallows stdin: the script survived it, so its
	# children do not read the script text.
	grep -q 'verify\] docker service is active' <<<"$output"
}

@test "second run performs zero install actions" {
	run_script "${INSTALL[@]}"
	[ "$status" -eq 0 ]
	cp "$FAKE_STATE/apt.log" "$BATS_TEST_TMPDIR/apt.before"
	cp "$FAKE_STATE/systemctl.log" "$BATS_TEST_TMPDIR/systemctl.before"
	cp "$PHOENIX_ROOT/etc/docker/daemon.json" "$BATS_TEST_TMPDIR/daemon.before"
	touch -d '2000-01-01' "$PHOENIX_ROOT/etc/docker/daemon.json"

	run_script "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/apt.before" "$FAKE_STATE/apt.log"
	[ "${lines[-1]}" = "phoenix-docker: result installed_version=5:27.3.1-1~debian.12~bookworm changed=0 packages= items=" ]
	grep -q 'nothing to do' <<<"$output"
	# Only the is-active probe reached systemctl; daemon.json untouched.
	[ "$(diff "$BATS_TEST_TMPDIR/systemctl.before" "$FAKE_STATE/systemctl.log" | grep '^>')" = "> is-active --quiet docker" ]
	[ "$(stat -c %Y "$PHOENIX_ROOT/etc/docker/daemon.json")" = "$(date -d 2000-01-01 +%s)" ]
	[ "$(wc -l <"$FAKE_STATE/docker.starts")" -eq 1 ]
}

@test "daemon_json-only change restarts docker without apt" {
	run_script "${INSTALL[@]}"
	[ "$status" -eq 0 ]
	cp "$FAKE_STATE/apt.log" "$BATS_TEST_TMPDIR/apt.before"
	: >"$FAKE_STATE/systemctl.log"

	run_script phoenix_hypervisor_feature_install_docker.sh --package-source docker-ce --compose 1 \
		--storage-driver overlay2 --daemon-json '{"log-driver":"journald","storage-driver":"overlay2"}' --network-target 1.1.1.1
	echo "$output"
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/apt.before" "$FAKE_STATE/apt.log"
	grep -qx 'restart docker' "$FAKE_STATE/systemctl.log"
	refute grep -q 'enable --now' "$FAKE_STATE/systemctl.log"
	[ "$(cat "$PHOENIX_ROOT/etc/docker/daemon.json")" = '{"log-driver":"journald","storage-driver":"overlay2"}' ]
	[ "${lines[-1]}" = "phoenix-docker: result installed_version=5:27.3.1-1~debian.12~bookworm changed=1 packages= items=daemon.json,service-restart" ]
	refute grep -q 'waiting for the network' <<<"$output"
}

@test "docker stopped: started again without apt" {
	run_script "${INSTALL[@]}"
	[ "$status" -eq 0 ]
	cp "$FAKE_STATE/apt.log" "$BATS_TEST_TMPDIR/apt.before"
	rm "$FAKE_STATE/docker.active"
	: >"$FAKE_STATE/systemctl.log"

	run_script "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/apt.before" "$FAKE_STATE/apt.log"
	grep -qx 'enable --now docker' "$FAKE_STATE/systemctl.log"
	refute grep -q restart "$FAKE_STATE/systemctl.log"
	grep -q 'change needed: docker service not active' <<<"$output"
	[ -f "$FAKE_STATE/docker.active" ]
}

@test "distro source on Debian: docker.io and docker-compose, no Docker repository" {
	run_script phoenix_hypervisor_feature_install_docker.sh --package-source distro --compose 1 \
		--storage-driver overlay2 --daemon-json '{"storage-driver":"overlay2"}' --network-target 1.1.1.1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(apt_installs)" = "-q -y -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --allow-downgrades docker.io docker-compose" ]
	[ ! -e "$PHOENIX_ROOT/etc/apt/sources.list.d/docker.list" ]
	[ ! -e "$FAKE_STATE/curl.log" ]
	[[ "${lines[-1]}" == "phoenix-docker: result installed_version=20.10.24+dfsg1-1+b3 changed=1 packages="* ]]
}

@test "distro source on Ubuntu uses docker-compose-v2; compose 0 installs no plugin" {
	os_release ubuntu noble
	run_script phoenix_hypervisor_feature_install_docker.sh --package-source distro --compose 1 --network-target 1.1.1.1
	[ "$status" -eq 0 ]
	apt_installs | grep -q 'install --allow-downgrades docker.io docker-compose-v2$'
	: >"$FAKE_STATE/apt.log"
	rm -r "$FAKE_STATE/pkg"
	mkdir "$FAKE_STATE/pkg"
	run_script phoenix_hypervisor_feature_install_docker.sh --package-source distro --compose 0 --network-target 1.1.1.1
	[ "$status" -eq 0 ]
	apt_installs | grep -q 'install --allow-downgrades docker.io$'
}

@test "docker-ce on Ubuntu uses the ubuntu repository and codename" {
	os_release ubuntu noble
	run_script "${INSTALL[@]}"
	[ "$status" -eq 0 ]
	[ "$(cat "$PHOENIX_ROOT/etc/apt/sources.list.d/docker.list")" = "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu noble stable" ]
}

@test "full version pin is passed to apt verbatim and satisfies the next run" {
	run_script "${INSTALL[@]}" --version '5:26.1.4-1~debian.12~bookworm'
	echo "$output"
	[ "$status" -eq 0 ]
	apt_installs | grep -q 'docker-ce=5:26.1.4-1~debian.12~bookworm docker-ce-cli=5:26.1.4-1~debian.12~bookworm containerd.io docker-compose-plugin$'
	cp "$FAKE_STATE/apt.log" "$BATS_TEST_TMPDIR/apt.before"
	run_script "${INSTALL[@]}" --version '5:26.1.4-1~debian.12~bookworm'
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/apt.before" "$FAKE_STATE/apt.log"
}

@test "short version pin is resolved with apt-cache madison; changing it reinstalls only the pinned packages" {
	run_script "${INSTALL[@]}"
	[ "$status" -eq 0 ]
	for p in docker-ce docker-ce-cli; do
		printf ' %s | 5:27.3.1-1~debian.12~bookworm | https://download.docker.com/linux/debian bookworm/stable amd64 Packages\n %s | 5:26.1.4-1~debian.12~bookworm | https://download.docker.com/linux/debian bookworm/stable amd64 Packages\n' "$p" "$p" >"$FAKE_STATE/madison/$p"
	done
	: >"$FAKE_STATE/apt.log"
	run_script "${INSTALL[@]}" --version 26.1.4
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(apt_installs)" = "-q -y -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --allow-downgrades docker-ce=5:26.1.4-1~debian.12~bookworm docker-ce-cli=5:26.1.4-1~debian.12~bookworm" ]
	[ "${lines[-1]}" = "phoenix-docker: result installed_version=5:26.1.4-1~debian.12~bookworm changed=1 packages=docker-ce=5:26.1.4-1~debian.12~bookworm,docker-ce-cli=5:26.1.4-1~debian.12~bookworm items=packages,marker" ]
	grep -qx 'version=26.1.4' "$PHOENIX_ROOT/etc/phoenix/docker-feature.conf"
}

@test "unavailable version pin is fatal" {
	run_script "${INSTALL[@]}" --version 1.2.3
	echo "$output"
	assert_fatal
	grep -q '^FATAL: version 1.2.3 of docker-ce is not available' <<<"$output"
}

@test "fuse-overlayfs installs its package and writes the driver" {
	run_script phoenix_hypervisor_feature_install_docker.sh --package-source docker-ce --compose 0 \
		--storage-driver fuse-overlayfs --daemon-json '{"storage-driver":"fuse-overlayfs"}' --network-target 1.1.1.1
	echo "$output"
	[ "$status" -eq 0 ]
	apt_installs | grep -q 'install --allow-downgrades docker-ce docker-ce-cli containerd.io fuse-overlayfs$'
	[ "$(cat "$PHOENIX_ROOT/etc/docker/daemon.json")" = '{"storage-driver":"fuse-overlayfs"}' ]
}

@test "permanent apt-get failure: FATAL after 3 attempts" {
	touch "$FAKE_STATE/apt.fail"
	run_script "${INSTALL[@]}"
	echo "$output"
	assert_fatal
	assert_prefixed
	[ "$(grep -c ' update$' "$FAKE_STATE/apt.log")" -eq 3 ]
	grep -q '^FATAL: apt-get update failed after 3 attempts' <<<"$output"
	grep -q 'E: Unable to locate package' <<<"$output"
	[ "${lines[-1]:0:7}" = "FATAL: " ]
}

@test "transient apt-get failure is retried and succeeds" {
	echo 2 >"$FAKE_STATE/apt.transient"
	run_script "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q 'apt-get update failed (attempt 1/3)' <<<"$output"
	grep -q 'apt-get update failed (attempt 2/3)' <<<"$output"
	[ -f "$FAKE_STATE/pkg/docker-ce" ]
	refute grep -q '^FATAL' <<<"$output"
}

@test "service that will not start: FATAL with status output" {
	touch "$FAKE_STATE/docker.fail_start"
	run_script "${INSTALL[@]}"
	echo "$output"
	assert_fatal
	assert_prefixed
	grep -q "^FATAL: docker service is not active after 'systemctl enable --now docker' (exit 1)" <<<"$output"
	grep -q 'phoenix-docker: \[verify\] .*Active: failed' <<<"$output"
	grep -q 'Job for docker.service failed' <<<"$output"
}

@test "missing network: FATAL, nothing installed" {
	touch "$FAKE_STATE/net.down"
	run_script "${INSTALL[@]}"
	echo "$output"
	assert_fatal
	grep -q '^FATAL: network not reachable after 3 attempts' <<<"$output"
	[ "$(grep -c 'waiting for the network' <<<"$output")" -eq 3 ]
	[ ! -s "$FAKE_STATE/apt.log" ]
	[ ! -e "$PHOENIX_ROOT/etc/docker/daemon.json" ]
}

@test "curl failure on the key: FATAL" {
	touch "$FAKE_STATE/curl.fail"
	run_script "${INSTALL[@]}"
	echo "$output"
	assert_fatal
	grep -q "^FATAL: cannot download Docker's apt key" <<<"$output"
	[ ! -e "$PHOENIX_ROOT/etc/apt/sources.list.d/docker.list" ]
}

@test "invalid arguments: FATAL, nothing run" {
	for args in "--package-source snap" "--compose yes" "--storage-driver btrfs" "--bogus x" "--version" "--network-target -x" "--daemon-json [1]" "--version a;b"; do
		# shellcheck disable=SC2086 # split on purpose
		run_script phoenix_hypervisor_feature_install_docker.sh $args
		echo "$args: $output"
		assert_fatal
		grep -q '^FATAL: invalid arguments' <<<"$output"
	done
	[ ! -s "$FAKE_STATE/apt.log" ]
	[ ! -s "$FAKE_STATE/systemctl.log" ]
}

@test "unsupported distribution: FATAL" {
	os_release alpine ""
	run_script "${INSTALL[@]}"
	assert_fatal
	grep -q "^FATAL: unsupported distribution 'alpine'" <<<"$output"
}

@test "daemon.json cannot be written: FATAL" {
	touch "$PHOENIX_ROOT/etc/docker"
	run_script "${INSTALL[@]}"
	echo "$output"
	assert_fatal
	[ "${lines[-1]}" = "FATAL: cannot create the directory of /etc/docker/daemon.json" ]
}

@test "an unforeseen failing command still ends with a FATAL line" {
	run_with dpkg 'exit 7' "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 7 ]
	[[ ${lines[-1]} == "FATAL: unexpected failure (exit 7) in: "*"dpkg --print-architecture"* ]]
}

@test "a pinned package upgraded by hand is put back with --allow-downgrades, nothing else is installed" {
	run_script "${INSTALL[@]}" --version '5:26.1.4-1~debian.12~bookworm'
	[ "$status" -eq 0 ]
	echo "5:27.3.1-1~debian.12~bookworm" >"$FAKE_STATE/pkg/docker-ce"
	: >"$FAKE_STATE/apt.log"
	: >"$FAKE_STATE/systemctl.log"
	run_script "${INSTALL[@]}" --version '5:26.1.4-1~debian.12~bookworm'
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q 'change needed: docker-ce is 5:27.3.1-1~debian.12~bookworm, not 5:26.1.4-1~debian.12~bookworm' <<<"$output"
	[ "$(apt_installs)" = "-q -y -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --allow-downgrades docker-ce=5:26.1.4-1~debian.12~bookworm" ]
	[ "${lines[-1]}" = "phoenix-docker: result installed_version=5:26.1.4-1~debian.12~bookworm changed=1 packages=docker-ce=5:26.1.4-1~debian.12~bookworm items=packages" ]
	refute grep -q 'restart' "$FAKE_STATE/systemctl.log"
}

@test "the fingerprint is written only after a successful run, and a changed one is rewritten alone" {
	local fp1 fp2
	fp1=$(printf 'one' | sha256sum | cut -d' ' -f1)
	fp2=$(printf 'two' | sha256sum | cut -d' ' -f1)
	touch "$FAKE_STATE/docker.fail_start"
	run_script "${INSTALL[@]}" --fingerprint "$fp1"
	assert_fatal
	[ ! -e "$PHOENIX_ROOT/etc/phoenix/docker.fingerprint" ]

	rm "$FAKE_STATE/docker.fail_start"
	run_script "${INSTALL[@]}" --fingerprint "$fp1"
	[ "$status" -eq 0 ]
	[ "$(cat "$PHOENIX_ROOT/etc/phoenix/docker.fingerprint")" = "$fp1" ]
	grep -q 'items=.*fingerprint' <<<"${lines[-1]}"

	: >"$FAKE_STATE/apt.log"
	run_script "${INSTALL[@]}" --fingerprint "$fp1"
	[ "${lines[-1]}" = "phoenix-docker: result installed_version=5:27.3.1-1~debian.12~bookworm changed=0 packages= items=" ]

	run_script "${INSTALL[@]}" --fingerprint "$fp2"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$PHOENIX_ROOT/etc/phoenix/docker.fingerprint")" = "$fp2" ]
	[ "${lines[-1]}" = "phoenix-docker: result installed_version=5:27.3.1-1~debian.12~bookworm changed=1 packages= items=fingerprint" ]
	[ ! -s "$FAKE_STATE/apt.log" ]
}

@test "a tampered source list is restored without installing packages" {
	run_script "${INSTALL[@]}"
	[ "$status" -eq 0 ]
	echo "deb [trusted=yes] http://mirror.example/docker bookworm stable" >"$PHOENIX_ROOT/etc/apt/sources.list.d/docker.list"
	: >"$FAKE_STATE/apt.log"
	run_script "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$PHOENIX_ROOT/etc/apt/sources.list.d/docker.list")" = "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian bookworm stable" ]
	[ "${lines[-1]}" = "phoenix-docker: result installed_version=5:27.3.1-1~debian.12~bookworm changed=1 packages= items=apt-source" ]
	[ -z "$(apt_installs)" ]
}

@test "malformed --fingerprint and --apt-key-sha256 are refused" {
	run_script "${INSTALL[@]}" --fingerprint ABC
	assert_fatal
	grep -q -- '--fingerprint must be 64 lower-case hex digits' <<<"$output"
	run_script "${INSTALL[@]}" --apt-key-sha256 "$(printf '%064d' 0)x"
	assert_fatal
	grep -q -- '--apt-key-sha256 must be 64 lower-case hex digits' <<<"$output"
}
