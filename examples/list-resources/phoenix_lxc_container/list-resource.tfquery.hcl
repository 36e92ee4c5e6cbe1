# The web containers of pve2 that run Docker, with their configuration for
# terraform query -generate-config-out.
list "phoenix_lxc_container" "web" {
  provider         = phoenix
  include_resource = true
  config {
    node_name        = "pve2"
    tags             = ["web"]
    hostname_pattern = "^web-"
    vmid_min         = 4300
    vmid_max         = 4399
    has_docker       = true
  }
}
