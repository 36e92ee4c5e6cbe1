variable "endpoint" {
  description = "API URL of a node, e.g. https://pve1.lan:8006/."
  type        = string
}

variable "api_token" {
  description = "API token, USER@REALM!TOKENID=SECRET, allowed to create and destroy containers."
  type        = string
  sensitive   = true
}

variable "ca_certificate_file" {
  description = "PEM file of the cluster CA (/etc/pve/pve-root-ca.pem); null when the certificate is publicly trusted."
  type        = string
  default     = null
}

variable "ssh_username" {
  description = "User the provider logs in as on the node; another user than root runs commands with sudo -n."
  type        = string
  default     = "root"
}

variable "ssh_private_key_file" {
  description = "Private key file for SSH to the node; null uses the SSH agent."
  type        = string
  default     = null
}

variable "ssh_known_hosts_file" {
  description = "known_hosts file holding the node's host key; null means ~/.ssh/known_hosts."
  type        = string
  default     = null
}

variable "node_name" {
  description = "Node the containers are created on."
  type        = string
  default     = "pve1"
}

variable "node_ssh_host" {
  description = "Host name or address for SSH to the node; null uses node_name."
  type        = string
  default     = null
}

variable "node_ssh_port" {
  description = "SSH port of the node."
  type        = number
  default     = 22
}

variable "template" {
  description = "Container template (a volume ID on the node's storage)."
  type        = string
  default     = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
}

variable "storage" {
  description = "Storage for the root file systems."
  type        = string
  default     = "local-lvm"
}

variable "bridge" {
  description = "Bridge the containers' eth0 is attached to (addresses by DHCP)."
  type        = string
  default     = "vmbr0"
}

variable "docker_vmid" {
  description = "ID of the Docker container; null takes the next free ID."
  type        = number
  default     = 9100
}

variable "plain_vmid" {
  description = "ID of the plain container; null takes the next free ID."
  type        = number
  default     = 9101
}
