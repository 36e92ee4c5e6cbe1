# Read a Phoenix Hypervisor phoenix_lxc_configs.json: the result is keyed by
# CTID, and each value holds phoenix_lxc_container arguments (null where the
# file does not set one) plus `unmapped`, the fields without a counterpart.
locals {
  phoenix = provider::phoenix::lxc_configs(file("${path.module}/phoenix_lxc_configs.json"))

  # Containers created from a template; clones must be created after their
  # source (clone.source_vmid), see examples/phoenix-configs for the ordering.
  from_template = { for id, ct in local.phoenix : id => ct if ct.template != null }
}

resource "phoenix_lxc_container" "ct" {
  for_each = local.from_template

  node_name        = "pve1"
  vmid             = each.value.vmid
  hostname         = each.value.hostname
  template         = each.value.template
  unprivileged     = each.value.unprivileged
  cores            = each.value.cores
  memory           = each.value.memory
  swap             = each.value.swap
  start_on_boot    = each.value.start_on_boot
  apparmor_profile = each.value.apparmor_profile
  features         = each.value.features
  lxc_config       = each.value.lxc_config

  rootfs {
    storage = each.value.rootfs.storage
    size    = each.value.rootfs.size
  }

  dynamic "network" {
    for_each = each.value.network
    content {
      name   = network.value.name
      bridge = network.value.bridge
      ip     = network.value.ip
      gw     = network.value.gw
      hwaddr = network.value.hwaddr
    }
  }

  dynamic "startup" {
    for_each = each.value.startup == null ? [] : [each.value.startup]
    content {
      order    = startup.value.order
      up_delay = startup.value.up_delay
    }
  }

  dynamic "docker" {
    for_each = each.value.docker == null ? [] : [each.value.docker]
    content {
      storage_driver = docker.value.storage_driver
      health_checks {
        hello_world    = docker.value.health_checks.hello_world
        network_target = docker.value.health_checks.network_target
      }
    }
  }
}

# What the file says that Terraform does not manage, per container.
output "phoenix_unmapped" {
  value = { for id, ct in local.phoenix : id => ct.unmapped }
}
