package provider

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
)

// TestAccReplaceWarnsOfVolumes: a plan that replaces (template change) or
// destroys a container with volume mount points names the volumes that go
// with it, the unusedN volume a detached mount point left included; the
// destroy frees them (Proxmox VE's destroy_lxc_container) without asking
// for destroy-unreferenced-disks.
func TestAccReplaceWarnsOfVolumes(t *testing.T) {
	e, dir := simConfigDir(t, "reads the simulator's volumes and request log")
	const vmid = 4191
	write := func(template, mounts string) {
		cfg := strings.Replace(e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true, Template: template, Extra: mounts}),
			`"phoenix_lxc_container" "test"`, `"phoenix_lxc_container" "ct"`, 1)
		writeFile(t, filepath.Join(dir, "main.tf"), requirePhoenix+cfg)
	}
	mp0 := mountBlock(0, "    path    = \"/data\"\n    storage = \"local-lvm\"\n    size    = \"1G\"\n")
	mp1 := mountBlock(1, "    path    = \"/cache\"\n    storage = \"local-lvm\"\n    size    = \"1G\"\n")
	write(e.template, mp0+mp1)
	apply(t, dir)
	write(e.template, mp0) // mp1 detached: its volume stays as unused0
	apply(t, dir)
	if got := e.configValue(vmid, "unused0"); got != "local-lvm:vm-4191-disk-2" {
		t.Fatalf("unused0 = %q after the detach", got)
	}

	write(e.template2, mp0)
	out := plan(t, dir)
	for _, want := range []string{
		"Warning: Volumes destroyed with the container",
		"Replacing (template changes) container pve1/4191 destroys its volumes with it",
		"local-lvm:vm-4191-disk-1 (mp0, /data)",
		"local-lvm:vm-4191-disk-2 (unused0)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("replacement plan lacks %q:\n%s", want, out)
		}
	}

	write(e.template, mp0)
	if out := plan(t, dir); strings.Contains(out, "Volumes destroyed") {
		t.Errorf("a plan that keeps the container warns of destroyed volumes:\n%s", out)
	}
	out = plan(t, dir, "-destroy")
	if !strings.Contains(out, "Destroying container pve1/4191 destroys its volumes with it") || !strings.Contains(out, "(unused0)") {
		t.Errorf("destroy plan lacks the volume warning:\n%s", out)
	}

	e.resetLog()
	if out, err := runTerraform(t, dir, "destroy", "-no-color", "-input=false", "-auto-approve"); err != nil {
		t.Fatalf("destroy: %v\n%s", err, out)
	}
	for _, r := range e.sim.Requests() {
		if r.Method == "DELETE" && strings.HasSuffix(r.Path, "/lxc/4191") && strings.Contains(r.Query, "destroy-unreferenced-disks") {
			t.Errorf("destroy asked for destroy-unreferenced-disks: %s", r.Query)
		}
	}
	for _, v := range []string{"local-lvm:vm-4191-disk-0", "local-lvm:vm-4191-disk-1", "local-lvm:vm-4191-disk-2"} {
		if _, err := os.Stat(pvesim.VolumeDir(e.sim.StateDir, e.node, v)); !os.IsNotExist(err) {
			t.Errorf("volume %s outlived the destroy (%v)", v, err)
		}
	}
}

func apply(t *testing.T, dir string) {
	t.Helper()
	if out, err := runTerraform(t, dir, "apply", "-no-color", "-input=false", "-auto-approve"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
}

// plan runs terraform plan and returns its output with white space
// collapsed (warnings are wrapped).
func plan(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := runTerraform(t, dir, append([]string{"plan", "-no-color", "-input=false"}, args...)...)
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	return strings.Join(strings.Fields(out), " ")
}

// TestReplacingAttributesMatchSchema: replacedBy knows every attribute
// whose plan modifier replaces the container.
func TestReplacingAttributesMatchSchema(t *testing.T) {
	var resp resource.SchemaResponse
	(&lxcContainerResource{}).Schema(t.Context(), resource.SchemaRequest{}, &resp)
	var found []string
	replaces := func(name string, mods []planmodifier.Describer) {
		for _, m := range mods {
			d := strings.ToLower(m.Description(t.Context()))
			if strings.Contains(d, "replace") || strings.Contains(d, "recreate") {
				found = append(found, name)
				return
			}
		}
	}
	var walk func(prefix string, attrs map[string]schema.Attribute, blocks map[string]schema.Block)
	walk = func(prefix string, attrs map[string]schema.Attribute, blocks map[string]schema.Block) {
		for name, a := range attrs {
			replaces(prefix+name, planModifiers(t, a))
		}
		for name, b := range blocks {
			replaces(prefix+name, planModifiers(t, b))
			switch b := b.(type) {
			case schema.SingleNestedBlock:
				walk(prefix+name+".", b.Attributes, b.Blocks)
			case schema.ListNestedBlock:
				walk(prefix+name+".", b.NestedObject.Attributes, b.NestedObject.Blocks)
			}
		}
	}
	walk("", resp.Schema.Attributes, resp.Schema.Blocks)
	slices.Sort(found)
	want := slices.Clone(replacingAttributes)
	slices.Sort(want)
	if !slices.Equal(found, want) {
		t.Errorf("attributes that replace the container: schema %v, replacedBy %v", found, want)
	}
}

// planModifiers are the plan modifiers of an attribute or block of any of
// the schema's types, each of which holds them in a PlanModifiers field.
func planModifiers(t *testing.T, v any) []planmodifier.Describer {
	t.Helper()
	f := reflect.ValueOf(v).FieldByName("PlanModifiers")
	if !f.IsValid() || f.Kind() != reflect.Slice {
		t.Fatalf("%T has no PlanModifiers list", v)
	}
	out := make([]planmodifier.Describer, f.Len())
	for i := range out {
		d, ok := f.Index(i).Interface().(planmodifier.Describer)
		if !ok {
			t.Fatalf("a plan modifier of %T is no planmodifier.Describer", v)
		}
		out[i] = d
	}
	return out
}
