terraform {
  required_providers {
    phoenix = {
      source = "phoenix-hypervisor/phoenix"
    }
  }
}
