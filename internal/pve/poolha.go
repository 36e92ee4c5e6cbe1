package pve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// MoveToPool puts guest vmid into pool in one call, out of any pool it is
// in (PUT /pools with allow-move, Proxmox VE 8.1 and later: PVE::API2::Pool
// update_pool takes the guest out of its old pool and adds it to the new
// one under one lock, so a failure leaves it where it was). A repeat after
// a lost answer that finds the guest already added succeeds.
func (c *Client) MoveToPool(ctx context.Context, pool string, vmid int) error {
	err := c.write(ctx, http.MethodPut, "/pools", map[string]string{"poolid": pool, "vms": strconv.Itoa(vmid), "allow-move": "1"}, nil)
	var ae *APIError
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "is already a pool member"):
		return nil
	case errors.As(err, &ae) && ae.Status == http.StatusNotImplemented:
		return fmt.Errorf("%w (moving a container between pools needs Proxmox VE 8.1 or later, which serves PUT /pools)", err)
	}
	return err
}

// RemoveFromPool takes guest vmid out of pool (PUT /pools with poolid and
// delete, PVE::API2::Pool update_pool; the pool ID goes in the body, so a
// nested pool's "parent/child" needs no escaping in the path, and the
// deprecated PUT /pools/{poolid} is not used). A guest no longer in the
// pool is not an error.
func (c *Client) RemoveFromPool(ctx context.Context, pool string, vmid int) error {
	err := c.write(ctx, http.MethodPut, "/pools", map[string]string{"poolid": pool, "vms": strconv.Itoa(vmid), "delete": "1"}, nil)
	if err != nil && strings.Contains(err.Error(), "is not a pool member") {
		return nil
	}
	return err
}

// HAResource is one entry of GET /cluster/ha/resources.
type HAResource struct {
	SID         string  `json:"sid"` // "ct:100"
	Type        string  `json:"type"`
	State       string  `json:"state"`
	MaxRestart  FlexInt `json:"max_restart"`
	MaxRelocate FlexInt `json:"max_relocate"`
	Comment     string  `json:"comment"`
	Digest      string  `json:"digest"`
	// HasMaxRestart and HasMaxRelocate tell a value from an absent option
	// (PVE's default then applies).
	HasMaxRestart, HasMaxRelocate bool `json:"-"`
}

// ContainerSID is the HA resource ID of container vmid.
func ContainerSID(vmid int) string { return "ct:" + strconv.Itoa(vmid) }

// HAResources lists the cluster's HA resources of containers.
func (c *Client) HAResources(ctx context.Context) ([]HAResource, error) {
	var raw []map[string]any
	if err := c.get(ctx, "/cluster/ha/resources", map[string]string{"type": "ct"}, &raw); err != nil {
		return nil, err
	}
	out := make([]HAResource, 0, len(raw))
	for _, m := range raw {
		out = append(out, haResourceFrom(m))
	}
	return out, nil
}

// GetHAResource reads HA resource sid (GET /cluster/ha/resources/{sid}).
func (c *Client) GetHAResource(ctx context.Context, sid string) (HAResource, error) {
	var raw map[string]any
	if err := c.get(ctx, "/cluster/ha/resources/"+seg(sid), nil, &raw); err != nil {
		return HAResource{}, err
	}
	return haResourceFrom(raw), nil
}

func haResourceFrom(m map[string]any) HAResource {
	r := HAResource{}
	r.SID, _ = m["sid"].(string)
	r.Type, _ = m["type"].(string)
	r.State, _ = m["state"].(string)
	r.Comment, _ = m["comment"].(string)
	r.Digest, _ = m["digest"].(string)
	if v, ok := m["max_restart"]; ok {
		r.HasMaxRestart, r.MaxRestart = true, FlexInt(toInt(v))
	}
	if v, ok := m["max_relocate"]; ok {
		r.HasMaxRelocate, r.MaxRelocate = true, FlexInt(toInt(v))
	}
	return r
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case int64:
		return x
	}
	n, _ := strconv.ParseInt(fmt.Sprint(v), 10, 64)
	return n
}

// CreateHAResource adds sid as an HA resource with options (state,
// max_restart, max_relocate, comment). PVE's refusal of a resource that
// exists ("already defined") comes back as an error IsHAAlreadyDefined
// recognizes: the existing one may carry other settings.
func (c *Client) CreateHAResource(ctx context.Context, sid string, options map[string]string) error {
	params := map[string]string{"sid": sid}
	for k, v := range options {
		params[k] = v
	}
	return c.write(ctx, http.MethodPost, "/cluster/ha/resources", params, nil)
}

// IsHAAlreadyDefined reports whether PVE refused to create an HA resource
// because one with that ID exists ("resource ID 'ct:100' already
// defined").
func IsHAAlreadyDefined(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && strings.Contains(ae.text(), "already defined")
}

// UpdateHAResource sets and deletes options of HA resource sid; with a
// digest, PVE refuses the change if the resources changed since they were
// read.
func (c *Client) UpdateHAResource(ctx context.Context, sid string, set map[string]string, del []string, digest ...string) error {
	params := map[string]string{}
	if len(digest) > 0 && digest[0] != "" && (len(set) > 0 || len(del) > 0) {
		params["digest"] = digest[0]
	}
	for k, v := range set {
		params[k] = v
	}
	if len(del) > 0 {
		params["delete"] = strings.Join(del, ",")
	}
	if len(params) == 0 {
		return nil
	}
	return c.write(ctx, http.MethodPut, "/cluster/ha/resources/"+seg(sid), params, nil)
}

// DeleteHAResource removes HA resource sid; one that is gone is not an
// error.
func (c *Client) DeleteHAResource(ctx context.Context, sid string) error {
	err := c.write(ctx, http.MethodDelete, "/cluster/ha/resources/"+seg(sid), nil, nil)
	if err != nil && strings.Contains(err.Error(), "not HA managed") {
		return nil
	}
	return err
}
