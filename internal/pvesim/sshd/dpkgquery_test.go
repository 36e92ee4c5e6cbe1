package sshd

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// dpkgQueryDB is a status file (packages out of name order, one of them
// not fully installed, one removed but for its conffiles, one purged) and an interrupted run's journal entry that replaces
// one package's stanza. The fields are those dpkg-query needs to read the
// stanzas without warnings.
var dpkgQueryDB = struct{ status, journal string }{
	status: stanza("zlib-x", "install ok installed", "1.0") +
		stanza("docker-ce", "install ok installed", "5:29.1.3-1~debian.12~bookworm") +
		stanza("containerd.io", "install ok unpacked", "2.2.1-1~debian.12~bookworm") +
		stanza("docker-compose-plugin", "install ok installed", "2.40.3-1~debian.12~bookworm") +
		stanza("gone", "purge ok not-installed", "1.0") +
		stanza("conf-only", "deinstall ok config-files", "1.0"),
	journal: stanza("docker-ce", "install ok half-configured", "5:29.1.3-1~debian.12~bookworm"),
}

func stanza(pkg, status, version string) string {
	return "Package: " + pkg + "\nStatus: " + status + "\nPriority: optional\nMaintainer: x <x@example.org>\n" +
		"Architecture: amd64\nVersion: " + version + "\nDescription: " + pkg + "\n\n"
}

// The dpkg-query runs compared, and what dpkg-query 1.21.22 (Debian 12)
// prints for them over dpkgQueryDB: the packages found in name order,
// each once, whatever the order and repetitions of the names asked
// (showpackages in dpkg's query.c sorts its pkg_array by name); then one
// warning per name that matched none, in the order asked, and exit 1.
var dpkgQueryCases = []struct {
	args           []string
	stdout, stderr string
	exit           int
}{
	{
		args: []string{"-W", "-f=${Package}\\t${Status}\\t${Version}\\n", "zlib-x", "docker.io", "docker-ce", "containerd.io", "docker-ce", "nope"},
		stdout: "containerd.io\tinstall ok unpacked\t2.2.1-1~debian.12~bookworm\n" +
			"docker-ce\tinstall ok half-configured\t5:29.1.3-1~debian.12~bookworm\n" +
			"zlib-x\tinstall ok installed\t1.0\n",
		stderr: "dpkg-query: no packages found matching docker.io\ndpkg-query: no packages found matching nope\n",
		exit:   1,
	},
	{
		args:   []string{"-W", "-f=${Status}\\n", "docker-compose-plugin"},
		stdout: "install ok installed\n",
	},
	{
		// Without names: every package but those not-installed.
		args:   []string{"-W", "-f=${Package} ${db:Status-Abbrev}\n"},
		stdout: "conf-only rc \ncontainerd.io iU \ndocker-ce iF \ndocker-compose-plugin ii \nzlib-x ii \n",
	},
	{
		args:   []string{"-W", "-f=${Version}", "docker-compose-v2", "docker-compose"},
		stderr: "dpkg-query: no packages found matching docker-compose-v2\ndpkg-query: no packages found matching docker-compose\n",
		exit:   1,
	},
}

// TestDpkgQueryStandInSeveralPackages runs the container's dpkg-query
// stand-in over dpkgQueryDB and compares it with the output above. When the
// machine has the real dpkg-query, the same runs over the same files (with
// --admindir) must print the same: that is how the expected output was
// taken.
func TestDpkgQueryStandInSeveralPackages(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.addCT(102, ctConf(102, "nesting=1,keyctl=1"), true)
	e.mustRun("pct exec 102 -- true", "")
	e.mustRun("pct exec 102 -- bash -c 'cat > /var/lib/dpkg/status'", dpkgQueryDB.status)
	e.mustRun("pct exec 102 -- bash -c 'cat > /var/lib/dpkg/updates/0001'", dpkgQueryDB.journal)

	for _, c := range dpkgQueryCases {
		cmd := "pct exec 102 -- dpkg-query"
		for _, a := range c.args {
			cmd += " " + shellQuote(a)
		}
		r := e.run(cmd, "")
		if r.stdout != c.stdout || r.stderr != c.stderr || r.exit != c.exit {
			t.Errorf("%s:\n%s\nwant exit %d\nstdout:\n%s\nstderr:\n%s", cmd, r, c.exit, c.stdout, c.stderr)
		}
	}

	dpkgQuery, err := exec.LookPath("dpkg-query")
	if err != nil {
		t.Skip("no dpkg-query on this machine: the expected output was not compared with the real one")
	}
	admin := t.TempDir()
	if err := os.MkdirAll(filepath.Join(admin, "updates"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(admin, "info"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(admin, "status"), []byte(dpkgQueryDB.status), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(admin, "updates", "0001"), []byte(dpkgQueryDB.journal), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range dpkgQueryCases {
		args := append([]string{"--admindir=" + admin}, c.args...)
		cmd := exec.CommandContext(t.Context(), dpkgQuery, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		exit := 0
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatal(err)
			}
			exit = ee.ExitCode()
		}
		if stdout.String() != c.stdout || stderr.String() != c.stderr || exit != c.exit {
			t.Errorf("real dpkg-query %q: exit %d\nstdout:\n%s\nstderr:\n%s", args, exit, stdout.String(), stderr.String())
		}
	}
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
