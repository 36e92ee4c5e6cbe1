output "vmids" {
  description = "VMID of each container, keyed by CTID."
  value       = { for id, ct in phoenix_lxc_container.ct : id => ct.vmid }
}

output "effective_apparmor_profiles" {
  description = "Profile each container runs under, keyed by CTID."
  value       = { for id, ct in phoenix_lxc_container.ct : id => ct.effective_apparmor_profile }
}

output "docker" {
  description = "What the docker block verified, for the containers that have one, keyed by CTID."
  value = {
    for id, ct in phoenix_lxc_container.ct : id => {
      installed_version = ct.docker.installed_version
      service_active    = ct.docker.service_active
      tests             = ct.docker.tests
    } if ct.docker != null
  }
}
