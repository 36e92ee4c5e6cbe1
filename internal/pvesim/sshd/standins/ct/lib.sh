# shellcheck shell=bash
# Shared by the container stand-ins: facts about the container (written by
# pct for every exec), the package catalog, and state helpers. All state lives
# in the container's own files:
#   /var/lib/dpkg/status                  installed packages (dpkg format)
#   /var/lib/apt/lists/phoenix-sim_*      repositories fetched by apt-get update
#   /var/log/apt/phoenix-sim.log          one line per install/remove action
#   /var/lib/phoenix-sim/systemd/<unit>   unit state: "<state> <boot-id> <since>"
#   /var/log/phoenix-sim/journal/<unit>   journal lines per unit
#   /var/lib/docker/phoenix-sim/images/   pulled images
#   /var/lib/phoenix-sim/faults/          injected faults (see pvesim docs)
set -u
shopt -s nullglob

PATH=/.phoenix-sim/host/bin:/.phoenix-sim/host/sbin
export LC_ALL=C
for _awk in gawk mawk original-awk; do
	if [[ -x /.phoenix-sim/host/bin/$_awk ]]; then
		AWK=/.phoenix-sim/host/bin/$_awk
		break
	fi
done
awk() { "$AWK" "$@"; }

CT_VMID=0 CT_NODE="" CT_HOSTNAME=localhost CT_UNPRIVILEGED=0 CT_NESTING=0 CT_KEYCTL=0 CT_FUSE=0
CT_PROFILE=generated CT_PROFILE_LOADED=1 CT_ALLOW_NESTING=0 CT_BOOT_ID=0
# shellcheck source=/dev/null
[[ -f /.phoenix-sim/ct/facts ]] && . /.phoenix-sim/ct/facts
# shellcheck source=catalog.sh
. /.phoenix-sim/standins/catalog.sh

SIM_DIR=/var/lib/phoenix-sim
FAULT_DIR=$SIM_DIR/faults
UNIT_DIR=$SIM_DIR/systemd
JOURNAL_DIR=/var/log/phoenix-sim/journal
DPKG_STATUS=/var/lib/dpkg/status
APT_LOG=/var/log/apt/phoenix-sim.log
LISTS_DIR=/var/lib/apt/lists
IMAGE_DIR=/var/lib/docker/phoenix-sim/images
STANDINS=/.phoenix-sim/standins
DOCKER_KEY_FPR=9DC858229FC7DD38854AE2D88D81803C0EBFCD88

os_field() {
	local key=$1 line v
	[[ -f /etc/os-release ]] || return 0
	while IFS= read -r line || [[ -n $line ]]; do
		if [[ $line == "$key="* ]]; then
			v=${line#*=}
			v=${v#[\"\']}
			printf '%s' "${v%[\"\']}"
			return 0
		fi
	done </etc/os-release
}
OS_ID=$(os_field ID)
OS_CODENAME=$(os_field VERSION_CODENAME)
OS_RELEASE=$(os_field VERSION_ID)
OS_PRETTY=$(os_field PRETTY_NAME)
: "${OS_ID:=debian}" "${OS_CODENAME:=bookworm}" "${OS_RELEASE:=12}"
export OS_ID OS_CODENAME OS_RELEASE

# fault_take NAME: whether the injected fault NAME fires now. The file holds
# a count (decremented, removed at zero) or nothing / "always" (permanent).
fault_take() {
	local f=$FAULT_DIR/$1 n
	[[ -f $f ]] || return 1
	[[ ${FAULT_PEEK:-0} == 1 ]] && return 0
	n=$(tr -d '[:space:]' <"$f")
	case $n in
	"" | always) return 0 ;;
	*[!0-9]*) return 0 ;;
	esac
	if ((n <= 1)); then
		rm -f "$f"
		((n == 1))
		return
	fi
	printf '%d\n' $((n - 1)) >"$f"
	return 0
}

network_up() { [[ ! -e $FAULT_DIR/network-down ]]; }

