// Package sshd is the Proxmox VE simulator's per-node SSH server.
//
// Start serves SSH (public-key auth for root, exec requests only, many
// concurrent sessions per connection). Every command runs for real with
// "bash -c" inside a bubblewrap sandbox that looks like a PVE node: the host's
// /usr, /bin, /lib* and /etc read-only (/etc mounted once, its entries linked
// from the node's own /etc), and from the state dir (contract 3):
//
//	<state>/nodes                -> /etc/pve/nodes (/etc/pve/lxc and /etc/pve/local are links, as with pmxcfs)
//	<state>/apparmor/<node>      -> /etc/apparmor.d (seeded from the host's on first start)
//	<state>/runlock/<node>       -> /run/lock (the node's own lock files)
//	<state>/locks                -> /run/lock/lxc
//	<state>/apparmor/<node>/.loaded -> /sys/kernel/security/apparmor/profiles (read-only)
//	<state>/volumes/<node>       -> /var/lib/phoenix-sim/volumes
//	<state>/runtime/<node>       -> /var/lib/phoenix-sim/runtime
//	<state>/ssh/tmp/<node>       -> /tmp (kept between sessions, like a real node's)
//
// PATH starts with stand-ins for pct, pveversion and apparmor_parser. The
// apparmor_parser stand-in compiles profiles with the real parser in
// skip-kernel-load mode when it is installed and records the "loaded"
// profiles and their modes in <state>/apparmor/<node>/.loaded, in the
// format of the kernel's list; it reports the version Server.SetParserVersion
// sets, else the real parser's. "pct exec" runs the
// command in a second sandbox whose root is the container's rootfs volume,
// without network, with stand-ins for systemctl, journalctl, apt-get,
// apt-cache, dpkg, dpkg-query, docker, curl, ping, gpg, getent and
// lsb_release that keep their state in the container's files, and with
// /proc/1/attr/current reporting the container's AppArmor profile. The first
// exec into a fresh volume seeds a minimal Debian (or Ubuntu, after the
// config's ostype) system. Docker starts only with features nesting=1, keyctl=1
// for unprivileged containers, and a profile that permits nesting: unconfined,
// PVE's generated default, or a named profile loaded on the node together with
// lxc.apparmor.allow_nesting: 1.
//
// Event.Write tells whether a command changed the node's state: the
// server keeps a journal of the changes under the state (inotify watches,
// journal.go), so the cost of a command does not grow with the node's
// containers; without inotify it walks the state before and after.
// Options.ExecLatency makes every pct exec wait, as lxc-attach takes a few
// hundred milliseconds on a real node.
//
// Faults: Options.Faults drops connections before, during or after matching
// commands (see Injector); SetCTFault makes a container's apt-get or docker
// fail, or its network unreachable. CTInstalls counts installs from the
// container's apt log (/var/log/apt/phoenix-sim.log).
//
// Bubblewrap is required: Start fails with an explanation when it is missing
// or cannot create namespaces; nothing ever runs unsandboxed. As root the
// sandboxes run as root; otherwise inside a user namespace as uid 0.
package sshd
