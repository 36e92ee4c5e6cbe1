#!/usr/bin/env bats
# Tests of the safeguards of phoenix_hypervisor_feature_install_docker.sh:
# the fingerprint of Docker's apt key (with gpg and without), the lock
# against concurrent runs, the repair of an interrupted dpkg, mktemp files
# and the daemon.json content kept out of the output.

load helpers

readonly DOCKER_FPR_SHOWN="9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88"
readonly KEY="etc/apt/keyrings/docker.asc"

setup() {
	setup_fakes
	export TMPDIR="$BATS_TEST_TMPDIR/tmp"
	mkdir -p "$TMPDIR"
}

# with_real_gpg: put a logging wrapper of the real gpg first on PATH.
with_real_gpg() {
	local real
	real=$(command -v gpg) || skip "gpg not installed: the gpg path is not tested"
	mkdir -p "$BATS_TEST_TMPDIR/gpgbin"
	printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s/gpg.log"\nexec %s "$@"\n' "$FAKE_STATE" "$real" >"$BATS_TEST_TMPDIR/gpgbin/gpg"
	chmod +x "$BATS_TEST_TMPDIR/gpgbin/gpg"
	PATH="$BATS_TEST_TMPDIR/gpgbin:$PATH"
}

# without_gpg: a PATH of the stand-ins and the system's commands minus gpg,
# the way a minimal container has it.
without_gpg() {
	local d="$BATS_TEST_TMPDIR/nogpg" p
	mkdir -p "$d"
	for p in /usr/bin /bin; do
		[[ -d $p && ! -L $p ]] || continue
		cp -s "$p"/* "$d"/ 2>/dev/null || true
	done
	rm -f "$d"/gpg "$d"/gpg2
	PATH="$BATS_TEST_DIRNAME/fakebin:$d"
	refute command -v gpg
}

# assert_no_temp_files: nothing left by mktemp, in TMPDIR or beside a target.
assert_no_temp_files() {
	local left
	left=$(find "$TMPDIR" "$PHOENIX_ROOT" -mindepth 1 \( -name 'phoenix-docker.??????????' -o -name '.*.??????????' -o -name '*.phoenix-tmp' \) -print)
	[ -z "$left" ] || {
		echo "temporary files left behind:"
		echo "$left"
		return 1
	}
}

@test "fresh install with gpg: the downloaded key is verified by its fingerprint" {
	with_real_gpg
	run_script "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	assert_prefixed
	grep -q "has the expected fingerprint $DOCKER_FPR_SHOWN" <<<"$output"
	grep -q -- '--show-keys' "$FAKE_STATE/gpg.log"
	grep -q -- '--with-colons' "$FAKE_STATE/gpg.log"
	cmp "$BATS_TEST_DIRNAME/../keys/docker-release-key.asc" "$PHOENIX_ROOT/$KEY"
	[ "$(stat -c %a "$PHOENIX_ROOT/$KEY")" = 644 ]
	assert_no_temp_files
}

@test "fresh install without gpg: the fingerprint is computed with coreutils" {
	without_gpg
	run_script "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q "has the expected fingerprint $DOCKER_FPR_SHOWN" <<<"$output"
	cmp "$BATS_TEST_DIRNAME/../keys/docker-release-key.asc" "$PHOENIX_ROOT/$KEY"
	assert_no_temp_files
}

@test "the key is checked again on every run: a good key is kept, nothing downloaded" {
	run_script "${INSTALL[@]}"
	[ "$status" -eq 0 ]
	: >"$FAKE_STATE/curl.log"
	with_real_gpg
	run_script "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[-1]}" == "phoenix-docker: result installed_version=5:27.3.1-1~debian.12~bookworm changed=0 packages="* ]]
	[ ! -s "$FAKE_STATE/curl.log" ]
	grep -q -- "--show-keys.*$PHOENIX_ROOT/$KEY" "$FAKE_STATE/gpg.log"
	assert_no_temp_files
}

@test "a replaced key file is detected and replaced by Docker's key (gpg and coreutils)" {
	local mode
	for mode in with_real_gpg without_gpg; do
		(
			"$mode"
			run_script "${INSTALL[@]}"
			[ "$status" -eq 0 ]
			cp "$BATS_TEST_DIRNAME/other-release-key.asc" "$PHOENIX_ROOT/$KEY"
			: >"$FAKE_STATE/curl.log"
			run_script "${INSTALL[@]}"
			echo "$mode: $output"
			[ "$status" -eq 0 ]
			grep -q "change needed: Docker apt key /$KEY is not Docker's release key $DOCKER_FPR_SHOWN (it holds: 4D64FEC119C2029067D6E791F8D2585B8783D481)" <<<"$output"
			grep -q 'https://download.docker.com/linux/debian/gpg' "$FAKE_STATE/curl.log"
			cmp "$BATS_TEST_DIRNAME/../keys/docker-release-key.asc" "$PHOENIX_ROOT/$KEY"
			[[ "${lines[-1]}" == "phoenix-docker: result installed_version=5:27.3.1-1~debian.12~bookworm changed=1 packages="* ]]
		)
	done
}

@test "a key file holding Docker's key and another primary key is replaced" {
	run_script "${INSTALL[@]}"
	[ "$status" -eq 0 ]
	cat "$BATS_TEST_DIRNAME/other-release-key.asc" >>"$PHOENIX_ROOT/$KEY"
	run_script "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q "it holds: 9DC858229FC7DD38854AE2D88D81803C0EBFCD88, 4D64FEC119C2029067D6E791F8D2585B8783D481" <<<"$output" ||
		grep -q "it holds: 4D64FEC119C2029067D6E791F8D2585B8783D481, 9DC858229FC7DD38854AE2D88D81803C0EBFCD88" <<<"$output" ||
		grep -q "it holds: 9DC858229FC7DD38854AE2D88D81803C0EBFCD88" <<<"$output"
	cmp "$BATS_TEST_DIRNAME/../keys/docker-release-key.asc" "$PHOENIX_ROOT/$KEY"
}

@test "a garbage or empty key file is replaced" {
	run_script "${INSTALL[@]}"
	[ "$status" -eq 0 ]
	echo "<html>captive portal</html>" >"$PHOENIX_ROOT/$KEY"
	run_script "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q "change needed: Docker apt key /$KEY is not Docker's release key" <<<"$output"
	cmp "$BATS_TEST_DIRNAME/../keys/docker-release-key.asc" "$PHOENIX_ROOT/$KEY"
	: >"$PHOENIX_ROOT/$KEY"
	run_script "${INSTALL[@]}"
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_DIRNAME/../keys/docker-release-key.asc" "$PHOENIX_ROOT/$KEY"
}

@test "a downloaded key with another fingerprint is FATAL and installs nothing (gpg and coreutils)" {
	local mode
	touch "$FAKE_STATE/curl.wrong_key"
	for mode in with_real_gpg without_gpg; do
		(
			"$mode"
			run_script "${INSTALL[@]}"
			echo "$mode: $output"
			assert_fatal
			[ "${lines[-1]}" = "FATAL: Docker's apt key from https://download.docker.com/linux/debian/gpg is not Docker's release key: expected fingerprint $DOCKER_FPR_SHOWN, got: 4D64FEC119C2029067D6E791F8D2585B8783D481" ]
			[ ! -e "$PHOENIX_ROOT/$KEY" ]
			[ ! -e "$PHOENIX_ROOT/etc/apt/sources.list.d/docker.list" ]
			[ ! -e "$FAKE_STATE/pkg/docker-ce" ]
			assert_no_temp_files
		)
	done
}

@test "a wrong downloaded key does not replace an existing key file" {
	run_script "${INSTALL[@]}"
	[ "$status" -eq 0 ]
	echo tampered >"$PHOENIX_ROOT/$KEY"
	touch "$FAKE_STATE/curl.wrong_key"
	run_script "${INSTALL[@]}"
	echo "$output"
	assert_fatal
	grep -q "^FATAL: Docker's apt key from .* expected fingerprint $DOCKER_FPR_SHOWN" <<<"$output"
	[ "$(cat "$PHOENIX_ROOT/$KEY")" = tampered ]
}

@test "a second run waits for the lock and fails clearly when it is not released" {
	mkdir -p "$PHOENIX_ROOT/run"
	flock "$PHOENIX_ROOT/run/phoenix-docker.lock" sleep 30 &
	local holder=$!
	sleep 0.5
	PHOENIX_LOCK_TIMEOUT=1 run_script "${INSTALL[@]}"
	kill "$holder" || true
	wait "$holder" || true
	echo "$output"
	assert_fatal
	grep -q 'lock\] another run holds /run/phoenix-docker.lock; waiting up to 1 s' <<<"$output"
	[ "${lines[-1]}" = "FATAL: another run of this script still holds /run/phoenix-docker.lock after 1 s: not starting a concurrent run" ]
	[ ! -s "$FAKE_STATE/apt.log" ]
	[ ! -s "$FAKE_STATE/systemctl.log" ]
	[ ! -e "$PHOENIX_ROOT/etc/docker/daemon.json" ]
}

@test "a second run proceeds once the first releases the lock" {
	mkdir -p "$PHOENIX_ROOT/run"
	flock "$PHOENIX_ROOT/run/phoenix-docker.lock" sleep 2 &
	local holder=$!
	sleep 0.5
	PHOENIX_LOCK_TIMEOUT=20 run_script "${INSTALL[@]}"
	wait "$holder" || true
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q 'waiting up to 20 s' <<<"$output"
	[[ "${lines[-1]}" == "phoenix-docker: result installed_version=5:27.3.1-1~debian.12~bookworm changed=1 packages="* ]]
}

@test "the lock is held for the whole run and released at its end" {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	# A systemctl that reports whether the lock is free while the script runs.
	printf '#!/bin/sh\nflock -n "%s" true && echo free >>"%s/lock.seen" || echo held >>"%s/lock.seen"\nexec "%s" "$@"\n' \
		"$PHOENIX_ROOT/run/phoenix-docker.lock" "$FAKE_STATE" "$FAKE_STATE" "$BATS_TEST_DIRNAME/fakebin/systemctl" >"$BATS_TEST_TMPDIR/bin/systemctl"
	chmod +x "$BATS_TEST_TMPDIR/bin/systemctl"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run_script "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx held "$FAKE_STATE/lock.seen"
	refute grep -qx free "$FAKE_STATE/lock.seen"
	flock -n "$PHOENIX_ROOT/run/phoenix-docker.lock" true
}

@test "an interrupted dpkg (journal in /var/lib/dpkg/updates) is repaired before apt-get" {
	mkdir -p "$PHOENIX_ROOT/var/lib/dpkg/updates"
	printf 'Package: containerd.io\nStatus: install ok half-configured\n' >"$PHOENIX_ROOT/var/lib/dpkg/updates/0003"
	run_script "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q 'dpkg\] dpkg was interrupted: /var/lib/dpkg/updates holds journal files' <<<"$output"
	grep -qx -- '--force-confdef --force-confold --configure -a' "$FAKE_STATE/dpkg.log"
	[ -z "$(ls -A "$PHOENIX_ROOT/var/lib/dpkg/updates")" ]
	# dpkg ran before the first apt-get call (which would have refused).
	refute grep -q 'dpkg was interrupted, you must manually run' <<<"$output"
	[ -f "$FAKE_STATE/pkg/docker-ce" ]
}

@test "a package whose unpack was killed (half-installed) is installed again with --reinstall" {
	# dpkg killed while it unpacks docker-ce: a journal, and docker-ce marked
	# "install reinstreq half-installed", which dpkg --configure -a leaves so.
	mkdir -p "$PHOENIX_ROOT/var/lib/dpkg/updates"
	printf 'Package: docker-ce\nStatus: install reinstreq half-installed\n' >"$PHOENIX_ROOT/var/lib/dpkg/updates/0001"
	echo docker-ce >"$FAKE_STATE/dpkg.reinstreq"
	run_script "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q 'dpkg\] The following packages are in a mess' <<<"$output"
	grep -q 'packages\] docker-ce is half-installed (dpkg: reinstreq): reinstalling it' <<<"$output"
	grep -q -- '--reinstall .*docker-ce' "$FAKE_STATE/apt.log"
	[ ! -s "$FAKE_STATE/dpkg.reinstreq" ]
	[ -f "$FAKE_STATE/pkg/docker-ce" ]
	assert_prefixed
}

@test "packages that dpkg --audit reports are configured before apt-get" {
	echo docker-ce >"$FAKE_STATE/dpkg.half"
	run_script "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q 'dpkg\] dpkg --audit reports:' <<<"$output"
	grep -q 'dpkg\] The following packages are only half configured' <<<"$output"
	grep -q 'dpkg\] Setting up docker-ce' <<<"$output"
	[ ! -e "$FAKE_STATE/dpkg.half" ]
	assert_prefixed
}

@test "a healthy dpkg is only audited, not reconfigured" {
	run_script "${INSTALL[@]}"
	[ "$status" -eq 0 ]
	[ "$(cat "$FAKE_STATE/dpkg.log")" = "--audit" ]
}

@test "dpkg --configure -a failing is FATAL and nothing is installed" {
	echo docker-ce >"$FAKE_STATE/dpkg.half"
	touch "$FAKE_STATE/dpkg.configure_fail"
	run_script "${INSTALL[@]}"
	echo "$output"
	assert_fatal
	assert_prefixed
	[ "$(grep -c -- '--configure -a' "$FAKE_STATE/dpkg.log")" -eq 3 ]
	[ "${lines[-1]}" = "FATAL: dpkg --configure -a failed after 3 attempts: the interrupted dpkg run could not be completed" ]
	[ -z "$(apt_installs)" ]
}

@test "the daemon.json content never appears in the output" {
	local json='{"registry-mirrors":["https://mirror-secret-7f3a.invalid"],"storage-driver":"overlay2"}'
	local args=(--package-source docker-ce --compose 1 --storage-driver overlay2 --daemon-json "$json" --network-target 1.1.1.1)
	run_script phoenix_hypervisor_feature_install_docker.sh "${args[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q 'config\] wrote /etc/docker/daemon.json (.* bytes; its content is not shown)' <<<"$output"
	refute grep -q 'mirror-secret-7f3a' <<<"$output"
	[ "$(cat "$PHOENIX_ROOT/etc/docker/daemon.json")" = "$json" ]

	# A configuration-only change with a failing restart: status output too.
	json='{"log-opts":{"labels":"token-9c1e"},"storage-driver":"overlay2"}'
	touch "$FAKE_STATE/docker.fail_start"
	run_script phoenix_hypervisor_feature_install_docker.sh --package-source docker-ce --compose 1 \
		--storage-driver overlay2 --daemon-json "$json" --network-target 1.1.1.1
	echo "$output"
	assert_fatal
	refute grep -q 'token-9c1e' <<<"$output"
}

@test "a command echoing daemon.json has the content redacted" {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	# A systemctl whose failure message quotes daemon.json, as dockerd can.
	printf '#!/bin/sh\n[ "$1" = restart ] && { echo "unable to configure the Docker daemon with file /etc/docker/daemon.json: $(cat "%s")" >&2; exit 1; }\nexec "%s" "$@"\n' \
		"$PHOENIX_ROOT/etc/docker/daemon.json" "$BATS_TEST_DIRNAME/fakebin/systemctl" >"$BATS_TEST_TMPDIR/bin/systemctl"
	chmod +x "$BATS_TEST_TMPDIR/bin/systemctl"
	run_script "${INSTALL[@]}"
	[ "$status" -eq 0 ]
	local json='{"debug":true,"labels":["secret-label-55aa"],"storage-driver":"overlay2"}'
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run_script phoenix_hypervisor_feature_install_docker.sh --package-source docker-ce \
		--compose 1 --storage-driver overlay2 --daemon-json "$json" --network-target 1.1.1.1
	echo "$output"
	grep -q 'unable to configure the Docker daemon with file /etc/docker/daemon.json: <daemon.json content>' <<<"$output"
	refute grep -q 'secret-label-55aa' <<<"$output"
}

@test "files are written through mktemp, never through a predictable name" {
	mkdir -p "$PHOENIX_ROOT/etc/docker" "$BATS_TEST_TMPDIR/victim"
	echo victim >"$BATS_TEST_TMPDIR/victim/file"
	# The names the script once used: a link there must not be followed.
	ln -s "$BATS_TEST_TMPDIR/victim/file" "$PHOENIX_ROOT/etc/docker/daemon.json.phoenix-tmp"
	run_script "${INSTALL[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/victim/file")" = victim ]
	rm "$PHOENIX_ROOT/etc/docker/daemon.json.phoenix-tmp"
	[ "$(stat -c %a "$PHOENIX_ROOT/etc/docker/daemon.json")" = 644 ]
	[ "$(stat -c %a "$PHOENIX_ROOT/etc/phoenix/docker-feature.conf")" = 644 ]
	assert_no_temp_files
}

@test "temporary files are removed after a failure" {
	touch "$FAKE_STATE/docker.fail_start"
	run_script "${INSTALL[@]}"
	assert_fatal
	assert_no_temp_files
	touch "$FAKE_STATE/curl.fail"
	rm -f "$PHOENIX_ROOT/$KEY"
	run_script "${INSTALL[@]}"
	assert_fatal
	assert_no_temp_files
}

@test "with --apt-key-sha256 a key file with Docker's fingerprint but other bytes is replaced" {
	local want
	want=$(sha256sum "$BATS_TEST_DIRNAME/../keys/docker-release-key.asc" | cut -d' ' -f1)
	run_script "${INSTALL[@]}" --apt-key-sha256 "$want"
	[ "$status" -eq 0 ]
	# The same key with CRLF line ends: the same fingerprint, other bytes.
	sed -i 's/$/\r/' "$PHOENIX_ROOT/$KEY"
	without_gpg
	run_script "${INSTALL[@]}" --apt-key-sha256 "$want"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q "change needed: Docker apt key /$KEY is not Docker's release key .*not the expected file" <<<"$output"
	cmp "$BATS_TEST_DIRNAME/../keys/docker-release-key.asc" "$PHOENIX_ROOT/$KEY"
	[ "${lines[-1]}" = "phoenix-docker: result installed_version=5:27.3.1-1~debian.12~bookworm changed=1 packages= items=apt-key" ]
}

@test "with --apt-key-sha256 a download with other bytes is FATAL" {
	run_script "${INSTALL[@]}" --apt-key-sha256 "$(printf '%064d' 0)"
	echo "$output"
	assert_fatal
	grep -q "not the expected file" <<<"$output"
	[ ! -e "$PHOENIX_ROOT/$KEY" ]
	refute grep -q docker-ce <<<"$(apt_installs)"
}
