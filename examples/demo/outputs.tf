output "docker_container" {
  description = "The Docker container: its profile, Docker's version and the result of each test."
  value = {
    id                         = phoenix_lxc_container.docker.id
    effective_apparmor_profile = phoenix_lxc_container.docker.effective_apparmor_profile
    nesting                    = phoenix_lxc_container.docker.features.nesting
    keyctl                     = phoenix_lxc_container.docker.features.keyctl
    docker_version             = phoenix_lxc_container.docker.docker.installed_version
    docker_service_active      = phoenix_lxc_container.docker.docker.service_active
    docker_tests               = { for name, t in phoenix_lxc_container.docker.docker.tests : name => t.result }
  }
}

output "plain_container" {
  description = "The container without Docker."
  value = {
    id                         = phoenix_lxc_container.plain.id
    effective_apparmor_profile = phoenix_lxc_container.plain.effective_apparmor_profile
    nesting                    = phoenix_lxc_container.plain.features.nesting
  }
}
