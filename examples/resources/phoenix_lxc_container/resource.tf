# A container created from a template on node pve1.
resource "phoenix_lxc_container" "web" {
  node_name = "pve1"
  vmid      = 102 # optional: the next free ID when omitted
  hostname  = "web-01"
  template  = "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst"
  tags      = ["web", "production"]

  cores  = 2
  memory = 2048
  swap   = 512

  rootfs {
    storage = "local-lvm"
    size    = "32G" # growing resizes in place; shrinking is refused
  }

  network {
    name   = "eth0"
    bridge = "vmbr0"
    ip     = "10.0.0.202/24"
    gw     = "10.0.0.1"
  }

  features = {
    nesting = true
  }

  start_on_boot = true
  startup {
    order    = 2
    up_delay = 10
  }

  ssh_public_keys = [file("~/.ssh/id_ed25519.pub")]
}

# A full clone of a prepared container, from one of its snapshots.
resource "phoenix_lxc_container" "worker" {
  node_name = "pve1"
  hostname  = "worker-01"
  memory    = 1024

  clone {
    source_vmid = 902
    snapshot    = "pre-configured"
  }
}

# Docker in an unprivileged container, confined by the hardened
# lxc-docker-secure AppArmor profile (planned automatically, together with
# features.nesting and features.keyctl). Needs the provider's ssh block.
resource "phoenix_lxc_container" "docker" {
  node_name = "pve1"
  vmid      = 950
  hostname  = "docker-01"
  template  = "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst"
  cores     = 2
  memory    = 2048

  rootfs {
    storage = "local-lvm"
    size    = "32G"
  }

  network {
    name   = "eth0"
    bridge = "vmbr0"
    ip     = "10.0.0.202/24"
    gw     = "10.0.0.1"
  }

  # Raw lines you own, e.g. a FUSE device for fuse-overlayfs.
  lxc_config = [
    { key = "lxc.cgroup2.devices.allow", value = "c 10:229 rwm" },
    { key = "lxc.mount.entry", value = "/dev/fuse dev/fuse none bind,create=file 0 0" },
  ]

  docker {
    package_source = "docker-ce"
    storage_driver = "overlay2"
    daemon_json    = jsonencode({ "log-driver" = "journald" })

    health_checks {
      hello_world    = true
      network_target = "1.1.1.1"
    }
  }
}

output "docker_tests" {
  value = phoenix_lxc_container.docker.docker.tests # { test_case_docker_hello_world = "passed", ... }
}
