package sshd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCatalogUnitsInEveryDistribution: read_units (standins/ct/lib.sh) takes
// the units of the installed packages from CATALOG_UNITS without asking
// pkg_lookup whether the container's distribution has the package, so every
// package named there must exist in every distribution the catalog knows,
// and pkg_lookup must report the same units for it.
func TestCatalogUnitsInEveryDistribution(t *testing.T) {
	src, err := standinFS.ReadFile("standins/ct/catalog.sh")
	if err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(t.TempDir(), "catalog.sh")
	if err := os.WriteFile(lib, src, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `set -u
. "$1"
((${#CATALOG_UNITS[@]} > 0)) || { echo "CATALOG_UNITS is empty"; exit 1; }
for name in "${!CATALOG_UNITS[@]}"; do
	if ! pkg_lookup "$name"; then
		echo "$OS_ID $OS_CODENAME: no package $name"
	elif [[ "${PKG_UNITS[*]}" != "${CATALOG_UNITS[$name]}" ]]; then
		echo "$OS_ID $OS_CODENAME: $name brings '${PKG_UNITS[*]}', CATALOG_UNITS says '${CATALOG_UNITS[$name]}'"
	fi
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
