package sshd

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// jqDriverProgram is the one jq run of the systemctl stand-in (units.sh,
// daemon_json_problem) for a usual daemon.json: the storage driver when the
// file is one object whose storage-driver is absent or a string.
const jqDriverProgram = `if length == 1 and (.[0] | type) == "object" and ((.[0]."storage-driver" // "overlay2") | type) == "string" then .[0]."storage-driver" // "overlay2" else empty end`

// jsonDriverUsual are files the bash reader must answer itself (no jq run):
// what the provider writes (one line, keys sorted) and what people write.
var jsonDriverUsual = []string{
	`{}`,
	"{}\n",
	`{"storage-driver":"overlay2"}`,
	`{"log-driver":"json-file","log-opts":{"max-file":"3","max-size":"10m"},"storage-driver":"fuse-overlayfs"}`,
	"{\n  \"storage-driver\": \"vfs\",\n  \"iptables\": false,\n  \"mtu\": 1450,\n  \"dns\": [\"1.1.1.1\", \"9.9.9.9\"],\n  \"default-address-pools\": [{\"base\": \"10.10.0.0/16\", \"size\": 24}]\n}\n",
	`{"storage-driver":""}`,
	`{"a":[],"b":{},"c":[[{}]],"d":-0.5e+10,"e":null,"f":true,"storage-driver":"zfs"}`,
	`{"nested":{"storage-driver":5},"storage-driver":"btrfs"}`,
	`{"labels":["a\"b","c\\d","\u00e9\n"]}`,
	"\t\r\n {\"x\":0}\t\r\n ",
	`{"a":[` + strings.Repeat("0,", 250) + `0]}`,
}

// jsonDriverTooLarge are files within what jq reads at once but beyond the
// bash reader's bounds (4 KiB, 256 values), which keep a hostile file
// from costing the node more than a few tens of milliseconds a check.
var jsonDriverTooLarge = []string{
	`{"a":[` + strings.Repeat("0,", 300) + `0]}`,
	`{"a":"` + strings.Repeat("x", 4100) + `"}`,
}

// jsonDriverOther are files it may leave to jq (or that jq rejects).
var jsonDriverOther = []string{
	``, ` `, `[]`, `"x"`, `1`, `null`, `{`, `}`, `{}{}`, `{} {}`, `{}x`, `{},`,
	`{"a":1,}`, `{"a":1 "b":2}`, `{"a" 1}`, `{a:1}`, `{'a':1}`, `{"a":01}`, `{"a":1.}`,
	`{"a":.5}`, `{"a":-}`, `{"a":+1}`, `{"a":1e}`, `{"a":tru}`, `{"a":True}`, `{"a":nan}`,
	`{"a":[1,]}`, `{"a":[,1]}`, `{"a":[1 2]}`, `{"a":]}`, `{"a":[}`, `{"a":{]}`, `{"a":"\x"}`,
	`{"a":"\u12"}`, "{\"a\":\"\t\"}", "{\"a\":\"\x7f\"}", "{\"a\":\"\xff\"}", "\ufeff{}",
	`{"storage-driver":null}`, `{"storage-driver":false}`, `{"storage-driver":["vfs"]}`,
	`{"storage-driver":"vfs","storage-driver":"zfs"}`, `{"storage\u002ddriver":"vfs"}`,
	`{"storage-driver":"v\u0066s"}`, "{\"storage-driver\":\"\xc3\xa9\"}", `{"a":"` + strings.Repeat("x", 9000) + `"}`,
	"{}\x00", `{"a":1}/* c */`, `// c` + "\n{}",
	// jq 1.6 rejects a lone high surrogate, takes a lone low one.
	`{"a":"\ud800"}`, `{"a":["x\udbff"]}`, `{"a":{"\ud800":1}}`, `{"a":"\ud800\\"}`,
	`{"storage-driver":"zfs","x":"\uDBFF"}`, `{"a":"\udc00"}`, `{"a":"\ud800\udc00"}`,
	// jq 1.6 stops at 256 levels; the reader at 64.
	`{"a":` + strings.Repeat("[", 62) + strings.Repeat("]", 62) + `}`,
	`{"a":` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + `}`,
	`{"storage-driver":"vfs","a":` + strings.Repeat("[", 255) + strings.Repeat("]", 255) + `}`,
	`{"a":` + strings.Repeat(`{"b":`, 300) + `1` + strings.Repeat("}", 300) + `}`,
}

