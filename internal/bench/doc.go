// Package bench measures what the provider costs against the Proxmox VE
// simulator, driven by the real Terraform CLI: API requests and SSH
// commands per container on refresh, SSH connections per node, the time of
// a plan compared with Terraform's own floor (terraform_data), the overhead
// of an apply over the time the simulated tasks and scripts need, the
// writes of a re-apply and the peak memory of the provider process.
//
// The program in cmd/bench (make bench) runs it, prints a table, writes the
// results as JSON and fails when a target is missed.
package bench
