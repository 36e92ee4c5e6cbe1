package provider

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
)

// TestPermissionsGuideRole keeps the permissions guide true: the role its
// pveum line creates is the one the simulator's least-privilege token holds
// (the one every acceptance test runs with), and each privilege has a row
// saying why.
func TestPermissionsGuideRole(t *testing.T) {
	b, err := os.ReadFile("../../templates/guides/permissions.md.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	guide := string(b)
	m := regexp.MustCompile(`pveum role add ` + pvesim.ProviderRole + ` --privs "([^"]+)"`).FindStringSubmatch(guide)
	if m == nil {
		t.Fatal("the guide has no pveum role add line for " + pvesim.ProviderRole)
	}
	got := strings.Split(m[1], ",")
	want := slices.Clone(pvesim.ProviderRolePrivileges)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("guide's role %v, simulator's %v", got, want)
	}
	for _, p := range want {
		if !strings.Contains(guide, "| `"+p+"` |") {
			t.Errorf("the guide's table has no row for %s", p)
		}
	}
}