// TestJSONDriverAgreesWithJq: the bash reader of daemon.json (json.sh)
// answers the usual files itself and, whatever it answers, answers what jq
// does, on hand-picked files and on a few hundred random edits of them: it
// must never accept a file jq (and so dockerd, as the stand-in models it)
// rejects, nor name another storage driver.
func TestJSONDriverAgreesWithJq(t *testing.T) {
	t.Parallel()
	jq, err := exec.LookPath("jq")
	if err != nil {
		t.Skip("no jq on this machine (tools/prereqs.sh installs it): the reader cannot be compared with it")
	}
	inputs := slices.Concat(jsonDriverUsual, jsonDriverTooLarge, jsonDriverOther)
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("{}[]:,\" \t\n\\/-+.0123456789eEtrufalsnbu\x01\x7f\xc3")
	seeds := append(append([]string(nil), jsonDriverUsual...), jsonDriverOther[:20]...)
	for range 300 {
		b := []byte(seeds[rng.IntN(len(seeds))])
		for range 1 + rng.IntN(3) {
			i := 0
			if len(b) > 0 {
				i = rng.IntN(len(b) + 1)
			}
			switch c := alphabet[rng.IntN(len(alphabet))]; rng.IntN(3) {
			case 0:
				if i < len(b) {
					b = append(b[:i], b[i+1:]...)
				}
			case 1:
				b = append(b[:i], append([]byte{c}, b[i:]...)...)
			default:
				if i < len(b) {
					b[i] = c
				}
			}
		}
		inputs = append(inputs, string(b))
	}

	dir := t.TempDir()
	for i, in := range inputs {
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)), []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := bashJSONDriver(t, dir, len(inputs))
	want := make([]*string, len(inputs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range inputs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			want[i] = jqDriver(t.Context(), jq, filepath.Join(dir, strconv.Itoa(i)))
		})
	}
	wg.Wait()

	answered := 0
	for i, in := range inputs {
		g := got[i]
		if i < len(jsonDriverUsual) && g == nil {
			t.Errorf("usual file %q: the bash reader left it to jq", in)
		}
		if i >= len(jsonDriverUsual) && i < len(jsonDriverUsual)+len(jsonDriverTooLarge) && g != nil {
			t.Errorf("a file of %d bytes beyond the reader's bounds: it answered %q", len(in), *g)
		}
		if g == nil {
			continue
		}
		answered++
		switch {
		case want[i] == nil:
			t.Errorf("%q: the bash reader took it (driver %q); jq does not", in, *g)
		case *want[i] != *g:
			t.Errorf("%q: the bash reader says driver %q, jq %q", in, *g, *want[i])
		}
	}
	t.Logf("%d files, %d answered by the bash reader (%s)", len(inputs), answered, jqVersion(t.Context(), jq))
}

func jqVersion(ctx context.Context, jq string) string {
	out, err := exec.CommandContext(ctx, jq, "--version").Output()
	if err != nil {
		return "jq --version: " + err.Error()
	}
	return strings.TrimSpace(string(out))
}

