#!/usr/bin/env bash
# check_docker_batch.sh: runs check_docker_service.sh in several containers
# of one Proxmox VE node, from the node, in one command. Read-only: it runs
# the read-only check through "pct exec" and writes no file.
#
# Run on the node, the check script on stdin:
#
#   bash -c "$(cat check_docker_batch.sh)" check_docker_batch.sh [-p PROFILE] NONCE PARALLEL TIMEOUT VMID... < check_docker_service.sh
#
# A VMID written +VMID is checked only when its configuration
# (/etc/pve/lxc/VMID.conf, the node's own containers) runs it under the
# AppArmor profile PROFILE ("lxc.apparmor.profile: PROFILE", or
# "lxc.apparmor.profile = PROFILE", before the first snapshot section; the
# last such line counts) and holds no lock (a backup, snapshot or migration
# under way); otherwise it gets no section. Its check is bounded by at most
# CANDIDATE_TIMEOUT seconds. This lets one command check the node's other
# Docker containers that later reads will ask about. The containers asked
# come first in the output.
#
# NONCE is a word the caller picks at random for each run; the containers
# never see it, so no container's output can forge a delimiter. Up to
# PARALLEL checks run at once, each bounded by TIMEOUT seconds. For each VMID,
# in the order given, it prints one section:
#
#   NONCE begin VMID
#   <the check's output, both streams; a last newline added when missing>
#   NONCE end VMID EXIT
#
# EXIT is the exit status of "pct exec" (the check's own, or pct's when the
# container cannot be entered; 124 when the check ran out of time or printed
# more than OUTPUT_MAX bytes). The
# command exits 0 once every section is printed, 2 on bad arguments.

set -u

fail() {
	printf 'FATAL: check_docker_batch.sh: %s\n' "$*" >&2
	exit 2
}

