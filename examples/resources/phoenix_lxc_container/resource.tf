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
  # { test_case_docker_hello_world = { result = "passed", duration_ms = 412, ran_at = "2026-01-02T03:04:05Z" }, ... }
  value = phoenix_lxc_container.docker.docker.tests
}

# Shared data and a GPU. The volume mount point is allocated and can grow;
# the bind mount and the devices are reserved to root@pam by Proxmox VE, so
# with an API token the provider sets them with "pct set" over its ssh
# block. Each block names its slot (mp0, mp1, dev0, ...): removing one
# never moves another.
resource "phoenix_lxc_container" "gpu" {
  node_name = "pve1"
  hostname  = "llm-01"
  template  = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
  cores     = 8
  memory    = 32768

  # The DHCP address is in ip_addresses once the apply ends.
  wait_for_ip = true

  rootfs {
    storage = "local-lvm"
    size    = "64G"
  }

  network {
    name   = "eth0"
    bridge = "vmbr0"
    ip     = "dhcp"
  }

  # A new 200 GiB volume at /models (removing the block detaches it; the
  # volume stays as unusedN).
  mount_point {
    slot    = 0
    path    = "/models"
    storage = "local-lvm"
    size    = "200G"
    backup  = false
  }

  # A host directory, read-only.
  mount_point {
    slot          = 1
    path          = "/certs"
    volume        = "/srv/shared/certs"
    read_only     = true
    mount_options = ["nosuid", "nodev", "noexec"]
  }

  # NVIDIA device nodes (the host runs the driver; the container brings the
  # matching user-space libraries).
  device {
    slot = 0
    path = "/dev/nvidia0"
  }
  device {
    slot = 1
    path = "/dev/nvidiactl"
  }
  device {
    slot = 2
    path = "/dev/nvidia-uvm"
  }
  device {
    slot = 3
    path = "/dev/dri/renderD128"
    gid  = 104 # the render group inside the container
    mode = "0660"
  }
}

output "llm_address" {
  value = phoenix_lxc_container.gpu.ip_addresses[0]
}
