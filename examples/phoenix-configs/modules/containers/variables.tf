variable "containers" {
  description = "Containers of one clone level, keyed by CTID: values of provider::phoenix::lxc_configs with the parent module's overrides applied and node_name set."
  type        = any
}

variable "source_vmids" {
  description = "VMIDs of the previous level's containers, keyed by CTID. A clone whose source is listed here references it, so it is created after its source."
  type        = map(number)
  default     = {}
}
