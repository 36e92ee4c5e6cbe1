# shellcheck shell=bash
# Package catalog of the simulated container distributions: what apt can
# install, from which repository, and which stand-in commands and systemd
# units each package brings. Sourced by pct (to seed a container) and by the
# container stand-ins. Callers set OS_ID, OS_CODENAME and OS_RELEASE.

# Commands of the base system taken from the host (real binaries, read-only).
HOST_COMMANDS=(
	bash sh dash cat chgrp chmod chown cp date dd df dir dirname du echo env expr
	false head id install ln ls md5sum mkdir mktemp mv nproc od printf pwd
	readlink realpath rm rmdir seq sha1sum sha256sum sha512sum sleep sort stat
	sync tac tail tee test timeout touch tr true truncate uname uniq wc whoami
	yes basename base64 comm cut expand fold join nl paste split tsort unlink
	grep egrep fgrep sed awk mawk find xargs tar gzip gunzip zcat cmp diff
	flock getopt setsid logger kill ps pgrep pkill hostname which tput
	getconf locale perl more
)

# Packages installed in a fresh container; their stand-in files are created
# by the seed.
BASE_PACKAGES=(
	base-files bash coreutils dash dpkg apt systemd libc-bin grep sed mawk
	findutils tar gzip util-linux procps hostname debianutils iputils-ping
	ca-certificates curl diffutils ncurses-bin perl-base iproute2 iptables
)

# The systemd units a package brings, by package; a package not named here
# brings none. Every package named here exists in every distribution of the
# catalog (pkg_lookup never returns 1 for it), so read_units (lib.sh) takes
# the units of the installed packages from here alone
# (TestCatalogUnitsInEveryDistribution).
# (declare -g: pct reads the catalog from within a function.)
declare -gA CATALOG_UNITS=(
	[docker.io]="docker.service docker.socket"
	[docker-ce]="docker.service docker.socket"
	[containerd]="containerd.service"
	[containerd.io]="containerd.service"
)

