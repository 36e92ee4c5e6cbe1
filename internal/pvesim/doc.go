// Package pvesim is a Proxmox VE API simulator for tests, demos and
// benchmarks. It aims to refuse what PVE refuses and to answer in PVE's own
// shapes, so that a client that works against it works against PVE.
//
// # API
//
// HTTPS (HTTP/1.1) on loopback with a CA generated in the state dir
// (pvesim-ca.pem) that clients trust instead of disabling verification.
// Authentication by API token (Authorization: PVEAPIToken=USER@REALM!ID=SECRET)
// or by ticket (POST /access/ticket, cookie PVEAuthCookie, header
// CSRFPreventionToken on writes). Parameters are checked with the table of
// package params; errors are answered like PVE: 400 "Parameter verification
// failed." with {"data":null,"errors":{...}}, other failures with the
// message as the HTTP reason phrase and {"data":null}.
//
// Endpoints: /version, /access/ticket, /cluster/status, /cluster/resources,
// /cluster/nextid, /nodes, /nodes/{node}/status, /nodes/{node}/tasks[/{upid}
// [/status|/log]], /nodes/{node}/storage[/{storage}[/status|/content]],
// /nodes/{node}/lxc (list, create) and below /nodes/{node}/lxc/{vmid}: the
// index, DELETE, config (GET, PUT), pending, status (current, start, stop,
// shutdown, reboot), clone, resize, template, interfaces, snapshot (list,
// create, delete, config).
//
// # State
//
// Containers are PVE config files under the state dir, read and written
// with package lxcconf while holding PVE's config lock (an flock on
// locks/pve-config-<vmid>.lock); volumes are directories under volumes/,
// running containers are marked under runtime/. Nothing is cached, so a
// restart, or an edit made through a node's shell, is seen at once. Tasks
// (UPIDs) live in memory and run for Options.TaskDelay.
//
// # Inspection and faults
//
// Without authentication, from loopback only:
//
//	GET    /_sim/requests[?format=jsonl]  API calls since start or the last reset
//	DELETE /_sim/requests
//	GET    /_sim/tasks                    every task with exact start and end times
//	GET    /_sim/faults                   active rules
//	POST   /_sim/faults                   add a rule (or an array of rules)
//	DELETE /_sim/faults                   remove all rules, release hanging tasks
//	GET    /_sim/exec-latency             {"exec_latency_ms": N}: the wait of each pct exec
//	PUT    /_sim/exec-latency             set it (Options.ExecLatency, Sim.SetExecLatency)
//
// Rules, see Fault:
//
//	{"path_regex": "/lxc/\\d+/config$", "method": "PUT", "status": 500, "message": "boom", "times": 3}
//	{"latency_ms": 50}
//	{"task_fail": {"type": "vzcreate", "times": 1, "message": "no space left on device"}}
//	{"task_hang": {"type": "vzstart"}}
//	{"reset_connection": {"path_regex": "/status/current$", "times": 1}}
//	{"hold_lock": {"vmid": 102, "lock": "backup", "times": 2}}
//
// Go tests use Start, which wraps the same: Sim.Requests, Sim.AddFault and
// friends.
package pvesim
