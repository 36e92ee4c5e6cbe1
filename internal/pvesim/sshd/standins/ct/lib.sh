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

# os_fields: OS_ID, OS_CODENAME, OS_RELEASE and OS_PRETTY as os_field reads
# them (each key's first line counts), in one read of /etc/os-release and
# without a subshell: every stand-in starts with it.
os_fields() {
	local line key v seen=" "
	OS_ID="" OS_CODENAME="" OS_RELEASE="" OS_PRETTY=""
	[[ -f /etc/os-release ]] || return 0
	while IFS= read -r line || [[ -n $line ]]; do
		[[ $line == *=* ]] || continue
		key=${line%%=*}
		[[ $seen != *" $key "* ]] || continue
		v=${line#*=}
		v=${v#[\"\']}
		v=${v%[\"\']}
		case $key in
		ID) OS_ID=$v ;;
		VERSION_CODENAME) OS_CODENAME=$v ;;
		VERSION_ID) OS_RELEASE=$v ;;
		PRETTY_NAME) OS_PRETTY=$v ;;
		*) continue ;;
		esac
		seen+="$key "
	done </etc/os-release
}
os_fields
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

# pkg_version NAME: the version of an installed (configured) package (one
# read of the status file).
pkg_version() {
	[[ -f $DPKG_STATUS ]] || return 1
	awk -v pkg="$1" '
		BEGIN { RS = ""; FS = "\n" }
		{
			name = ""; st = ""; ver = ""
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^Package: /) name = substr($i, 10)
				if (index($i, "Status: ") == 1) st = substr($i, 9)
				if (index($i, "Version: ") == 1) ver = substr($i, 10)
			}
			if (name == pkg) { if (st == "install ok installed") { print ver; found = 1 } exit }
		}
		END { exit found ? 0 : 1 }' "$DPKG_STATUS"
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

# read_units: INSTALLED_UNITS is the units of unpacked or installed
# packages, read once per run (in this shell, without a subshell).
INSTALLED_UNITS=()
INSTALLED_UNITS_READ=0
read_units() {
	local name st IFS=$' \t\n'
	((INSTALLED_UNITS_READ)) && return 0
	INSTALLED_UNITS=()
	# One pass over the status file: each package's name and status.
	while IFS=$'\t' read -r name st; do
		[[ $st == "install ok "* && -n ${CATALOG_UNITS[$name]-} ]] || continue
		# shellcheck disable=SC2206 # unit names: no spaces, no glob characters.
		INSTALLED_UNITS+=(${CATALOG_UNITS[$name]})
	done < <(awk '
		BEGIN { RS = ""; FS = "\n" }
		{
			name = ""; st = ""
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^Package: /) name = substr($i, 10)
				if (index($i, "Status: ") == 1) st = substr($i, 9)
			}
			if (name != "" && !(name in seen)) { seen[name] = 1; print name "\t" st }
		}' "$DPKG_STATUS" 2>/dev/null)
	INSTALLED_UNITS+=(systemd-journald.service networking.service)
	INSTALLED_UNITS_READ=1
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

# unit_known UNIT: whether an installed package brings UNIT (no stand-in
# changes a package while it asks: the units are read once).
unit_known() {
	local u
	read_units
	for u in "${INSTALLED_UNITS[@]}"; do
		[[ $u == "$1" ]] && return 0
	done
	return 1
}

# recorded_state UNIT: when UNIT's state follows from the files alone (not
# installed: inactive; a state recorded in this boot: that state), sets
# STATE to it; 1 when it takes systemctl's rules for a unit not recorded
# since the container started (enabled units start at boot).
recorded_state() {
	local s boot since
	STATE=inactive
	unit_known "$1" || return 0
	if [[ -f $UNIT_DIR/$1 ]]; then
		read -r s boot since <"$UNIT_DIR/$1"
		if [[ $boot == "$CT_BOOT_ID" ]]; then
			STATE=$s
			return 0
		fi
	fi
	return 1
}

# unpacked_versions NAME...: UNPACKED[NAME] is the version of each package
# NAME whose files are on disk (installed, or unpacked but not configured:
# status "install ok ..."), from one read of the status file (a name's first
# stanza with the field counts, as for pkg_field).
declare -A UNPACKED=()
unpacked_versions() {
	local name ver
	UNPACKED=()
	[[ -f $DPKG_STATUS ]] || return 0
	local IFS=$'\n'
	local names="$*"
	while IFS=$'\t' read -r name ver; do
		UNPACKED[$name]=$ver
	done < <(UNPACKED_NAMES=$names awk '
		BEGIN {
			RS = ""; FS = "\n"
			n = split(ENVIRON["UNPACKED_NAMES"], w, "\n")
			for (i = 1; i <= n; i++) want[w[i]] = 1
		}
		{
			name = ""; hs = 0; hv = 0
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^Package: /) name = substr($i, 10)
				if (index($i, "Status: ") == 1) { st = substr($i, 9); hs = 1 }
				if (index($i, "Version: ") == 1) { ver = substr($i, 10); hv = 1 }
			}
			if (!(name in want)) next
			if (hs && !(name in status)) status[name] = st
			if (hv && !(name in version)) version[name] = ver
		}
		END {
			for (name in want)
				if (index(status[name], "install ok ") == 1 && (name in version)) print name "\t" version[name]
		}' "$DPKG_STATUS" 2>/dev/null)
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

