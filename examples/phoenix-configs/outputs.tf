output "vmids" {
  description = "VMID of every managed container, keyed by CTID."
  value = merge(
    module.level_0.vmids, module.level_1.vmids, module.level_2.vmids, module.level_3.vmids, module.level_4.vmids,
  )

  precondition {
    condition     = length(local.unknown_ctids) == 0
    error_message = "only_ctids names CTIDs the file does not hold: ${join(", ", local.unknown_ctids)}."
  }
  precondition {
    condition     = length(local.too_deep) == 0
    error_message = "Clone chains deeper than ${local.max_level} (add a level to the module): ${join(", ", local.too_deep)}."
  }
}

output "clone_levels" {
  description = "CTIDs in creation order: level 0 from templates, level n cloned from level n-1."
  value       = [for level in local.levels : sort(keys(level))]
}

output "effective_apparmor_profiles" {
  description = "Profile each container runs under (lxc-docker-secure for Docker containers), keyed by CTID."
  value = merge(
    module.level_0.effective_apparmor_profiles, module.level_1.effective_apparmor_profiles,
    module.level_2.effective_apparmor_profiles, module.level_3.effective_apparmor_profiles,
    module.level_4.effective_apparmor_profiles,
  )
}

output "docker" {
  description = "Docker version, service state and test results of each Docker container, keyed by CTID."
  value = merge(
    module.level_0.docker, module.level_1.docker, module.level_2.docker, module.level_3.docker, module.level_4.docker,
  )
}

output "unmapped" {
  description = "Fields of the file with no phoenix_lxc_container counterpart, per managed container: what the Phoenix scripts still do (GPU, volumes, firewall rules, application scripts...)."
  value       = { for id in local.selected : id => concat(local.file[id].unmapped, local.lxc_dropped[id]) }
}
