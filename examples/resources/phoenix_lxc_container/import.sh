# Import by node and ID...
terraform import phoenix_lxc_container.web pve1/102

# ...or by ID alone: the node is looked up in the cluster.
terraform import phoenix_lxc_container.web 102
