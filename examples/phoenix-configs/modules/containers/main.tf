# One phoenix_lxc_container per entry, every argument of the function's
# result passed through. A null value leaves the resource's default.
resource "phoenix_lxc_container" "ct" {
  for_each = var.containers

  node_name        = each.value.node_name
  vmid             = each.value.vmid
  template         = each.value.template
  hostname         = each.value.hostname
  description      = each.value.description
  tags             = each.value.tags
  unprivileged     = each.value.unprivileged
  os_type          = each.value.os_type
  cores            = each.value.cores
  cpu_limit        = each.value.cpu_limit
  cpu_units        = each.value.cpu_units
  memory           = each.value.memory
  swap             = each.value.swap
  nameserver       = each.value.nameserver
  searchdomain     = each.value.searchdomain
  features         = each.value.features
  start_on_boot    = each.value.start_on_boot
  started          = each.value.started
  protection       = each.value.protection
  apparmor_profile = each.value.apparmor_profile
  lxc_config       = each.value.lxc_config
  arch             = each.value.arch
  console_mode     = each.value.console_mode
  console          = each.value.console
  tty_count        = each.value.tty_count
  hookscript       = each.value.hookscript
  allow_lxc_hooks  = each.value.allow_lxc_hooks
  entrypoint       = each.value.entrypoint
  environment      = each.value.environment

  dynamic "clone" {
    for_each = each.value.clone == null ? [] : [each.value.clone]
    content {
      # The reference to the source's resource orders the clone after it.
      source_vmid = lookup(var.source_vmids, tostring(clone.value.source_vmid), clone.value.source_vmid)
      source_node = clone.value.source_node
      snapshot    = clone.value.snapshot
      full        = clone.value.full
      storage     = clone.value.storage
    }
  }

  dynamic "rootfs" {
    for_each = each.value.rootfs == null ? [] : [each.value.rootfs]
    content {
      storage = rootfs.value.storage
      size    = rootfs.value.size
    }
  }

  dynamic "network" {
    for_each = each.value.network == null ? [] : each.value.network
    content {
      name     = network.value.name
      bridge   = network.value.bridge
      ip       = network.value.ip
      gw       = network.value.gw
      ip6      = network.value.ip6
      gw6      = network.value.gw6
      hwaddr   = network.value.hwaddr
      firewall = network.value.firewall
      vlan     = network.value.vlan
      mtu      = network.value.mtu
      rate     = network.value.rate
    }
  }

  dynamic "id_map" {
    for_each = each.value.id_map == null ? [] : each.value.id_map
    content {
      kind         = id_map.value.kind
      container_id = id_map.value.container_id
      host_id      = id_map.value.host_id
      size         = id_map.value.size
    }
  }

  dynamic "mount_point" {
    for_each = each.value.mount_point == null ? [] : each.value.mount_point
    content {
      slot          = mount_point.value.slot
      path          = mount_point.value.path
      storage       = mount_point.value.storage
      size          = mount_point.value.size
      volume        = mount_point.value.volume
      read_only     = mount_point.value.read_only
      backup        = mount_point.value.backup
      acl           = mount_point.value.acl
      quota         = mount_point.value.quota
      replicate     = mount_point.value.replicate
      shared        = mount_point.value.shared
      mount_options = mount_point.value.mount_options
    }
  }

  dynamic "device" {
    for_each = each.value.device == null ? [] : each.value.device
    content {
      slot       = device.value.slot
      path       = device.value.path
      mode       = device.value.mode
      uid        = device.value.uid
      gid        = device.value.gid
      deny_write = device.value.deny_write
    }
  }

  dynamic "startup" {
    for_each = each.value.startup == null ? [] : [each.value.startup]
    content {
      order      = startup.value.order
      up_delay   = startup.value.up_delay
      down_delay = startup.value.down_delay
    }
  }

  dynamic "docker" {
    for_each = each.value.docker == null ? [] : [each.value.docker]
    content {
      package_source    = docker.value.package_source
      version           = docker.value.version
      compose           = docker.value.compose
      storage_driver    = docker.value.storage_driver
      daemon_json       = docker.value.daemon_json
      verify_on_refresh = docker.value.verify_on_refresh

      dynamic "health_checks" {
        for_each = docker.value.health_checks == null ? [] : [docker.value.health_checks]
        content {
          hello_world    = health_checks.value.hello_world
          network_target = health_checks.value.network_target
        }
      }
    }
  }
}
