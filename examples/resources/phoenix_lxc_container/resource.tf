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
