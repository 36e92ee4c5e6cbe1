# Shared setup of the bats tests: stand-in commands on PATH, their state in
# a temp dir, and a fake container root (PHOENIX_ROOT).

setup_fakes() {
	SCRIPTS="$(cd "$BATS_TEST_DIRNAME/../scripts" && pwd)"
	export FAKE_STATE="$BATS_TEST_TMPDIR/state"
	export PHOENIX_ROOT="$BATS_TEST_TMPDIR/root"
	mkdir -p "$FAKE_STATE/pkg" "$FAKE_STATE/madison" "$PHOENIX_ROOT/etc"
	touch "$FAKE_STATE/apt.log" "$FAKE_STATE/systemctl.log"
	export PATH="$BATS_TEST_DIRNAME/fakebin:$PATH"
	export PHOENIX_RETRY_DELAY=0 PHOENIX_NETWORK_ATTEMPTS=3 PHOENIX_APT_ATTEMPTS=3 PHOENIX_VERIFY_ATTEMPTS=2
	os_release debian bookworm
}

# os_release ID CODENAME: write the fake container's /etc/os-release.
os_release() {
	printf '%s\n' "PRETTY_NAME=\"fake $1\"" "ID=$1" "VERSION_CODENAME=$2" >"$PHOENIX_ROOT/etc/os-release"
}

# run_script NAME ARGS...: run a script the way the provider does, on the
# stdin of "bash -s" through a pipe.
run_script() {
	local script=$1
	shift
	run bash -c 'cat "$1" | bash -s -- "${@:2}"' _ "$SCRIPTS/$script" "$@"
}

# run_with NAME BODY SCRIPT ARGS...: run_script with a one-off stand-in for
# the command NAME, a sh script of the lines BODY, first on PATH.
run_with() {
	local name=$1 body=$2
	shift 2
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\n%s\n' "$body" >"$BATS_TEST_TMPDIR/bin/$name"
	chmod +x "$BATS_TEST_TMPDIR/bin/$name"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run_script "$@"
}

# The provider's default install arguments.
INSTALL=(phoenix_hypervisor_feature_install_docker.sh --package-source docker-ce --compose 1
	--storage-driver overlay2 --daemon-json '{"storage-driver":"overlay2"}' --network-target 1.1.1.1)

# apt_installs: the "install" calls in the apt log.
apt_installs() {
	grep ' install ' "$FAKE_STATE/apt.log" || true
}

# assert_fatal: the run failed and printed a FATAL: line.
assert_fatal() {
	[ "$status" -ne 0 ] || {
		echo "expected a non-zero exit, got 0; output:"
		echo "$output"
		return 1
	}
	grep -q '^FATAL: ' <<<"$output" || {
		echo "no FATAL: line in output:"
		echo "$output"
		return 1
	}
}

# assert_prefixed: every line but FATAL: ones carries the progress prefix.
assert_prefixed() {
	local bad
	bad=$(grep -v -e '^phoenix-docker: ' -e '^FATAL: ' <<<"$output" || true)
	[ -z "$bad" ] || {
		echo "lines without prefix:"
		echo "$bad"
		return 1
	}
}

# refute COMMAND...: fail when COMMAND succeeds (a bare "! cmd" never fails a
# bats test).
refute() {
	if "$@"; then
		echo "unexpectedly succeeded: $*"
		return 1
	fi
}
