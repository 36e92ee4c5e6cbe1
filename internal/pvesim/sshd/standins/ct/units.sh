# shellcheck shell=bash
# Unit states as the systemctl stand-in reports them, sourced by it and by
# the docker stand-in (which asks whether the daemon runs without starting
# another systemctl). Needs lib.sh.

wants_dir() {
	case $1 in
	*.socket) printf '/etc/systemd/system/sockets.target.wants' ;;
	*) printf '/etc/systemd/system/multi-user.target.wants' ;;
	esac
}

# is_enabled UNIT: whether UNIT is linked in its wants_dir (without a
# subshell).
is_enabled() {
	local d=/etc/systemd/system/multi-user.target.wants
	[[ $1 == *.socket ]] && d=/etc/systemd/system/sockets.target.wants
	[[ -L $d/$1 || -e $d/$1 ]]
}

description() {
	case $1 in
	docker.service) echo "Docker Application Container Engine" ;;
	docker.socket) echo "Docker Socket for the API" ;;
	containerd.service) echo "containerd container runtime" ;;
	*) echo "${1%.*}" ;;
	esac
}

# daemon_json_problem: why /etc/docker/daemon.json stops dockerd, if it does.
# Sets STORAGE_DRIVER.
daemon_json_problem() {
	STORAGE_DRIVER=overlay2
	local f=/etc/docker/daemon.json content
	[[ -f $f ]] || return 0
	# shellcheck source=json.sh
	declare -F json_file_driver >/dev/null || . /.phoenix-sim/standins/json.sh
	if json_file_driver "$f"; then
		STORAGE_DRIVER=$JSON_DRIVER
	elif [[ -x /.phoenix-sim/host/bin/jq ]]; then
		# One jq run for the usual file (a single object, its storage-driver
		# absent or a string); anything else takes the two runs below, whose
		# messages are dockerd's.
		local err fast
		fast=$(/.phoenix-sim/host/bin/jq -r -s 'if length == 1 and (.[0] | type) == "object" and ((.[0]."storage-driver" // "overlay2") | type) == "string" then .[0]."storage-driver" // "overlay2" else empty end' "$f" 2>/dev/null) || fast=""
		if [[ -n $fast ]]; then
			STORAGE_DRIVER=$fast
		elif ! err=$(/.phoenix-sim/host/bin/jq -e 'type == "object"' "$f" 2>&1 >/dev/null); then
			printf 'unable to configure the Docker daemon with file %s: %s' "$f" "${err:-not a JSON object}"
			return 0
		else
			STORAGE_DRIVER=$(/.phoenix-sim/host/bin/jq -r '."storage-driver" // "overlay2"' "$f")
		fi
	else
		content=$JSON_TEXT
		local compact=${content//[[:space:]]/}
		if [[ -n $compact && ( $compact != \{* || $compact != *\} ) ]]; then
			printf 'unable to configure the Docker daemon with file %s: invalid character looking for beginning of value' "$f"
			return 0
		fi
		if [[ $compact =~ \"storage-driver\":\"([^\"]*)\" ]]; then
			STORAGE_DRIVER=${BASH_REMATCH[1]}
		fi
	fi
	case $STORAGE_DRIVER in
	overlay2 | vfs) ;;
	fuse-overlayfs)
		if ! pkg_is_installed fuse-overlayfs; then
			printf 'failed to start daemon: error initializing graphdriver: fuse-overlayfs not installed: exec: "fuse-overlayfs": executable file not found in $PATH'
		elif [[ $CT_FUSE != 1 ]]; then
			printf 'failed to start daemon: error initializing graphdriver: driver not supported: fuse-overlayfs: /dev/fuse: no such file or directory'
		fi
		;;
	*) printf 'failed to start daemon: error initializing graphdriver: driver not supported: %s' "$STORAGE_DRIVER" ;;
	esac
}

# docker_blocker: prints journal lines explaining why dockerd cannot start
# in this container; prints nothing when it can.
docker_blocker() {
	local pid=$((1000 + RANDOM % 8000)) json_err
	if fault_take docker-fail; then
		printf 'dockerd[%d]: failed to start daemon: injected failure (pvesim fault docker-fail)\n' "$pid"
		return
	fi
	if [[ $CT_NESTING != 1 ]]; then
		printf 'dockerd[%d]: failed to start daemon: Error initializing network controller: error obtaining controller instance: failed to mount proc: permission denied\n' "$pid"
		printf 'pvesim[%d]: docker needs "features: nesting=1" in the container configuration\n' "$pid"
		return
	fi
	if [[ $CT_UNPRIVILEGED == 1 && $CT_KEYCTL != 1 ]]; then
		printf 'containerd[%d]: failed to join session keyring: create session key: operation not permitted\n' "$pid"
		printf 'dockerd[%d]: failed to start daemon: failed to dial "/run/containerd/containerd.sock": context deadline exceeded\n' "$pid"
		printf 'pvesim[%d]: an unprivileged container needs "features: keyctl=1" for docker\n' "$pid"
		return
	fi
	case $CT_PROFILE in
	unconfined | generated) ;;
	lxc-container-default | lxc-container-default-cgns | lxc-container-default-with-mounting)
		printf 'dockerd[%d]: failed to start daemon: Error initializing network controller: failed to mount proc: permission denied\n' "$pid"
		printf 'pvesim[%d]: AppArmor profile %s does not permit nesting\n' "$pid" "$CT_PROFILE"
		return
		;;
	*)
		if [[ $CT_PROFILE_LOADED != 1 ]]; then
			printf 'dockerd[%d]: failed to start daemon: failed to mount proc: permission denied\n' "$pid"
			printf 'pvesim[%d]: AppArmor profile %s is not loaded on node %s\n' "$pid" "$CT_PROFILE" "$CT_NODE"
			return
		fi
		if [[ $CT_ALLOW_NESTING != 1 ]]; then
			printf 'dockerd[%d]: failed to start daemon: failed to mount proc over lxcfs: permission denied\n' "$pid"
			printf 'pvesim[%d]: profile %s needs "lxc.apparmor.allow_nesting: 1" in the container configuration\n' "$pid" "$CT_PROFILE"
			return
		fi
		;;
	esac
	json_err=$(daemon_json_problem)
	if [[ -n $json_err ]]; then
		printf 'dockerd[%d]: %s\n' "$pid" "$json_err"
	fi
}

# state UNIT: active, inactive or failed, taking container restarts into
# account (enabled units start at boot, others are inactive).
state() {
	state_of "$1"
	echo "$STATE"
}

# state_of UNIT: state's answer in STATE, without a subshell.
state_of() {
	local unit=$1
	recorded_state "$unit" && return 0
	STATE=inactive
	if is_enabled "$unit"; then
		if [[ $unit == docker.service || $unit == docker.socket ]] && [[ -n $(docker_blocker_peek) ]]; then
			STATE=failed
		else
			STATE=active
		fi
	fi
	return 0
}

# docker_blocker_peek: docker_blocker without consuming injected faults.
docker_blocker_peek() {
	FAULT_PEEK=1 docker_blocker
}
