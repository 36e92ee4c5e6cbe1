terraform {
  # Provider-defined functions need Terraform 1.8 (OpenTofu 1.7).
  required_version = ">= 1.8.0"

  required_providers {
    phoenix = {
      source = "phoenix-hypervisor/phoenix"
    }
  }
}
