package provider

import (
	"context"
	"reflect"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

func testModel() *lxcContainerModel {
	tags, _ := types.SetValueFrom(context.Background(), types.StringType, []string{"web", "acc"})
	return &lxcContainerModel{
		Hostname:    types.StringValue("docker-01"),
		Description: types.StringValue("built by terraform"),
		Tags:        tags,
		Cores:       types.Int64Value(2),
		CPULimit:    types.Float64Null(),
		CPUUnits:    types.Int64Null(),
		Memory:      types.Int64Value(2048),
		Swap:        types.Int64Value(512),
		OSType:      types.StringUnknown(),
		StartOnBoot: types.BoolValue(true),
		Protection:  types.BoolValue(false),
		Startup:     &startupModel{Order: types.Int64Value(2), UpDelay: types.Int64Value(10), DownDelay: types.Int64Null()},
		Features: types.ObjectValueMust(featuresAttrTypes, map[string]attr.Value{
			"nesting": types.BoolValue(true), "keyctl": types.BoolValue(true), "fuse": types.BoolValue(false),
			"mknod": types.BoolValue(false), "mount": types.SetValueMust(types.StringType, nil),
		}),
		Network: types.ListValueMust(networkObjectType, []attr.Value{mustObject(networkModel{
			Name: types.StringValue("eth0"), Bridge: types.StringValue("vmbr0"), IP: types.StringValue("10.0.0.202/24"),
			Gw: types.StringValue("10.0.0.1"), HWAddr: types.StringUnknown(), Firewall: types.BoolNull(),
			VLAN: types.Int64Null(), MTU: types.Int64Null(), Rate: types.Float64Null(),
		})}),
	}
}

func TestDesiredConfig(t *testing.T) {
	got, diags := desiredConfig(context.Background(), testModel())
	if diags.HasError() {
		t.Fatal(diags)
	}
	want := map[string]string{
		"hostname": "docker-01", "description": "built by terraform", "tags": "acc;web", "cores": "2",
		"memory": "2048", "swap": "512", "features": "keyctl=1,nesting=1", "onboot": "1",
		"startup": "order=2,up=10", "net0": "name=eth0,bridge=vmbr0,gw=10.0.0.1,ip=10.0.0.202/24",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("desiredConfig:\n got %v\nwant %v", got, want)
	}
}

func TestDiffConfig(t *testing.T) {
	desired, _ := desiredConfig(context.Background(), testModel())
	// What PVE reports for the same settings, spelled its own way.
	actual := map[string]string{
		"hostname": "docker-01", "description": "built by terraform\n", "tags": "web;acc", "cores": "2",
		"memory": "2048", "swap": "512", "features": "nesting=1,keyctl=1", "onboot": "1",
		"startup": "order=2,up=10", "net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:AA:BB:CC,ip=10.0.0.202/24,gw=10.0.0.1,type=veth",
		"rootfs": "local-lvm:vm-102-disk-0,size=8G", "arch": "amd64", "ostype": "debian", "unprivileged": "1",
	}
	if ch := diffConfig(desired, actual); !ch.empty() {
		t.Fatalf("equivalent settings produce a change: %+v", ch)
	}

	actual["memory"] = "4096"
	actual["cpulimit"] = "2"
	actual["net1"] = "name=eth1,bridge=vmbr1"
	actual["features"] = "nesting=1"
	ch := diffConfig(desired, actual)
	if !reflect.DeepEqual(ch.Set, map[string]string{"memory": "2048", "features": "keyctl=1,nesting=1"}) {
		t.Errorf("Set = %v", ch.Set)
	}
	if !reflect.DeepEqual(ch.Delete, []string{"cpulimit", "net1"}) {
		t.Errorf("Delete = %v", ch.Delete)
	}
	if !ch.needsRestart() {
		t.Error("a features change must restart a running container")
	}
}

func TestApplyConfigKeepsSpellingAndDefaults(t *testing.T) {
	m := testModel()
	m.RootFS = &rootfsModel{Storage: types.StringValue("local-lvm"), Size: types.StringValue("8192M"), Volume: types.StringUnknown()}
	m.Tags = types.SetNull(types.StringType)
	cfg := &pve.RawConfig{Values: map[string]string{
		"hostname": "docker-01", "description": "built by terraform\n", "tags": "b;a", "cores": "2",
		"features": "nesting=1,keyctl=1", "onboot": "1", "startup": "order=2,up=10",
		"net0":   "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:AA:BB:CC,ip=10.0.0.202/24,gw=10.0.0.1,type=veth",
		"rootfs": "local-lvm:vm-102-disk-0,size=8G", "ostype": "debian", "unprivileged": "1",
	}}
	if diags := applyConfig(context.Background(), m, cfg); diags.HasError() {
		t.Fatal(diags)
	}
	if m.Memory.ValueInt64() != 512 || m.Swap.ValueInt64() != 512 {
		t.Errorf("absent memory/swap must read as PVE's defaults, got %v/%v", m.Memory, m.Swap)
	}
	if m.Description.ValueString() != "built by terraform" {
		t.Errorf("description = %q: a trailing newline from PVE must not cause a diff", m.Description.ValueString())
	}
	if m.RootFS.Size.ValueString() != "8192M" || m.RootFS.Volume.ValueString() != "local-lvm:vm-102-disk-0" {
		t.Errorf("rootfs = %+v: an equal size keeps the configured spelling", m.RootFS)
	}
	nets, _ := m.networks(context.Background())
	if nets[0].HWAddr.ValueString() != "BC:24:11:AA:BB:CC" || !nets[0].Firewall.IsNull() {
		t.Errorf("network = %+v", nets[0])
	}
	f := readFeatures(m.Features)
	if f.Fuse.ValueBool() || !f.Nesting.ValueBool() || !f.Keyctl.ValueBool() || f.Fuse.IsNull() {
		t.Errorf("features = %+v: every flag is read back, unset ones as false", f)
	}
	var tags []string
	m.Tags.ElementsAs(context.Background(), &tags, false)
	if !reflect.DeepEqual(tags, []string{"a", "b"}) {
		t.Errorf("tags = %v", tags)
	}
	if m.CPULimit.IsNull() != true || m.Startup.DownDelay.IsNull() != true {
		t.Errorf("absent values must be null: cpulimit %v down %v", m.CPULimit, m.Startup.DownDelay)
	}
}

func mustObject(n networkModel) attr.Value {
	v, diags := types.ObjectValueFrom(context.Background(), networkObjectType.AttrTypes, n)
	if diags.HasError() {
		panic(diags)
	}
	return v
}
