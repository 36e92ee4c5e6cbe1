package provider

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/list"

	"github.com/hashicorp/terraform-plugin-framework/types"

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
