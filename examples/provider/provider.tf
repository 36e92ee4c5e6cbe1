# Token authentication, TLS verified against the cluster's own CA.
provider "phoenix" {
  endpoint       = "https://pve1.lan:8006/"
  api_token      = var.pve_api_token # root@pam!terraform=...
  ca_certificate = file("${path.module}/pve-root-ca.pem")

  # Needed by the docker block and raw lxc.* lines: the API cannot run
  # commands in a container nor set lxc.apparmor.profile.
  ssh {
    username         = "root"
    private_key      = file("~/.ssh/id_ed25519")
    known_hosts_file = pathexpand("~/.ssh/known_hosts")

    # Reach pve2 through another address than the one the cluster reports.
    node {
      name    = "pve2"
      address = "10.0.0.12"
      port    = 22
    }
  }
}

variable "pve_api_token" {
  type      = string
  sensitive = true
}
