variable "config_file" {
  description = "Path to a Phoenix Hypervisor phoenix_lxc_configs.json."
  type        = string
}

variable "node_name" {
  description = "Proxmox VE node that holds the containers (the file does not name nodes)."
  type        = string
}

variable "only_ctids" {
  description = "Manage only these CTIDs (and the containers they are cloned from, which are added); null manages every container of the file."
  type        = list(string)
  default     = null
}

variable "max_depth" {
  description = "Manage only containers at most this many clones away from a container created from a template (0: templates only). Applying depth by depth leaves room to take the snapshots the clones start from; null means no limit."
  type        = number
  default     = null
}

variable "templates" {
  description = "Template volume to use for a template of the file, e.g. { \"/fastData/shared-iso/template/cache/ubuntu-24.04-standard_24.04-2_amd64.tar.zst\" = \"local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst\" }. A file path not listed becomes <template_storage>:vztmpl/<file name>."
  type        = map(string)
  default     = {}
}

variable "template_storage" {
  description = "Storage holding the templates that the file names by path and templates does not map."
  type        = string
  default     = "local"
}

variable "storage" {
  description = "Storage for every root file system and new mount point volume, instead of the file's pools; null keeps the file's (through storage_pools)."
  type        = string
  default     = null
}

variable "storage_pools" {
  description = "Storage to use for a storage pool of the file (storage_pool, and the pool of volumes and zfs_volumes), e.g. { quickOS-lxc-disks = \"local-lvm\" }; pools not listed are used as named."
  type        = map(string)
  default     = {}
}

variable "bridge" {
  description = "Bridge for every network interface, instead of the file's; null keeps the file's."
  type        = string
  default     = null
}

variable "apparmor_profiles" {
  description = "Replacement for an apparmor_profile of the file, e.g. { unconfined = \"\" } (an empty string means Proxmox VE's generated profile). Containers with the docker feature run lxc-docker-secure whatever is set."
  type        = map(string)
  default     = {}
}

variable "drop_lxc_config" {
  description = "Raw lxc_options keys to leave out, by CTID (\"*\": every container), e.g. { \"910\" = [\"lxc.mount.auto\"] }: the provider refuses lines that void the isolation of a Docker container. What is left out is listed in the unmapped output."
  type        = map(list(string))
  default     = {}
}