# pkg_field NAME FIELD: FIELD of NAME's stanza in the dpkg status file.
pkg_field() {
	[[ -f $DPKG_STATUS ]] || return 1
	awk -v pkg="$1" -v field="$2" '
		BEGIN { RS = ""; FS = "\n" }
		{
			name = ""; val = ""; has = 0
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^Package: /) name = substr($i, 10)
				if (index($i, field ": ") == 1) { val = substr($i, length(field) + 3); has = 1 }
			}
			if (name == pkg && has) { print val; found = 1; exit }
		}
		END { exit found ? 0 : 1 }' "$DPKG_STATUS"
}

# pkg_version NAME: the version of an installed (configured) package.
pkg_version() {
	local st
	st=$(pkg_field "$1" Status) || return 1
	[[ $st == "install ok installed" ]] || return 1
	pkg_field "$1" Version
}

pkg_is_installed() { pkg_version "$1" >/dev/null; }

# pkg_set NAME VERSION STATUS: record NAME in the status file (STATUS "" drops it).
pkg_set() {
	local name=$1 version=$2 status=$3 tmp=$DPKG_STATUS.phoenix-tmp
	mkdir -p "$(dirname "$DPKG_STATUS")"
	touch "$DPKG_STATUS"
	awk -v pkg="$name" '
		BEGIN { RS = ""; FS = "\n"; ORS = "\n\n" }
		{ for (i = 1; i <= NF; i++) if ($i == "Package: " pkg) next; print }' "$DPKG_STATUS" >"$tmp"
	if [[ -n $status ]]; then
		printf 'Package: %s\nStatus: %s\nPriority: optional\nArchitecture: amd64\nVersion: %s\n\n' "$name" "$status" "$version" >>"$tmp"
	fi
	mv -f "$tmp" "$DPKG_STATUS"
}

# installed_units: the units of unpacked or installed packages, one per line.
installed_units() {
	local name
	for name in $(awk '/^Package: / { print $2 }' "$DPKG_STATUS" 2>/dev/null); do
		[[ $(pkg_field "$name" Status) == "install ok "* ]] || continue
		pkg_lookup "$name" || continue
		((${#PKG_UNITS[@]} == 0)) || printf '%s\n' "${PKG_UNITS[@]}"
	done
	printf '%s\n' systemd-journald.service networking.service
}

apt_log() {
	mkdir -p "$(dirname "$APT_LOG")"
	printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$APT_LOG"
}

# journal UNIT IDENT MESSAGE...: append to the unit's journal.
journal() {
	local unit=$1 ident=$2
	shift 2
	mkdir -p "$JOURNAL_DIR"
	local line
	for line in "$@"; do
		printf '%s %s %s: %s\n' "$(date '+%b %d %H:%M:%S')" "$CT_HOSTNAME" "$ident" "$line" >>"$JOURNAL_DIR/$unit"
	done
}

# unpacked_version NAME: the version of a package whose files are on disk
# (installed, or unpacked but not configured).
unpacked_version() {
	[[ $(pkg_field "$1" Status 2>/dev/null) == "install ok "* ]] || return 1
	pkg_field "$1" Version
}

# docker_cli_version, docker_engine_version: the packages' versions.
docker_cli_version() {
	unpacked_version docker-ce-cli 2>/dev/null || unpacked_version docker.io 2>/dev/null
}
docker_engine_version() {
	unpacked_version docker-ce 2>/dev/null || unpacked_version docker.io 2>/dev/null
}

# short_version VERSION: what the binaries report, "5:29.1.3-1~debian.12~bookworm" -> "29.1.3".
short_version() {
	upstream_of "$1"
}

# repo_available REPO: whether apt-get update fetched REPO's package list.
repo_available() { [[ -f $LISTS_DIR/phoenix-sim_$1 ]]; }

# repo_origin REPO: "URL SUITE" of REPO's list, for apt-cache output.
repo_origin() {
	head -n1 "$LISTS_DIR/phoenix-sim_$1" 2>/dev/null
}

# candidate NAME: the newest version apt can install, from fetched lists.
candidate() {
	pkg_lookup "$1" || return 1
	repo_available "$PKG_REPO" || return 1
	printf '%s' "${PKG_VERSIONS[0]}"
}