# openpgp_bytes FILE: FILE's OpenPGP octets (armor removed), one decimal per
# line; nothing when FILE is neither armored nor binary OpenPGP data.
openpgp_bytes() {
	local file=$1 line armored=0 body=0 b64=""
	[[ -r $file ]] || return 0
	while IFS= read -r line || [[ -n $line ]]; do
		line=${line%$'\r'}
		if [[ $line == "-----BEGIN PGP PUBLIC KEY BLOCK-----" ]]; then
			armored=1 body=0 b64=""
			continue
		fi
		((armored)) || continue
		[[ $line != "-----END PGP PUBLIC KEY BLOCK-----" ]] || break
		if ((!body)); then
			[[ -n $line ]] || body=1
			continue
		fi
		[[ $line == =* ]] || b64+=$line
	done <"$file" 2>/dev/null
	if ((armored)); then
		printf '%s' "$b64" | base64 -d 2>/dev/null | od -An -v -tu1 | tr -s ' ' '\n' | grep -v '^$'
	else
		od -An -v -tu1 "$file" | tr -s ' ' '\n' | grep -v '^$'
	fi
}

# openpgp_primary_fprs FILE: the V4 fingerprints of FILE's primary keys
# (public-key packets), upper-case hex, one per line; exit 1 when FILE is not
# a sequence of OpenPGP packets. What gpg prints as the fpr record of each
# pub record.
openpgp_primary_fprs() {
	local -a b
	mapfile -t b < <(openpgp_bytes "$1")
	local n=${#b[@]} i=0 tag len hdr l0 fmt sum
	((n > 0)) || return 1
	while ((i < n)); do
		((b[i] >= 128)) || return 1
		if ((b[i] & 64)); then
			tag=$((b[i] & 63)) l0=${b[i + 1]:-0}
			if ((l0 < 192)); then
				len=$l0 hdr=2
			elif ((l0 < 224)); then
				len=$((((l0 - 192) << 8) + ${b[i + 2]:-0} + 192)) hdr=3
			elif ((l0 == 255)); then
				len=$(((${b[i + 2]:-0} << 24) + (${b[i + 3]:-0} << 16) + (${b[i + 4]:-0} << 8) + ${b[i + 5]:-0})) hdr=6
			else
				return 1
			fi
		else
			tag=$(((b[i] >> 2) & 15))
			case $((b[i] & 3)) in
			0) len=${b[i + 1]:-0} hdr=2 ;;
			1) len=$(((${b[i + 1]:-0} << 8) + ${b[i + 2]:-0})) hdr=3 ;;
			2) len=$(((${b[i + 1]:-0} << 24) + (${b[i + 2]:-0} << 16) + (${b[i + 3]:-0} << 8) + ${b[i + 4]:-0})) hdr=5 ;;
			*) return 1 ;;
			esac
		fi
		((i + hdr + len <= n)) || return 1
		if ((tag == 6 && b[i + hdr] == 4)); then
			fmt=$(printf '\\%03o' 153 $((len >> 8)) $((len & 255)) "${b[@]:i+hdr:len}")
			# shellcheck disable=SC2059 # the format is the packet's octets as escapes.
			sum=$(printf "$fmt" | sha1sum)
			printf '%s\n' "${sum%% *}" | tr 'a-f' 'A-F'
		fi
		i=$((i + hdr + len))
	done
}

# postinst NAME: enable and start the package's services, as Debian's
# maintainer scripts do; returns 1 when a service fails to start.
postinst() {
	local unit rc=0
	pkg_lookup "$1" || return 0
	for unit in "${PKG_UNITS[@]}"; do
		"$STANDINS/systemctl" enable "$unit" >/dev/null 2>&1
	done
	case $1 in
	docker-ce | docker.io)
		if ! "$STANDINS/systemctl" start docker.service; then
			echo "invoke-rc.d: initscript docker, action \"start\" failed."
			echo "dpkg: error processing package $1 (--configure):"
			echo " installed $1 package post-installation script subprocess returned error exit status 1"
			rc=1
		fi
		;;
	containerd.io | containerd) "$STANDINS/systemctl" start containerd.service >/dev/null 2>&1 ;;
	esac
	return "$rc"
}

# dpkg_interrupted: whether the dpkg journal (/var/lib/dpkg/updates) holds
# entries, apt's test for an interrupted dpkg run.
dpkg_interrupted() {
	local f
	for f in /var/lib/dpkg/updates/*; do
		[[ -f $f && ${f##*/} =~ ^[0-9]+$ ]] && return 0
	done
	return 1
}
