package provider

import (
	"context"
	"fmt"
	"net"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/list"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

func TestListFilterMatches(t *testing.T) {
	ctx := context.Background()
	web := pve.Resource{Type: "lxc", Node: "pve1", VMID: 4330, Name: "web-a", Tags: "prod;web"}
	tags := func(t ...string) types.List {
		v, _ := types.ListValueFrom(ctx, types.StringType, t)
		return v
	}
	none := lxcListFilter{NodeName: types.StringNull(), Tags: types.ListNull(types.StringType), VMIDMin: types.Int64Null(),
		VMIDMax: types.Int64Null(), HostnamePattern: types.StringNull()}
	for _, tc := range []struct {
		name string
		edit func(*lxcListFilter)
		res  func(*pve.Resource)
		host string
		want bool
	}{
		{name: "no filter", want: true},
		{name: "a VM", res: func(r *pve.Resource) { r.Type = "qemu" }},
		{name: "a template", res: func(r *pve.Resource) { r.Template = true }},
		{name: "node", edit: func(f *lxcListFilter) { f.NodeName = types.StringValue("pve1") }, want: true},
		{name: "other node", edit: func(f *lxcListFilter) { f.NodeName = types.StringValue("pve2") }},
		{name: "all tags", edit: func(f *lxcListFilter) { f.Tags = tags("web", "prod") }, want: true},
		{name: "a missing tag", edit: func(f *lxcListFilter) { f.Tags = tags("web", "db") }},
		{name: "in range", edit: func(f *lxcListFilter) { f.VMIDMin, f.VMIDMax = types.Int64Value(4330), types.Int64Value(4330) }, want: true},
		{name: "below", edit: func(f *lxcListFilter) { f.VMIDMin = types.Int64Value(4331) }},
		{name: "above", edit: func(f *lxcListFilter) { f.VMIDMax = types.Int64Value(4329) }},
		{name: "host name", host: "^web-", want: true},
		{name: "other host name", host: "^db-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, r := none, web
			if tc.edit != nil {
				tc.edit(&f)
			}
			if tc.res != nil {
				tc.res(&r)
			}
			var host *regexp.Regexp
			if tc.host != "" {
				host = regexp.MustCompile(tc.host)
			}
			if got, diags := f.matches(ctx, r, host); got != tc.want || diags.HasError() {
				t.Errorf("matches = %v (%v), want %v", got, diags, tc.want)
			}
		})
	}
}

// TestListResourceDocsNameEveryFilter keeps the list resource's page (written
// by hand: tfplugindocs renders list resources only with a Terraform that
// reports their schema) in step with its schema.
func TestListResourceDocsNameEveryFilter(t *testing.T) {
	page, err := os.ReadFile("../../docs/list-resources/lxc_container.md")
	if err != nil {
		t.Fatal(err)
	}
	var resp list.ListResourceSchemaResponse
	NewLXCContainerList().ListResourceConfigSchema(context.Background(), list.ListResourceSchemaRequest{}, &resp)
	if len(resp.Schema.Attributes) == 0 {
		t.Fatal("the list resource has no filter")
	}
	for name := range resp.Schema.Attributes {
		if !strings.Contains(string(page), "- `"+name+"` (") {
			t.Errorf("docs/list-resources/lxc_container.md does not describe the filter %s", name)
		}
	}
}

// The list resource checks the running containers of a node with one node
// command; each keeps its own result, as its own check gives it. A stopped
// container is not checked, and one whose check cannot run gets a warning
// and no result.
func TestListChecksDockerWithOneCommandANode(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t)
	// pve9 refuses connections (a port nothing listens on).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("listener address %v", l.Addr())
	}
	_ = l.Close()
	e.data.Settings.SSH.Nodes = append(e.data.Settings.SSH.Nodes, sshNode{Name: "pve9", Address: "127.0.0.1", Port: addr.Port})
	ops := e.data.NodeOps()
	ctx := t.Context()
	e.dockerCTs(150, 151)
	e.addCT(152, dockerCTConf(152), true) // no Docker
	e.addCT(153, dockerCTConf(153), false)
	own := map[int]docker.CheckResult{}
	for _, v := range []int{150, 151, 152} {
		c, err := ops.CheckDocker(ctx, testNode, v)
		if err != nil {
			t.Fatal(err)
		}
		own[v] = c
	}
	if !dockerFound(own[150]) || dockerFound(own[152]) {
		t.Fatalf("150 must run Docker, 152 not: %+v / %+v", own[150], own[152])
	}
	var found []pve.Resource
	for v, status := range map[int]string{150: "running", 151: "running", 152: "running", 153: "stopped", 154: "running"} {
		found = append(found, pve.Resource{Node: testNode, VMID: pve.FlexInt(v), Status: status, Name: fmt.Sprint("ct", v)})
	}
	// A node the provider cannot reach: its command fails as a whole, with
	// one warning.
	for _, v := range []int{201, 202, 203} {
		found = append(found, pve.Resource{Node: "pve9", VMID: pve.FlexInt(v), Status: "running", Name: fmt.Sprint("ct", v)})
	}
	ran := func() int { // commands that ran on the node (logged as they end)
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.events)
	}
	before := ran()
	var diags diag.Diagnostics
	got := (&lxcContainerList{data: e.data}).checkDocker(ctx, found, &diags)
	for deadline := time.Now().Add(5 * time.Second); ran() == before && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // the node logs a command just after its exit status
	}
	if n := ran() - before; n != 1 {
		t.Errorf("the list's checks ran %d commands on %s, want 1", n, testNode)
	}
	byVMID := map[int]docker.CheckResult{}
	for res, c := range got {
		byVMID[int(res.VMID)] = c
	}
	if !reflect.DeepEqual(byVMID, own) {
		t.Errorf("checks %+v, want each container's own %+v", byVMID, own)
	}
	// 154 has no configuration on the node: pct cannot enter it. The
	// unreachable node gets one warning for its three containers.
	var warned []string
	for _, d := range diags.Warnings() {
		warned = append(warned, d.Detail())
	}
	if len(warned) != 2 || !slices.ContainsFunc(warned, func(w string) bool { return strings.HasPrefix(w, testNode+"/154 ") }) ||
		!slices.ContainsFunc(warned, func(w string) bool { return strings.HasPrefix(w, "pve9/201, pve9/202, pve9/203: ") }) {
		t.Errorf("want a warning naming %s/154 and one naming pve9's three containers, got %q", testNode, warned)
	}
}