# pkg_lookup NAME: sets PKG_REPO (debian, docker or none), PKG_VERSIONS
# (newest first), PKG_DEPENDS, PKG_RECOMMENDS, PKG_FILES (path=standin) and
# PKG_UNITS (from CATALOG_UNITS). Returns 1 for a package this distribution
# does not have.
pkg_lookup() {
	local name=$1 rel=${OS_RELEASE:-12} code=${OS_CODENAME:-bookworm} fam=${OS_ID:-debian} IFS=' '
	PKG_REPO=debian
	PKG_VERSIONS=()
	PKG_DEPENDS=()
	PKG_RECOMMENDS=()
	PKG_FILES=()
	# shellcheck disable=SC2206 # unit names: no spaces, no glob characters.
	PKG_UNITS=(${CATALOG_UNITS[${name:-none}]-})
	case $name in
	base-files) PKG_VERSIONS=("$rel.4+deb${rel}u12") ;;
	bash) PKG_VERSIONS=(5.2.15-2+b9) ;;
	coreutils) PKG_VERSIONS=(9.1-1) ;;
	dash) PKG_VERSIONS=(0.5.12-2) ;;
	dpkg)
		PKG_VERSIONS=(1.21.22)
		PKG_FILES=(usr/bin/dpkg=dpkg usr/bin/dpkg-query=dpkg-query)
		;;
	apt)
		PKG_VERSIONS=(2.6.1)
		PKG_FILES=(usr/bin/apt-get=apt-get usr/bin/apt-cache=apt-cache usr/bin/apt=apt-get)
		;;
	systemd)
		PKG_VERSIONS=(252.39-1~deb12u1)
		PKG_FILES=(usr/bin/systemctl=systemctl usr/bin/journalctl=journalctl)
		;;
	libc-bin)
		PKG_VERSIONS=(2.36-9+deb12u13)
		PKG_FILES=(usr/bin/getent=getent)
		;;
	grep) PKG_VERSIONS=(3.8-5) ;;
	sed) PKG_VERSIONS=(4.9-1) ;;
	mawk) PKG_VERSIONS=(1.3.4.20200120-3.1) ;;
	findutils) PKG_VERSIONS=(4.9.0-4) ;;
	tar) PKG_VERSIONS=(1.34+dfsg-1.2+deb12u1) ;;
	gzip) PKG_VERSIONS=(1.12-1) ;;
	util-linux) PKG_VERSIONS=(2.38.1-5+deb12u3) ;;
	procps) PKG_VERSIONS=(2:4.0.2-3) ;;
	hostname) PKG_VERSIONS=(3.23+nmu1) ;;
	debianutils) PKG_VERSIONS=(5.7-0.5~deb12u1) ;;
	diffutils) PKG_VERSIONS=(1:3.8-4) ;;
	ncurses-bin) PKG_VERSIONS=(6.4-4) ;;
	perl-base) PKG_VERSIONS=(5.36.0-7+deb12u2) ;;
	iproute2) PKG_VERSIONS=(6.1.0-3) ;;
	iptables) PKG_VERSIONS=(1.8.9-2) ;;
	iputils-ping)
		PKG_VERSIONS=(3:20221126-1+deb12u1)
		PKG_FILES=(usr/bin/ping=ping)
		;;
	ca-certificates) PKG_VERSIONS=(20230311+deb12u1) ;;
	curl)
		PKG_VERSIONS=(7.88.1-10+deb12u14)
		PKG_FILES=(usr/bin/curl=curl)
		;;
	gnupg | gpg)
		PKG_VERSIONS=(2.2.40-1.1+deb12u1)
		PKG_FILES=(usr/bin/gpg=gpg)
		;;
	lsb-release)
		PKG_VERSIONS=(12.0-1)
		PKG_FILES=(usr/bin/lsb_release=lsb_release)
		;;
	apt-transport-https) PKG_VERSIONS=(2.6.1) ;;
	pigz) PKG_VERSIONS=(2.6-1) ;;
	uidmap) PKG_VERSIONS=(1:4.13+dfsg1-1+deb12u1) ;;
	fuse-overlayfs)
		PKG_VERSIONS=(1.10-1)
		PKG_FILES=(usr/bin/fuse-overlayfs=docker)
		;;
	docker.io)
		case $fam in
		ubuntu) PKG_VERSIONS=("27.5.1-0ubuntu3~$rel.2") ;;
		*) if [[ $code == bookworm ]]; then PKG_VERSIONS=(20.10.24+dfsg1-1+deb12u1); else PKG_VERSIONS=(26.1.5+dfsg1-9+b11); fi ;;
		esac
		PKG_DEPENDS=(containerd runc iptables)
		PKG_FILES=(usr/bin/docker=docker usr/bin/dockerd=docker)
		;;
	containerd)
		PKG_VERSIONS=(1.6.20~ds1-1+deb12u1)
		PKG_DEPENDS=(runc)
		PKG_FILES=(usr/bin/containerd=docker)
		;;
	runc)
		PKG_VERSIONS=(1.1.5+ds1-1+deb12u1)
		PKG_FILES=(usr/sbin/runc=docker)
		;;
	docker-compose)
		[[ $fam == debian ]] || return 1
		if [[ $code == bookworm ]]; then PKG_VERSIONS=(1.29.2-3); else PKG_VERSIONS=(2.26.1-4); fi
		PKG_FILES=(usr/bin/docker-compose=docker)
		;;
	docker-compose-v2)
		[[ $fam == ubuntu ]] || return 1
		PKG_VERSIONS=("2.33.0+ds1-0ubuntu1~$rel.1")
		;;
	docker-ce | docker-ce-cli | containerd.io | docker-compose-plugin | docker-buildx-plugin | docker-ce-rootless-extras)
		PKG_REPO=docker
		local v
		case $name in
		docker-ce | docker-ce-cli | docker-ce-rootless-extras)
			for v in 29.1.3 29.0.4 28.5.2 27.5.1; do
				PKG_VERSIONS+=("5:$v-1~$fam.$rel~$code")
			done
			;;
		containerd.io) PKG_VERSIONS=("2.2.1-1~$fam.$rel~$code" "1.7.28-1~$fam.$rel~$code") ;;
		docker-compose-plugin) PKG_VERSIONS=("2.40.3-1~$fam.$rel~$code" "2.39.4-1~$fam.$rel~$code") ;;
		docker-buildx-plugin) PKG_VERSIONS=("0.30.1-1~$fam.$rel~$code") ;;
		esac
		case $name in
		docker-ce)
			PKG_DEPENDS=(containerd.io docker-ce-cli iptables)
			PKG_RECOMMENDS=(docker-ce-rootless-extras pigz)
			PKG_FILES=(usr/bin/dockerd=docker)
			;;
		docker-ce-cli)
			PKG_RECOMMENDS=(docker-buildx-plugin docker-compose-plugin)
			PKG_FILES=(usr/bin/docker=docker)
			;;
		containerd.io)
			PKG_FILES=(usr/bin/containerd=docker usr/sbin/runc=docker)
			;;
		docker-ce-rootless-extras) PKG_DEPENDS=(uidmap) ;;
		esac
		;;
	*) return 1 ;;
	esac
	return 0
}

# upstream_to VAR VERSION: upstream_of VERSION in VAR, without a subshell.
upstream_to() {
	local v=${2#*:}
	[[ $v == *-* ]] && v=${v%-*}
	printf -v "$1" '%s' "$v"
}

# upstream_of VERSION: VERSION without epoch and Debian revision.
upstream_of() {
	local v=${1#*:}
	[[ $v == *-* ]] && v=${v%-*}
	printf '%s' "$v"
}
