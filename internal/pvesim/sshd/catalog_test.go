package sshd

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCatalogUnitsInEveryDistribution: read_units (standins/ct/lib.sh) takes
// the units of the installed packages from CATALOG_UNITS without asking
// pkg_lookup whether the container's distribution has the package, so every
// package named there must exist in every distribution the catalog knows,
// and no package may bring units that CATALOG_UNITS does not name (which
// read_units would miss while apt-get still starts and stops them): the one
// assignment of PKG_UNITS takes them from CATALOG_UNITS.
func TestCatalogUnitsInEveryDistribution(t *testing.T) {
	src, err := standinFS.ReadFile("standins/ct/catalog.sh")
	if err != nil {
		t.Fatal(err)
	}
	if assigns := regexp.MustCompile(`PKG_UNITS(\[[^]]*\])?\+?=`).FindAll(src, -1); len(assigns) != 1 ||
		!bytes.Contains(src, []byte("PKG_UNITS=(${CATALOG_UNITS[${name:-none}]-})")) {
		t.Errorf("catalog.sh sets PKG_UNITS %d times; the units must come from CATALOG_UNITS alone", len(assigns))
	}
	lib := filepath.Join(t.TempDir(), "catalog.sh")
	if err := os.WriteFile(lib, src, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `set -u
. "$1"
((${#CATALOG_UNITS[@]} > 0)) || { echo "CATALOG_UNITS is empty"; exit 1; }
for name in "${!CATALOG_UNITS[@]}"; do
	pkg_lookup "$name" || echo "$OS_ID $OS_CODENAME: no package $name"
done`
	for _, d := range []struct{ id, codename, release string }{
		{"debian", "bookworm", "12"}, {"debian", "trixie", "13"},
		{"ubuntu", "jammy", "22.04"}, {"ubuntu", "noble", "24.04"},
	} {
		cmd := exec.CommandContext(t.Context(), "bash", "-c", script, "bash", lib)
		cmd.Env = append(os.Environ(), "OS_ID="+d.id, "OS_CODENAME="+d.codename, "OS_RELEASE="+d.release)
		out, err := cmd.CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("%s %s: %v\n%s", d.id, d.codename, err, out)
		}
	}
}
