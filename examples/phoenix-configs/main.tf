# Creates every container of a phoenix_lxc_configs.json with
# phoenix_lxc_container, keeping the file the single source of truth.
#
# Clones (clone_from_ctid) must be created after their source, and a resource
# cannot depend on itself, so the containers are split by clone depth: level 0
# holds the containers created from a template (or cloned from a container
# this file does not describe), level n the clones of level n-1. Each level is
# one instance of ./modules/containers whose clones reference the previous
# level's VMIDs.

locals {
  file = provider::phoenix::lxc_configs(file(var.config_file))

  # The source of each clone that the file describes ("" for none).
  parent = {
    for id, ct in local.file : id => (
      ct.clone == null ? "" : contains(keys(local.file), tostring(ct.clone.source_vmid)) ? tostring(ct.clone.source_vmid) : ""
    )
  }
  # Ancestors up to four generations, the module's deepest level; a fifth one
  # means a chain too deep (the function already refuses loops).
  gen2 = { for id, p in local.parent : id => lookup(local.parent, p, "") }
  gen3 = { for id, p in local.gen2 : id => lookup(local.parent, p, "") }
  gen4 = { for id, p in local.gen3 : id => lookup(local.parent, p, "") }
  gen5 = { for id, p in local.gen4 : id => lookup(local.parent, p, "") }
  ancestors = {
    for id in keys(local.file) : id => compact([local.parent[id], local.gen2[id], local.gen3[id], local.gen4[id]])
  }
  depth     = { for id, a in local.ancestors : id => length(a) }
  too_deep  = [for id, g in local.gen5 : id if g != ""]
  max_level = 4

  wanted = var.only_ctids == null ? keys(local.file) : distinct(flatten([
    for id in var.only_ctids : concat([id], lookup(local.ancestors, id, []))
  ]))
  unknown_ctids = [for id in local.wanted : id if !contains(keys(local.file), id)]
  selected = [
    for id in local.wanted : id
    if contains(keys(local.file), id) && (var.max_depth == null ? true : lookup(local.depth, id, 0) <= var.max_depth)
  ]

  # Raw lines kept and left out (drop_lxc_config).
  drop_keys = { for id in local.selected : id => concat(lookup(var.drop_lxc_config, id, []), lookup(var.drop_lxc_config, "*", [])) }
  lxc_lines = { for id in local.selected : id => local.file[id].lxc_config == null ? [] : local.file[id].lxc_config }
  lxc_kept  = { for id, lines in local.lxc_lines : id => [for l in lines : l if !contains(local.drop_keys[id], l.key)] }
  lxc_dropped = {
    for id, lines in local.lxc_lines : id => [for l in lines : "lxc_options: \"${l.key}=${l.value}\" (left out by drop_lxc_config)" if contains(local.drop_keys[id], l.key)]
  }

  # The function's values with the overrides applied: what each resource gets.
  containers = {
    for id in local.selected : id => merge(local.file[id], {
      node_name = local.file[id].node_name == null ? var.node_name : local.file[id].node_name
      template = local.file[id].template == null ? null : lookup(var.templates, local.file[id].template,
        startswith(local.file[id].template, "/") ? "${var.template_storage}:vztmpl/${basename(local.file[id].template)}" : local.file[id].template
      )
      rootfs = local.file[id].rootfs == null ? null : merge(local.file[id].rootfs, {
        storage = var.storage != null ? var.storage : (
          local.file[id].rootfs.storage == null ? null : lookup(var.storage_pools, local.file[id].rootfs.storage, local.file[id].rootfs.storage)
        )
      })
      network = local.file[id].network == null ? null : [
        for n in local.file[id].network : merge(n, { bridge = var.bridge != null ? var.bridge : n.bridge })
      ]
      # New volumes go to the mapped storage pool, like the root file system.
      mount_point = local.file[id].mount_point == null ? null : [
        for mp in local.file[id].mount_point : merge(mp, {
          storage = mp.storage == null ? null : var.storage != null ? var.storage : lookup(var.storage_pools, mp.storage, mp.storage)
        })
      ]
      lxc_config = length(local.lxc_kept[id]) == 0 ? null : local.lxc_kept[id]
      apparmor_profile = local.file[id].apparmor_profile == null ? null : (
        lookup(var.apparmor_profiles, local.file[id].apparmor_profile, local.file[id].apparmor_profile) == "" ? null :
        lookup(var.apparmor_profiles, local.file[id].apparmor_profile, local.file[id].apparmor_profile)
      )
    })
  }
  levels = [for level in range(local.max_level + 1) : { for id, ct in local.containers : id => ct if local.depth[id] == level }]
}

module "level_0" {
  source     = "./modules/containers"
  containers = local.levels[0]
}

module "level_1" {
  source       = "./modules/containers"
  containers   = local.levels[1]
  source_vmids = module.level_0.vmids
}

module "level_2" {
  source       = "./modules/containers"
  containers   = local.levels[2]
  source_vmids = module.level_1.vmids
}

module "level_3" {
  source       = "./modules/containers"
  containers   = local.levels[3]
  source_vmids = module.level_2.vmids
}

module "level_4" {
  source       = "./modules/containers"
  containers   = local.levels[4]
  source_vmids = module.level_3.vmids
}
