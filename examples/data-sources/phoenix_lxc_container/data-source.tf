data "phoenix_lxc_container" "db" {
  vmid = 103 # node_name is looked up when omitted
}

output "db_address" {
  value = data.phoenix_lxc_container.db.network[0].ip
}
