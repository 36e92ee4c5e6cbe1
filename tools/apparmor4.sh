#!/usr/bin/env bash
# Fetches an AppArmor 4 parser (Debian trixie's apparmor package, the parser
# of Proxmox VE 9) into a cache outside the checkout, for the profile tests,
# and prints the directory it extracted to. Nothing is installed on the
# machine: apt-get runs with a private source list, state and cache, and the
# packages are unpacked with dpkg-deb -x. Trixie's parser needs trixie's C
# library, so libc6 is unpacked beside it and the parser is run through that
# library's loader (see the run-parser wrapper this script writes).
#
#   PHOENIX_APPARMOR4_DIR  where to unpack (default
#                          ~/.cache/terraform-provider-phoenix/apparmor4)
#   PHOENIX_APPARMOR4_MIRROR  the Debian mirror (default deb.debian.org)
set -euo pipefail

dir=${PHOENIX_APPARMOR4_DIR:-$HOME/.cache/terraform-provider-phoenix/apparmor4}
mirror=${PHOENIX_APPARMOR4_MIRROR:-http://deb.debian.org/debian}
suite=trixie

if [ -x "$dir/run-parser" ] && [ -f "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi
for tool in apt-get dpkg-deb; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "apparmor4: $tool not found: fetching Debian's AppArmor 4 parser needs apt-get and dpkg-deb" >&2
    exit 1
  fi
done

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
mkdir -p "$work/etc/sources.list.d" "$work/etc/preferences.d" "$work/state/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/root"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$suite" >"$work/etc/sources.list"
apt=(apt-get -q
  -o "Dir::Etc::sourcelist=$work/etc/sources.list"
  -o "Dir::Etc::sourceparts=$work/etc/sources.list.d"
  -o "Dir::Etc::preferencesparts=$work/etc/preferences.d"
  -o "Dir::State=$work/state"
  -o "Dir::State::status=/dev/null"
  -o "Dir::Cache=$work/cache"
  -o "APT::Architecture=amd64"
  -o "Debug::NoLocking=1")
log=$work/apt.log
if ! "${apt[@]}" update >"$log" 2>&1; then
  cat "$log" >&2
  echo "apparmor4: apt-get update from $mirror $suite failed" >&2
  exit 1
fi
if ! (cd "$work/debs" && "${apt[@]}" download apparmor libc6) >"$log" 2>&1; then
  cat "$log" >&2
  echo "apparmor4: apt-get download apparmor libc6 from $suite failed" >&2
  exit 1
fi
for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$work/root"
done
ls "$work/debs" >"$work/root/PACKAGES"

loader=$(find "$work/root" -name 'ld-linux-x86-64.so.2' | head -n 1)
parser=$work/root/usr/sbin/apparmor_parser
[ -x "$parser" ] || parser=$work/root/sbin/apparmor_parser
if [ -z "$loader" ] || [ ! -x "$parser" ]; then
  echo "apparmor4: the packages hold no parser or loader:" >&2
  find "$work/root" -maxdepth 3 >&2
  exit 1
fi
libdir=$(dirname "$loader")
cat >"$work/root/run-parser" <<WRAP
#!/bin/sh
# Runs trixie's apparmor_parser with trixie's C library.
root=\$(dirname "\$0")
exec "\$root/${loader#"$work/root/"}" --library-path "\$root/${libdir#"$work/root/"}" "\$root/${parser#"$work/root/"}" "\$@"
WRAP
chmod 0755 "$work/root/run-parser"
if ! "$work/root/run-parser" --version >"$log" 2>&1; then
  cat "$log" >&2
  echo "apparmor4: the unpacked parser does not run" >&2
  exit 1
fi
touch "$work/root/.complete"
mkdir -p "$(dirname "$dir")"
rm -rf -- "$dir.tmp"
mv "$work/root" "$dir.tmp"
rm -rf -- "$dir"
mv "$dir.tmp" "$dir"
echo "$dir"
