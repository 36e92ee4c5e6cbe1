#!/usr/bin/env bash
# The Debian packages make demo and make test need, in one list (make
# prereqs, .ci/run). Silent when they are all installed. Otherwise, as root
# on a machine with apt-get, it installs the missing ones; anywhere else it
# prints the one apt-get install line to run and fails.
#
#   PHOENIX_NO_APT=1          never run apt-get: print the line instead
#   PHOENIX_PREREQS_EXTRA=... more package names to require (space separated)
set -euo pipefail

# bats and shellcheck run and lint the Docker feature scripts; bubblewrap
# runs the simulator's node and container commands in sandboxes; apparmor
# and liblxc-common compile the AppArmor profile; openssh-client provides
# ssh-keygen to the tests; curl is used by the simulator's node tools; jq
# reads the daemon.json files the simulator's own reader leaves to it; git,
# make and ca-certificates build the tree and reach the Go module proxy.
packages=(bats shellcheck bubblewrap apparmor liblxc-common openssh-client curl jq git make ca-certificates)
read -r -a extra <<<"${PHOENIX_PREREQS_EXTRA:-}"
packages+=("${extra[@]}")

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "prereqs: not Debian (no dpkg-query), not checked: install the equivalents of ${packages[*]}; tests that need a missing one skip and make test lists them" >&2
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
((${#missing[@]})) || exit 0

if [ "$(id -u)" -eq 0 ] && [ "${PHOENIX_NO_APT:-}" != 1 ] && command -v apt-get >/dev/null 2>&1; then
  echo "prereqs: installing the Debian packages the demo and tests need: ${missing[*]}"
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "prereqs: apt-get install ${missing[*]} failed" >&2
    exit 1
  fi
  exit 0
fi

sudo="sudo "
[ "$(id -u)" -ne 0 ] || sudo=""
echo "${sudo}apt-get install ${missing[*]}" >&2
exit 1