// A daemon.json a container made to cost the node: the bash reader stays
// within a few tens of milliseconds whatever the file (measured about
// 20 ms; 0.6 s before its bounds), and a file of NUL bytes of any size is
// read no further than its second (units.sh reads with json_file_driver).
func TestJSONDriverBoundedCost(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := []string{
		`{"a":[` + strings.Repeat("0,", 2000) + `0]}`,
		`{"a":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`,
		`{"a":[` + strings.Repeat("{},", 1300) + `{}]}`,
		`{"a":"` + strings.Repeat("x", 4000) + `"}`,
	}
	for i, f := range files {
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sparse, err := os.Create(filepath.Join(dir, strconv.Itoa(len(files))))
	if err != nil {
		t.Fatal(err)
	}
	if err := sparse.Truncate(64 << 20); err != nil { // 64 MiB of NULs, no disk
		t.Fatal(err)
	}
	if err := sparse.Close(); err != nil {
		t.Fatal(err)
	}
	n := len(files) + 1
	bashJSONDriver(t, dir, n) // bash and the files warm
	start := time.Now()
	got := bashJSONDriver(t, dir, n)
	took := time.Since(start)
	for i, g := range got {
		// The long string (3) is a file the reader may answer.
		if g != nil && i != 3 {
			t.Errorf("file %d: answered %q, want it left to jq", i, *g)
		}
	}
	// A bound for a loaded machine, per file: each takes about 20 ms here
	// (the sparse one, read to its end, 5 s; 0.6 s each before the
	// reader's bounds).
	if per := took / time.Duration(n); per > 150*time.Millisecond {
		t.Errorf("the bash reader took %s for %d hostile files, %s each", took, n, per)
	}
	t.Logf("%d hostile files in %s", n, took)
}

// bashJSONDriver runs json_driver (standins/ct/json.sh) over the files
// 0..n-1 of dir in one bash: each answer, nil where it returned 1.
func bashJSONDriver(t *testing.T, dir string, n int) []*string {
	t.Helper()
	lib := filepath.Join(dir, "json.sh")
	src, err := standinFS.ReadFile("standins/ct/json.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lib, src, 0o644); err != nil {
		t.Fatal(err)
	}
	// As units.sh reads the file (json_file_driver).
	script := `. "$1"; for ((i = 0; i < $2; i++)); do
	if json_file_driver "$3/$i"; then printf 'Y%s\0' "$JSON_DRIVER"; else printf 'N\0'; fi
done`
	cmd := exec.CommandContext(t.Context(), "bash", "-c", script, "bash", lib, strconv.Itoa(n), dir)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	fields := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(fields) != n {
		t.Fatalf("bash gave %d answers for %d files", len(fields), n)
	}
	res := make([]*string, n)
	for i, f := range fields {
		if v, ok := strings.CutPrefix(f, "Y"); ok {
			res[i] = &v
		}
	}
	return res
}

// jqDriver is jq's answer for one file: nil when jq rejects it or the
// program prints nothing.
func jqDriver(ctx context.Context, jq, file string) *string {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, jq, "-r", "-s", jqDriverProgram, file)
	cmd.Stdout = &out
	if cmd.Run() != nil || out.Len() == 0 {
		return nil
	}
	v := strings.TrimSuffix(out.String(), "\n")
	return &v
}

// TestDaemonJSONDecidesDockerStart: /etc/docker/daemon.json as the
// systemctl and docker stand-ins read it (units.sh: the bash reader, jq
// for the rest), at a restart and at a boot, where the docker stand-in
// answers from the same code in its own process.
func TestDaemonJSONDecidesDockerStart(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.addCT(102, ctConf(102, "nesting=1,keyctl=1"), true)
	if r := installDistroDocker(e, 102); r.exit != 0 {
		t.Fatalf("install: %s", r)
	}
	for _, c := range []struct {
		json, driver, journal string
	}{
		{`{"log-opts":{"max-size":"10m"},"storage-driver":"vfs"}`, "vfs", ""},
		{"{\n  \"mtu\": 1450\n}\n", "overlay2", ""},
		{`{"storage-driver":"vfs",}`, "", "unable to configure the Docker daemon with file /etc/docker/daemon.json: "},
		{`{"storage-driver":"aufs"}`, "", "driver not supported: aufs"},
		{`{"storage-driver":"v\u0066s"}`, "vfs", ""},
	} {
		e.mustRun("pct exec 102 -- bash -c 'mkdir -p /etc/docker && cat > /etc/docker/daemon.json'", c.json)
		info := "pct exec 102 -- docker info --format '{{.Driver}}'"
		if c.driver != "" {
			e.mustRun("pct exec 102 -- systemctl restart docker", "")
			if r := e.mustRun(info, ""); r.stdout != c.driver+"\n" {
				t.Errorf("%s: docker info after a restart: %s", c.json, r)
			}
			e.mustRun("pct reboot 102", "")
			if r := e.run(info, ""); r.exit != 0 || r.stdout != c.driver+"\n" {
				t.Errorf("%s: docker info after a boot: %s", c.json, r)
			}
			continue
		}
		e.wantExit(c.json+": restart", "pct exec 102 -- systemctl restart docker", 1, "Job for docker.service failed")
		if r := e.mustRun("pct exec 102 -- journalctl -u docker --no-pager", ""); !strings.Contains(r.stdout, c.journal) {
			t.Errorf("%s: the journal does not say why: %s", c.json, r)
		}
		e.mustRun("pct reboot 102", "")
		if r := e.run("pct exec 102 -- systemctl is-active docker", ""); r.exit != 3 || r.stdout != "failed\n" {
			t.Errorf("%s: is-active after a boot: %s", c.json, r)
		}
		e.wantExit(c.json+": docker info after a boot", info, 1, "Cannot connect to the Docker daemon")
	}
}
