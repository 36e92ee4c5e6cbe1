package pvesim

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// render turns a permCheck back into the schema's array form.
func (c permCheck) render() []any {
	switch c.op {
	case "and", "or":
		out := []any{c.op}
		for _, sub := range c.subs {
			out = append(out, sub.render())
		}
		return out
	}
	privs := make([]any, len(c.privs))
	for i, p := range c.privs {
		privs[i] = p
	}
	out := []any{"perm", c.path, privs}
	if c.any {
		out = append(out, "any", float64(1))
	}
	if c.requireParam != "" {
		out = append(out, "require_param", c.requireParam)
	}
	return out
}

// TestAPIPermissionsMatchSchema compares the permission members pvesim
// enforces (apiPermissions) with those of Proxmox VE's API schema in
// testdata, and checks that every served method has one.
func TestAPIPermissionsMatchSchema(t *testing.T) {
	type method struct {
		Permissions *struct {
			User  string `json:"user"`
			Check []any  `json:"check"`
		} `json:"permissions"`
	}
	schema := map[string]map[string]method{}
	for _, f := range []string{"pve-api-lxc.json", "pve-api-pools-ha.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pve-api", f))
		if err != nil {
			t.Fatal(err)
		}
		var part map[string]map[string]method
		if err := json.Unmarshal(b, &part); err != nil {
			t.Fatal(err)
		}
		maps.Copy(schema, part)
	}
	// Methods outside the schema extract: /access/permissions is user =>
	// 'all' in API2/AccessControl.pm.
	outside := map[string]bool{"GET /access/permissions": true}
	compared := 0
	for key, p := range apiPermissions {
		method, path, _ := strings.Cut(key, " ")
		if outside[key] {
			continue
		}
		m, ok := schema[path][method]
		if !ok || m.Permissions == nil {
			t.Errorf("%s: not in the schema", key)
			continue
		}
		compared++
		want := m.Permissions
		switch {
		case p.world:
			if want.User != "world" {
				t.Errorf("%s: simulator says world, schema %+v", key, want)
			}
		case p.userAll:
			if want.User != "all" || want.Check != nil {
				t.Errorf("%s: simulator says user all, schema %+v", key, want)
			}
		default:
			if got := p.check.render(); !reflect.DeepEqual(got, want.Check) {
				t.Errorf("%s: simulator checks %v, schema %v", key, got, want.Check)
			}
		}
	}
	s := startSim(t, Options{})
	for _, rt := range s.srv.routes {
		if _, ok := apiPermissions[rt.method+" "+rt.tmpl]; !ok {
			t.Errorf("%s %s is served without a permission entry", rt.method, rt.tmpl)
		}
	}
	t.Logf("%d permission members compared with the schema", compared)
}
