# The demo of `make demo`: one container running Docker under the hardened
# AppArmor profile, one plain container. make demo applies it to the
# simulator; terraform.tfvars.example shows the variables for a real cluster.

terraform {
  required_version = ">= 1.8"
  required_providers {
    phoenix = {
      source = "phoenix-hypervisor/phoenix"
    }
  }
}

provider "phoenix" {
  endpoint       = var.endpoint
  api_token      = var.api_token
  ca_certificate = var.ca_certificate_file == null ? null : file(var.ca_certificate_file)

  # The docker block needs SSH to the node: the API can neither run commands
  # in a container nor set lxc.apparmor.profile.
  ssh {
    username         = var.ssh_username
    private_key      = var.ssh_private_key_file == null ? null : file(var.ssh_private_key_file)
    agent            = var.ssh_private_key_file == null # no key file: use the SSH agent
    known_hosts_file = var.ssh_known_hosts_file

    # Where SSH reaches the node: its name by default; the simulator
    # listens on a loopback port.
    node {
      name    = var.node_name
      address = coalesce(var.node_ssh_host, var.node_name)
      port    = var.node_ssh_port
    }
  }
}

# Docker under lxc-docker-secure: nesting and keyctl are planned for it,
# Docker is installed once, then checked and tested.
resource "phoenix_lxc_container" "docker" {
  node_name    = var.node_name
  vmid         = var.docker_vmid
  hostname     = "demo-docker"
  description  = "Docker host created by the terraform-provider-phoenix demo"
  template     = var.template
  unprivileged = true
  tags         = ["demo", "docker"]

  cores  = 2
  memory = 2048

  rootfs {
    storage = var.storage
    size    = "16G"
  }

  network {
    name   = "eth0"
    bridge = var.bridge
    ip     = "dhcp"
  }

  docker {
    daemon_json = jsonencode({ "log-driver" = "journald" })
    health_checks {
      hello_world    = true
      network_target = "1.1.1.1"
    }
  }
}

# A container without Docker keeps Proxmox VE's own AppArmor profile.
resource "phoenix_lxc_container" "plain" {
  node_name    = var.node_name
  vmid         = var.plain_vmid
  hostname     = "demo-plain"
  description  = "Plain container created by the terraform-provider-phoenix demo"
  template     = var.template
  unprivileged = true
  tags         = ["demo"]

  cores  = 1
  memory = 512

  rootfs {
    storage = var.storage
    size    = "8G"
  }

  network {
    name   = "eth0"
    bridge = var.bridge
    ip     = "dhcp"
  }
}
