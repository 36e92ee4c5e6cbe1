package pve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Resource is one entry of GET /cluster/resources.
type Resource struct {
	ID       string   `json:"id"`   // e.g. "lxc/102", "node/pve1", "storage/pve1/local"
	Type     string   `json:"type"` // "lxc", "qemu", "node", "storage", ...
	Node     string   `json:"node"`
	VMID     FlexInt  `json:"vmid"`
	Name     string   `json:"name"`
	Status   string   `json:"status"`
	Template FlexBool `json:"template"`
	Tags     string   `json:"tags"`
	Lock     string   `json:"lock"`
	Pool     string   `json:"pool"`
	// HAState is the guest's HA state: the CRM's service state (started,
	// stopped, error, ...) or, before the CRM has it, the state option of
	// its HA resource; "" without an HA resource.
	HAState string  `json:"hastate"`
	Storage string  `json:"storage"`
	MaxMem  FlexInt `json:"maxmem"`
	MaxDisk FlexInt `json:"maxdisk"`
	Uptime  FlexInt `json:"uptime"`
}

// ClusterResources lists cluster resources; typ filters ("vm" for guests,
// "node", "storage", ...) and "" lists everything.
func (c *Client) ClusterResources(ctx context.Context, typ string) ([]Resource, error) {
	var params map[string]string
	if typ != "" {
		params = map[string]string{"type": typ}
	}
	var out []Resource
	if err := c.get(ctx, "/cluster/resources", params, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// FindContainer returns the node a container lives on, from
// /cluster/resources; found is false when no container has that vmid.
func (c *Client) FindContainer(ctx context.Context, vmid int) (node string, found bool, err error) {
	res, err := c.ClusterResources(ctx, "vm")
	if err != nil {
		return "", false, err
	}
	for _, r := range res {
		if r.Type == "lxc" && int(r.VMID) == vmid {
			return r.Node, true, nil
		}
	}
	return "", false, nil
}

// NextID returns the next free vmid of the cluster. Two callers may get the
// same answer: creating with it can still fail with "already exists".
func (c *Client) NextID(ctx context.Context) (int, error) {
	var id FlexInt
	if err := c.get(ctx, "/cluster/nextid", nil, &id); err != nil {
		return 0, err
	}
	return int(id), nil
}

func ctPath(node string, vmid int) string {
	return "/nodes/" + seg(node) + "/lxc/" + strconv.Itoa(vmid)
}

// RawConfig is a container config as GET .../config returns it.
type RawConfig struct {
	// Values holds every key as PVE would write it in the config file
	// (numbers and booleans as text), except digest and lxc.
	Values map[string]string
	// LXC holds the raw lxc.* lines in order, as [key, value] pairs.
	LXC [][2]string
	// Digest is the SHA1 of the config, for UpdateContainerConfig.
	Digest string
}

// ContainerConfig returns a container's current config.
func (c *Client) ContainerConfig(ctx context.Context, node string, vmid int) (*RawConfig, error) {
	var raw map[string]json.RawMessage
	path := ctPath(node, vmid) + "/config"
	if err := c.get(ctx, path, nil, &raw); err != nil {
		return nil, err
	}
	return parseRawConfig(path, raw)
}

func parseRawConfig(path string, raw map[string]json.RawMessage) (*RawConfig, error) {
	cfg := &RawConfig{Values: make(map[string]string, len(raw))}
	for k, v := range raw {
		switch k {
		case "lxc":
			var pairs [][]string
			if err := json.Unmarshal(v, &pairs); err != nil {
				return nil, fmt.Errorf("GET %s: the lxc member is not a list of pairs: %w", path, err)
			}
			for _, p := range pairs {
				if len(p) != 2 {
					return nil, fmt.Errorf("GET %s: an lxc entry has %d items instead of 2", path, len(p))
				}
				cfg.LXC = append(cfg.LXC, [2]string{p[0], p[1]})
			}
		case "digest":
			if err := json.Unmarshal(v, &cfg.Digest); err != nil {
				return nil, fmt.Errorf("GET %s: digest is not a string: %w", path, err)
			}
		default:
			s, ok, err := configValue(v)
			if err != nil {
				return nil, fmt.Errorf("GET %s: value of %s: %w", path, k, err)
			}
			if ok {
				cfg.Values[k] = s
			}
		}
	}
	return cfg, nil
}

// UpdateContainerConfig sets and deletes config keys in one PUT. With a
// digest, PVE refuses the change if the config changed since it was read
// (IsDigestMismatch); that error is returned, never retried. A locked config
// is retried, and so are transient failures: setting the same values again
// is harmless, and with a digest PVE refuses a repeat of a change it already
// made (the caller then sees a digest mismatch and reads the config again).
// Nothing is sent when there is nothing to change.
func (c *Client) UpdateContainerConfig(ctx context.Context, node string, vmid int, set map[string]string, del []string, digest string) error {
	if len(set) == 0 && len(del) == 0 {
		return nil
	}
	params := make(map[string]string, len(set)+2)
	for k, v := range set {
		params[k] = v
	}
	if len(del) > 0 {
		d := append([]string(nil), del...)
		sort.Strings(d)
		for _, k := range d {
			if _, both := set[k]; both {
				return fmt.Errorf("config key %s is both set and deleted", k)
			}
			if k == "" || strings.Contains(k, ",") {
				return fmt.Errorf("invalid config key %q to delete", k)
			}
		}
		params["delete"] = strings.Join(d, ",")
	}
	if digest != "" {
		params["digest"] = digest
	}
	p := c.writePolicy
	p.RetryIf = func(err error) bool { return IsLocked(err) || IsTransient(err) }
	return c.retry(ctx, http.MethodPut+" "+ctPath(node, vmid)+"/config", p, func() error {
		return c.do(ctx, http.MethodPut, ctPath(node, vmid)+"/config", params, nil)
	})
}

// CreateContainer starts POST /nodes/{node}/lxc (params include vmid,
// ostemplate, ...) and returns the task's UPID. It is never repeated
// blindly: after a failure that leaves open whether PVE received it (a 5xx,
// a broken connection), it checks whether the container exists. If it does,
// the request took effect and the UPID returned is empty: wait for the
// creation with WaitCreated. If it does not, the request is repeated with
// backoff.
func (c *Client) CreateContainer(ctx context.Context, node string, params map[string]string) (string, error) {
	vmid, err := strconv.Atoi(params["vmid"])
	if err != nil {
		return "", errors.New("create container: vmid missing from parameters")
	}
	var upid string
	applied, err := c.writeChecked(ctx, http.MethodPost, "/nodes/"+seg(node)+"/lxc", params, &upid,
		func(ctx context.Context) (bool, error) { return c.ContainerExists(ctx, node, vmid) })
	if applied {
		return "", nil
	}
	return upid, err
}

// WaitCreated waits until a container whose creation started without a
// known UPID is created: its "create" lock is gone. It fails when the
// container vanished (the creation failed and PVE removed it) or ctx ends.
func (c *Client) WaitCreated(ctx context.Context, node string, vmid int) error {
	delay := c.poll.Initial
	for {
		st, err := c.ContainerStatus(ctx, node, vmid)
		switch {
		case IsNotFound(err):
			return fmt.Errorf("the creation of CT %d on node %s failed: the container no longer exists (see the node's task log)", vmid, node)
		case err != nil:
			return err
		case st.Lock != "create":
			return nil
		}
		if err := c.sleep(ctx, delay); err != nil {
			return fmt.Errorf("CT %d on node %s is still being created: %w", vmid, node, err)
		}
		delay = c.poll.next(delay)
	}
}

// CloneContainer starts POST .../clone of container vmid (params include
// newid) and returns the task's UPID; repeated like CreateContainer, with
// an empty UPID when a request whose answer was lost took effect.
func (c *Client) CloneContainer(ctx context.Context, node string, vmid int, params map[string]string) (string, error) {
	newid, err := strconv.Atoi(params["newid"])
	if err != nil {
		return "", errors.New("clone container: newid missing from parameters")
	}
	target := node
	if params["target"] != "" {
		target = params["target"]
	}
	var upid string
	applied, err := c.writeChecked(ctx, http.MethodPost, ctPath(node, vmid)+"/clone", params, &upid,
		func(ctx context.Context) (bool, error) { return c.ContainerExists(ctx, target, newid) })
	if applied {
		return "", nil
	}
	return upid, err
}

// ContainerExists reports whether the container exists on node.
func (c *Client) ContainerExists(ctx context.Context, node string, vmid int) (bool, error) {
	_, err := c.ContainerStatus(ctx, node, vmid)
	switch {
	case err == nil:
		return true, nil
	case IsNotFound(err):
		return false, nil
	default:
		return false, err
	}
}

// Status is a container's current status.
type Status struct {
	VMID     FlexInt  `json:"vmid"`
	Name     string   `json:"name"`
	Status   string   `json:"status"` // "running" or "stopped"
	Lock     string   `json:"lock"`   // e.g. "create", "backup", "" when unlocked
	Uptime   FlexInt  `json:"uptime"`
	CPUs     float64  `json:"cpus"`
	MaxMem   FlexInt  `json:"maxmem"`
	Mem      FlexInt  `json:"mem"`
	MaxSwap  FlexInt  `json:"maxswap"`
	Swap     FlexInt  `json:"swap"`
	MaxDisk  FlexInt  `json:"maxdisk"`
	Disk     FlexInt  `json:"disk"`
	Tags     string   `json:"tags"`
	Template FlexBool `json:"template"`
	// HA is the container's HA status (PVE::HA::Config::get_service_status):
	// managed unless it has no HA resource or an ignored one, and the CRM's
	// service state.
	HA struct {
		Managed FlexInt `json:"managed"`
		State   string  `json:"state"`
	} `json:"ha"`
}

// Running reports whether the container runs.
func (s *Status) Running() bool { return s.Status == "running" }

// ContainerStatus returns a container's current status.
func (c *Client) ContainerStatus(ctx context.Context, node string, vmid int) (*Status, error) {
	var st Status
	if err := c.get(ctx, ctPath(node, vmid)+"/status/current", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func (c *Client) statusAction(ctx context.Context, node string, vmid int, action string, params map[string]string) (string, error) {
	var upid string
	err := c.write(ctx, http.MethodPost, ctPath(node, vmid)+"/status/"+action, params, &upid)
	return upid, err
}

// Start starts a container and returns the task's UPID.
func (c *Client) Start(ctx context.Context, node string, vmid int) (string, error) {
	return c.statusAction(ctx, node, vmid, "start", nil)
}

// Stop stops a container at once and returns the task's UPID.
func (c *Client) Stop(ctx context.Context, node string, vmid int) (string, error) {
	return c.statusAction(ctx, node, vmid, "stop", nil)
}

// Reboot reboots a container and returns the task's UPID.
func (c *Client) Reboot(ctx context.Context, node string, vmid int) (string, error) {
	return c.statusAction(ctx, node, vmid, "reboot", nil)
}

// Resize grows disk ("rootfs", "mp0", ...) to size (e.g. "32G", or "+4G"
// to add) and returns the task's UPID.
func (c *Client) Resize(ctx context.Context, node string, vmid int, disk, size string) (string, error) {
	var upid string
	err := c.write(ctx, http.MethodPut, ctPath(node, vmid)+"/resize", map[string]string{"disk": disk, "size": size}, &upid)
	return upid, err
}

// DeleteOptions are the options of DELETE /nodes/{node}/lxc/{vmid}.
type DeleteOptions struct {
	// Purge removes the container from backup, replication and HA jobs.
	Purge bool
	// DestroyUnreferencedDisks destroys disks carrying the vmid that the
	// config does not reference.
	DestroyUnreferencedDisks bool
	// Force destroys even a running container.
	Force bool
}

// DeleteContainer destroys a container and returns the task's UPID. After a
// failure that leaves open whether PVE received the request, it checks
// whether the container still exists and repeats the request only if it
// does; when it is gone, the UPID returned is empty.
func (c *Client) DeleteContainer(ctx context.Context, node string, vmid int, opts DeleteOptions) (string, error) {
	params := map[string]string{}
	if opts.Purge {
		params["purge"] = "1"
	}
	if opts.DestroyUnreferencedDisks {
		params["destroy-unreferenced-disks"] = "1"
	}
	if opts.Force {
		params["force"] = "1"
	}
	var upid string
	applied, err := c.writeChecked(ctx, http.MethodDelete, ctPath(node, vmid), params, &upid,
		func(ctx context.Context) (bool, error) {
			exists, err := c.ContainerExists(ctx, node, vmid)
			return !exists, err
		})
	if applied {
		return "", nil
	}
	return upid, err
}

// Permissions are the effective privileges of the caller from GET
// /access/permissions: path -> privilege -> 1 when it propagates to the
// path's children, 0 when it holds on the path alone.
type Permissions map[string]map[string]int

// Permissions asks Proxmox VE for the caller's effective privileges on every
// path that has an ACL (and the standard paths).
func (c *Client) Permissions(ctx context.Context) (Permissions, error) {
	var out Permissions
	if err := c.get(ctx, "/access/permissions", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// PermissionsAt asks Proxmox VE for the caller's privileges on one path
// (GET /access/permissions?path=...), computed by PVE itself: ACL
// inheritance, NoAccess, pools and privilege separation included. The
// answer maps each privilege to 1 when it propagates, 0 when not.
func (c *Client) PermissionsAt(ctx context.Context, path string) (map[string]int, error) {
	var out Permissions
	if err := c.get(ctx, "/access/permissions", map[string]string{"path": path}, &out); err != nil {
		return nil, err
	}
	return out[path], nil
}

// Interface is one network interface of a running container, as
// GET /nodes/{node}/lxc/{vmid}/interfaces reports it.
type Interface struct {
	Name      string `json:"name"`
	HWAddr    string `json:"hwaddr"`
	Addresses []struct {
		IP     string `json:"ip-address"`
		Type   string `json:"ip-address-type"`
		Prefix int    `json:"prefix"`
	} `json:"ip-addresses"`
}

// ContainerInterfaces returns the network interfaces of a running container
// with their addresses (PVE answers an error for a stopped one).
func (c *Client) ContainerInterfaces(ctx context.Context, node string, vmid int) ([]Interface, error) {
	var out []Interface
	if err := c.get(ctx, ctPath(node, vmid)+"/interfaces", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
