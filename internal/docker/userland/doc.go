// Package userland runs the Docker feature scripts on a real Debian 12
// userland: a root file system built from Debian's packages and booted as a
// container with systemd as PID 1, where real apt, dpkg, systemd and dockerd
// meet the scripts exactly as the provider runs them ("bash -s -- ARGS" with
// the script on stdin, the arguments from a docker.Plan).
//
// Its test is behind the build tag "userland" (make test-userland): it needs
// root, Debian's package mirror and several minutes, so make test never runs
// it. The test picks the most real container runtime the machine allows and
// says which one ran and why the more real ones could not:
//
//  1. lxc: Debian's lxc, PVE's runtime, with the configuration
//     pve-container writes for an unprivileged container with
//     features nesting=1,keyctl=1 (PVE::LXC::update_lxc_config);
//  2. nspawn: systemd-nspawn booting the same tree (privileged, all
//     capabilities, keyctl allowed). On a host with cgroup v1 controllers
//     nspawn mounts them read-only, so dockerd starts but "docker run"
//     fails ("mkdir /sys/fs/cgroup/cpuset/docker: read-only file system")
//     and the two image test cases fail there.
//
// A sandbox without systemd (dockerd started by hand) is not a level: the
// scripts need systemctl, so the test fails naming what each level refused.
//
// The root file system is built once with mmdebstrap and kept outside the
// checkout (PHOENIX_USERLAND_CACHE, default
// ~/.cache/terraform-provider-phoenix/userland); each run unpacks a fresh
// copy. PHOENIX_USERLAND_LEVEL=lxc|nspawn forces a level (the test then fails
// when it cannot boot instead of trying the next).
package userland