profile=
if [[ ${1-} == -p ]]; then
	(($# >= 2)) || fail "-p needs a profile name"
	profile=$2
	shift 2
	[[ $profile =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || fail "bad profile name '$profile'"
fi
(($# >= 4)) || fail "usage: [-p PROFILE] NONCE PARALLEL TIMEOUT VMID..."
nonce=$1 parallel=$2 limit=$3
shift 3
[[ $nonce =~ ^[0-9a-f]{32,}$ ]] || fail "the nonce must be at least 32 hex digits"
[[ $parallel =~ ^[1-9][0-9]{0,2}$ ]] || fail "bad parallel count '$parallel'"
[[ $limit =~ ^[1-9][0-9]{0,4}$ ]] || fail "bad timeout '$limit'"
for vmid in "$@"; do
	[[ $vmid =~ ^\+?[1-9][0-9]{2,8}$ ]] || fail "bad vmid '$vmid'"
	[[ $vmid != +* || -n $profile ]] || fail "+$vmid needs -p PROFILE"
done

# A candidate's check is bounded more tightly than the checks asked: a
# container no read waits for must not hold up the others for long.
readonly CANDIDATE_TIMEOUT=15
# The most output a check may print (a hostile container cannot fill the
# node's or the provider's memory: the provider holds the whole output of
# up to a few hundred checks). A sound check prints two lines.
readonly OUTPUT_MAX=65536

# Run through sudo, the command line, nonce included, is in SUDO_COMMAND,
# and pct exec passes the node's environment on into the container
# (keep-env is on by default before Proxmox VE 9): no check may see it.
unset SUDO_COMMAND

# The node's container configurations (PHOENIX_LXC_CONF_DIR in tests of
# this script).
confdir=${PHOENIX_LXC_CONF_DIR:-/etc/pve/lxc}

# candidate VMID: whether the container's configuration names PROFILE (the
# last lxc.apparmor.profile line counts, as for LXC) and holds no lock. A
# raw lxc line is "key: value" or "key = value", as PVE reads it.
candidate() {
	local conf=$confdir/$1.conf line found=
	[[ -f $conf ]] || return 1
	while IFS= read -r line || [[ -n $line ]]; do
		[[ $line == '['* ]] && break
		[[ $line =~ ^lock:[[:space:]]*[^[:space:]] ]] && return 1
		if [[ $line =~ ^lxc\.apparmor\.profile(:|[[:space:]]*=)[[:space:]]*(.*)$ ]]; then
			found=${BASH_REMATCH[2]}
			found=${found%"${found##*[![:space:]]}"}
		fi
	done <"$conf"
	[[ -n $found && $found == "$profile" ]]
}

# The check script, byte for byte (the x keeps trailing newlines).
script=$(
	cat
	printf x
)
script=${script%x}
[[ -n $script ]] || fail "no check script on standard input"

# close_inherited: closes every descriptor above 2 of this subshell. Bash
# sets no close-on-exec on the pipes of the other checks' sections, and
# neither pct nor lxc-attach closes what they inherit: left open, a
# container could read another's section (and the nonce in it), swallow it
# or write a forged one into it.
close_inherited() {
	local f n
	for f in /proc/"$BASHPID"/fd/*; do
		n=${f##*/}
		if [[ $n =~ ^[0-9]+$ ]] && ((n > 2)) && [[ -e $f ]]; then
			exec {n}>&-
		fi
	done
	return 0
}

# check VMID LIMIT: one section, printed at once when the check has ended.
# The container runs the script as a command ("bash -c"), with nothing on
# its stdin: bash reads a script on a pipe one byte at a time.
check() {
	local vmid=$1 limit=$2 out rc end
	close_inherited
	# The check's output passes through a bounded, unbuffered head (what it
	# read is printed when it is stopped): a process the check leaves
	# behind in the container may hold the inner pipe open, never this
	# section's, so one container cannot hold up the others.
	out=$({
		timeout --kill-after=5 "$limit" pct exec "$vmid" -- bash -c "$script" check_docker_service.sh </dev/null 2>&1
		printf '\n%s' "$?"
	} | timeout --kill-after=5 "$((limit + 10))" stdbuf -o0 head -c "$OUTPUT_MAX")
	# Bytes, not characters, from here on; only the end of the output is
	# looked at, a bounded number of times (with up to OUTPUT_MAX bytes,
	# patterns over all of it, or a step per trailing newline, would take
	# quadratic time).
	local LC_ALL=C i
	end=$out
	((${#out} <= 12)) || end=${out: -12}
	if [[ $end =~ $'\n'([0-9]{1,3})$ ]]; then
		rc=${BASH_REMATCH[1]}
		out=${out:0:${#out}-${#rc}-1}
		for ((i = 0; i < 4; i++)); do
			[[ ${out: -1} == $'\n' ]] || break
			out=${out:0:${#out}-1}
		done
	else
		rc=124
	fi
	if [[ -n $out ]]; then
		printf '%s begin %s\n%s\n%s end %s %d\n' "$nonce" "$vmid" "$out" "$nonce" "$vmid" "$rc"
	else
		printf '%s begin %s\n%s end %s %d\n' "$nonce" "$vmid" "$nonce" "$vmid" "$rc"
	fi
}

# The containers to check, in the order given.
vmids=() limits=()
for vmid in "$@"; do
	if [[ $vmid != +* ]]; then
		vmids+=("$vmid") limits+=("$limit")
	fi
done
for vmid in "$@"; do
	if [[ $vmid == +* ]] && candidate "${vmid#+}"; then
		vmids+=("${vmid#+}") limits+=("$((limit < CANDIDATE_TIMEOUT ? limit : CANDIDATE_TIMEOUT))")
	fi
done

# Each check writes to a pipe of its own (process substitution); the
# sections are copied out in order, at most PARALLEL checks ahead of the
# one being copied, so no two outputs mix and no file is written.
fds=()
started=0
for ((i = 0; i < ${#vmids[@]}; i++)); do
	while ((started < ${#vmids[@]} && started < i + parallel)); do
		exec {fd}< <(check "${vmids[started]}" "${limits[started]}")
		fds[started]=$fd
		started=$((started + 1))
	done
	fd=${fds[i]}
	cat <&"$fd"
	exec {fd}<&-
done
exit 0
