package docker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testNonce = "0123456789abcdef0123456789abcdef"

func section(vmid int, body string, code int) string {
	return testNonce + " begin " + strconv.Itoa(vmid) + "\n" + body + testNonce + " end " + strconv.Itoa(vmid) + " " + strconv.Itoa(code) + "\n"
}

const activeLine = "phoenix-docker: check service_active=1 installed_version=5:28.5.2-1~debian.12~bookworm package=docker-ce containerd_version=1.7.28-1 compose_version=2.40.3-1 storage_driver=overlay2 daemon_json_sha256= apt_key_sha256= apt_source_sha256= fingerprint=\n"
const inactiveLine = "phoenix-docker: check service_active=0 installed_version=5:28.5.2-1~debian.12~bookworm package=docker-ce containerd_version=1.7.28-1 compose_version=2.40.3-1 storage_driver= daemon_json_sha256= apt_key_sha256= apt_source_sha256= fingerprint=\nFATAL: docker service is not active (state: inactive)\n"

func TestCheckBatchParseSections(t *testing.T) {
	out := "sudo: a login banner\n" +
		section(101, activeLine, 0) +
		section(102, inactiveLine, 1) +
		section(103, "", 255)
	got := ParseCheckSweep(out, testNonce, []int{101, 102, 103}, nil)
	if s := got[101]; s.Err != nil || s.ExitCode != 0 || s.Output != activeLine {
		t.Errorf("101: %+v", s)
	}
	r, err := ParseCheckResult(got[101].Output)
	if err != nil || !r.ServiceActive || r.InstalledVersion != "5:28.5.2-1~debian.12~bookworm" {
		t.Errorf("101 parsed: %+v, %v", r, err)
	}
	// A non-zero exit of one container is that container's result alone.
	if s := got[102]; s.Err != nil || s.ExitCode != 1 || s.Output != inactiveLine {
		t.Errorf("102: %+v", s)
	}
	if r, err := ParseCheckResult(got[102].Output); err != nil || r.ServiceActive {
		t.Errorf("102 parsed: %+v, %v", r, err)
	}
	if s := got[103]; s.Err != nil || s.ExitCode != 255 || s.Output != "" {
		t.Errorf("103: %+v", s)
	}
}

func TestCheckBatchParseSpoofedDelimiters(t *testing.T) {
	// Container 101 prints lines shaped like delimiters, with a nonce it
	// made up, trying to end its section early and to forge an active
	// check for container 102, whose Docker is in fact inactive.
	const forged = "ffffffffffffffffffffffffffffffff"
	spoof := inactiveLine +
		forged + " end 101 0\n" +
		forged + " begin 102\n" + activeLine + forged + " end 102 0\n" +
		" " + testNonce + " end 101 0\n" // not at the start of the line
	out := section(101, spoof, 1) + section(102, inactiveLine, 1)
	got := ParseCheckSweep(out, testNonce, []int{101, 102}, nil)
	if s := got[101]; s.Err != nil || s.ExitCode != 1 || s.Output != spoof {
		t.Errorf("101: the spoofed lines must stay in its own output: %+v", s)
	}
	if _, err := ParseCheckResult(got[101].Output); err == nil {
		t.Error("101: output with lines after the FATAL line parsed without an error")
	}
	if s := got[102]; s.Err != nil || s.Output != inactiveLine {
		t.Errorf("102: %+v", s)
	}
	if r, err := ParseCheckResult(got[102].Output); err != nil || r.ServiceActive {
		t.Errorf("102 must keep its own (inactive) result: %+v, %v", r, err)
	}
}

func TestCheckBatchParseBrokenSections(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want map[int]string // vmid -> "" for a good section, else a part of the error
	}{
		{"missing section", section(101, activeLine, 0), map[int]string{101: "", 102: "no section for container 102"}},
		{"cut short", section(101, activeLine, 0) + testNonce + " begin 102\n" + activeLine, map[int]string{101: "", 102: "no end"}},
		{"begin inside a section", testNonce + " begin 101\n" + activeLine + section(102, activeLine, 0), map[int]string{101: "no end", 102: ""}},
		{"end of another container", testNonce + " begin 101\n" + activeLine + testNonce + " end 102 0\n" + section(102, activeLine, 0), map[int]string{101: "unexpected delimiter", 102: ""}},
		{"unknown container", testNonce + " begin 101\n" + testNonce + " begin 999\n", map[int]string{101: "malformed delimiter", 102: "no section"}},
		{"bad exit status", testNonce + " begin 101\n" + testNonce + " end 101 x\n" + section(102, "", 0), map[int]string{101: "bad exit status", 102: ""}},
		{"two sections", section(101, activeLine, 0) + section(101, activeLine, 0) + section(102, activeLine, 0), map[int]string{101: "two sections", 102: ""}},
		{"empty output", "", map[int]string{101: "no section", 102: "no section"}},
		// The script prints the sections in the order given: 101's after
		// 102's is not the script's.
		{"out of order", section(102, activeLine, 0) + section(101, activeLine, 0), map[int]string{101: "out of order", 102: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseCheckSweep(tt.out, testNonce, []int{101, 102}, nil)
			if len(got) != 2 {
				t.Fatalf("got %d entries, want 2: %+v", len(got), got)
			}
			for vmid, want := range tt.want {
				s := got[vmid]
				switch {
				case want == "" && (s.Err != nil || s.Output != activeLine && s.Output != ""):
					t.Errorf("%d: want a good section, got %+v", vmid, s)
				case want != "" && (s.Err == nil || !strings.Contains(s.Err.Error(), want)):
					t.Errorf("%d: want an error with %q, got %+v", vmid, want, s)
				}
			}
		})
	}
}

func TestValidBatchNonce(t *testing.T) {
	for s, want := range map[string]bool{testNonce: true, testNonce + "00": true, testNonce[:31]: false, strings.ToUpper(testNonce): false, "": false} {
		if ValidBatchNonce(s) != want {
			t.Errorf("ValidBatchNonce(%q) = %v", s, !want)
		}
	}
}

// fakePct is a pct that answers "pct exec VMID -- bash -c SCRIPT NAME" from
// files: it prints the SHA-256 of SCRIPT, then
// $FAKE_PCT/VMID.out, sleeps $FAKE_PCT/VMID.sleep seconds and exits with
// $FAKE_PCT/VMID.rc. It fails (98) when it inherited any descriptor but
// the three standard ones (and bash's own 255 on its script): what pct
// inherits, the container's processes inherit too. It fails (97) when its
// stdin is not /dev/null, and (96) when its environment holds the nonce
// (in $FAKE_PCT/nonce when the test writes one): pct exec passes the node's
// environment on into the container (keep-env is on by default before
// Proxmox VE 9).
const fakePct = `#!/bin/bash
[[ $# == 7 && $1 == exec && $3 == -- && $4 == bash && $5 == -c && $7 == check_docker_service.sh ]] || { echo "fake pct: unexpected $*" >&2; exit 99; }
vmid=$2 d=$FAKE_PCT
for f in /proc/$$/fd/*; do
	n=${f##*/}
	if ((n > 2 && n != 255)) && [[ -e $f ]]; then
		echo "fake pct: container $vmid inherited descriptor $n ($(readlink "$f"))"
		exit 98
	fi
done
[[ /proc/$$/fd/0 -ef /dev/null ]] || { echo "fake pct: container $vmid has stdin $(readlink /proc/$$/fd/0)"; exit 97; }
if [[ -f $d/nonce ]] && env | grep -qF -- "$(<"$d/nonce")"; then
	echo "fake pct: the nonce is in the environment of container $vmid"
	exit 96
fi
sum=$(printf '%s' "$6" | sha256sum)
printf 'script-sha256=%s\n' "${sum%% *}"
[[ -f $d/$vmid.sleep ]] && sleep "$(<"$d/$vmid.sleep")"
[[ -f $d/$vmid.fork ]] && { sleep "$(<"$d/$vmid.fork")" & }
[[ -f $d/$vmid.out ]] && printf '%s' "$(<"$d/$vmid.out")"
[[ -f $d/$vmid.err ]] && printf '%s\n' "$(<"$d/$vmid.err")" >&2
[[ -f $d/$vmid.big ]] && head -c 1500000 /dev/zero | tr '\0' x
[[ -f $d/$vmid.nl ]] && head -c 65000 /dev/zero | tr '\0' '\n'
exit "$(cat "$d/$vmid.rc" 2>/dev/null || echo 0)"
`

// sectionOrder lists the vmids of a batch output's sections in order.
func sectionOrder(out []byte) []string {
	var order []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, testNonce+" begin ") {
			order = append(order, strings.TrimPrefix(l, testNonce+" begin "))
		}
	}
	return order
}

// fakeNode makes the directories of a stand-in node (bin with the fake
// pct, the fake's state, the containers' configurations) and returns bash,
// them and a function that writes a file.
func fakeNode(t *testing.T) (bash, bin, state, confs string, write func(name, content string, mode os.FileMode)) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed: the batch script did not run")
	}
	dir := t.TempDir()
	bin, state, confs = filepath.Join(dir, "bin"), filepath.Join(dir, "state"), filepath.Join(dir, "lxc")
	for _, d := range []string{bin, state, confs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write = func(name, content string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(name, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(bin, "pct"), fakePct, 0o755)
	return bash, bin, state, confs, write
}

// TestCheckBatchScript runs check_docker_batch.sh with a stand-in pct and
// parses its output: sections in the order asked although the first check
// ends last, each container's exit status, output without a last newline,
// a forged delimiter, a container pct cannot enter, one that runs out of
// time and one that leaves a process behind holding its output open.
func TestCheckBatchScript(t *testing.T) {
	bash, bin, state, _, write := fakeNode(t)
	files := map[string]string{
		"101.sleep": "0.4", "101.out": activeLine,
		"102.out": strings.TrimSuffix(inactiveLine, "\n"), "102.rc": "1",
		"103.out": activeLine + "ffffffffffffffffffffffffffffffff end 104 0\n", "103.rc": "0",
		"104.err": "CT 104 not running", "104.rc": "255",
		"105.sleep": "5",
		// A check that leaves a process behind holding its output open.
		"106.fork": "25", "106.out": activeLine,
	}
	for name, content := range files {
		write(filepath.Join(state, name), content, 0o644)
	}
	vmids := []int{101, 102, 103, 104, 105, 106}
	if _, _, err := CheckSweep(strings.ToUpper(testNonce), vmids, "", nil); err == nil {
		t.Error("CheckSweep accepted an upper-case nonce")
	}
	argv, stdin, err := CheckSweep(testNonce, vmids, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if argv[0] != "bash" || argv[1] != "-c" || argv[3] != CheckBatchScriptName || argv[4] != testNonce {
		t.Fatalf("argv = %q", argv[:5])
	}
	// The same script with a short timeout and two checks at a time.
	args := append([]string{"-c", argv[2], CheckBatchScriptName, testNonce, "2", "1"}, argv[7:]...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, args...)
	// Run through sudo, the command line (nonce included) is in
	// SUDO_COMMAND; no container may see it.
	write(filepath.Join(state, "nonce"), testNonce, 0o644)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAKE_PCT="+state,
		"SUDO_COMMAND=/usr/bin/bash -c ... "+CheckBatchScriptName+" "+testNonce+" 2 1")
	cmd.Stdin = strings.NewReader(string(stdin))
	began := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("batch script: %v\n%s", err, out)
	}
	if took := time.Since(began); took > 20*time.Second {
		t.Errorf("the batch took %s: the process 106 left behind held it up", took)
	}
	// Each container gets the whole check script as its command.
	sum := sha256.Sum256(stdin)
	fed := "script-sha256=" + hex.EncodeToString(sum[:]) + "\n"
	got := ParseCheckSweep(string(out), testNonce, vmids, nil)
	want := map[int]BatchSection{
		101: {Output: fed + activeLine, ExitCode: 0},
		102: {Output: fed + inactiveLine, ExitCode: 1},
		103: {Output: fed + files["103.out"], ExitCode: 0},
		104: {Output: fed + "CT 104 not running\n", ExitCode: 255},
		105: {Output: fed, ExitCode: 124},
		106: {Output: fed + activeLine, ExitCode: 0},
	}
	for _, v := range vmids {
		if g := got[v]; g.Err != nil || g.Output != want[v].Output || g.ExitCode != want[v].ExitCode {
			t.Errorf("%d: got %+v, want %+v", v, g, want[v])
		}
	}
	// The sections come in the order asked.
	order := sectionOrder(out)
	if strings.Join(order, " ") != "101 102 103 104 105 106" {
		t.Errorf("sections in order %v\n%s", order, out)
	}
	// Bad arguments stop the script before any pct runs.
	bad := exec.CommandContext(ctx, bash, "-c", argv[2], CheckBatchScriptName, "short", "2", "1", "101")
	bad.Env = cmd.Env
	bad.Stdin = strings.NewReader("x")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "nonce") {
		t.Errorf("a short nonce was accepted: %v\n%s", err, out)
	}
}

// TestCheckSweepScript runs check_docker_batch.sh with +VMID candidates: a
// candidate is checked only when its configuration's main section runs it
// under the profile (the last lxc.apparmor.profile line counts, as for
// LXC); the others print nothing, and the containers asked print their
// sections as without candidates.
func TestCheckSweepScript(t *testing.T) {
	bash, bin, state, confs, write := fakeNode(t)
	for _, v := range []int{101, 201, 202, 203, 205, 206, 207, 208, 209, 210} {
		write(filepath.Join(state, strconv.Itoa(v)+".out"), activeLine, 0o644)
	}
	const prof = "lxc-docker-secure"
	conf := map[int]string{
		201: "arch: amd64\nlxc.apparmor.profile: " + prof + "\nunprivileged: 1\n",
		202: "arch: amd64\nlxc.apparmor.profile: unconfined\n",
		// Only a snapshot runs under the profile.
		203: "arch: amd64\n\n[before]\nlxc.apparmor.profile: " + prof + "\n",
		// The last line counts.
		205: "lxc.apparmor.profile: unconfined\nlxc.apparmor.profile: " + prof + "\n",
		206: "lxc.apparmor.profile: " + prof + "\nlxc.apparmor.profile: unconfined\n",
		// A backup holds the container.
		207: "lock: backup\nlxc.apparmor.profile: " + prof + "\n",
		// Raw lxc lines as PVE's parse_pct_config reads them
		// (PVE::LXC::Config: "key:" or "key =", the value trimmed).
		208: "lxc.apparmor.profile = " + prof + "\n",
		209: "lxc.apparmor.profile:" + prof + " \t\n",
		210: "lxc.apparmor.profile: " + prof + "\nlxc.apparmor.profile: " + prof + " x\n",
		// 204 has no configuration on this node.
	}
	for v, c := range conf {
		write(filepath.Join(confs, strconv.Itoa(v)+".conf"), c, 0o640)
	}
	// 102 prints more than the script passes on (64 KiB), 103 65,000
	// newlines, just under it.
	write(filepath.Join(state, "102.big"), "", 0o644)
	write(filepath.Join(state, "103.nl"), "", 0o644)
	asked, candidates := []int{101, 102, 103}, []int{201, 202, 203, 204, 205, 206, 207, 208, 209, 210}
	if _, _, err := CheckSweep(testNonce, asked, "bad profile", candidates); err == nil {
		t.Error("CheckSweep accepted a profile name with a space")
	}
	argv, stdin, err := CheckSweep(testNonce, asked, prof, candidates)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(argv[3:6], " ") != CheckBatchScriptName+" -p "+prof || argv[len(argv)-1] != "+210" {
		t.Fatalf("argv = %q", argv[3:])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env := append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAKE_PCT="+state, "PHOENIX_LXC_CONF_DIR="+confs)
	cmd := exec.CommandContext(ctx, bash, argv[1:]...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(string(stdin))
	began := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("batch script: %v\n%.2000s", err, out)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("the script took %s over large outputs", took)
	}
	order := sectionOrder(out)
	if strings.Join(order, " ") != "101 102 103 201 205 208 209" {
		t.Errorf("sections for %v, want 101 102 103 201 205 208 209\n%.2000s", order, out)
	}
	if s := ParseCheckSweep(string(out), testNonce, asked, nil)[103]; s.Err != nil || s.ExitCode != 0 {
		t.Errorf("103 (newlines): %v, exit %d", s.Err, s.ExitCode)
	}
	got := ParseCheckSweep(string(out), testNonce, asked, candidates)
	for _, v := range []int{101, 201, 205, 208, 209} {
		if s, ok := got[v]; !ok || s.Err != nil || s.ExitCode != 0 || !strings.HasSuffix(s.Output, activeLine) {
			t.Errorf("%d: %+v", v, s)
		}
	}
	if s := got[102]; s.Err != nil || s.ExitCode != 124 || len(s.Output) > 64<<10+1 {
		t.Errorf("102 (1.5 MB of output): exit %d, %d bytes, %v; want 124 and at most 64 KiB", s.ExitCode, len(s.Output), s.Err)
	}
	for _, v := range []int{202, 203, 204, 206, 207, 210} {
		if s, ok := got[v]; ok {
			t.Errorf("%d (not under the profile, or locked) got a section: %+v", v, s)
		}
	}
	// A candidate needs the profile; the profile must be a plain name.
	for _, args := range [][]string{
		{testNonce, "2", "1", "101", "+201"},
		{"-p", "a/b", testNonce, "2", "1", "+201"},
	} {
		bad := exec.CommandContext(ctx, bash, append([]string{"-c", argv[2], CheckBatchScriptName}, args...)...)
		bad.Env = env
		bad.Stdin = strings.NewReader("x")
		if out, err := bad.CombinedOutput(); err == nil || strings.Contains(string(out), testNonce+" begin") {
			t.Errorf("%q was accepted: %v\n%s", args, err, out)
		}
	}
}

// A sweep's candidates get an entry only for a sound section; the
// containers asked get one in any case.
func TestParseCheckSweep(t *testing.T) {
	out := section(101, activeLine, 0) + section(201, activeLine, 0) + testNonce + " begin 202\ncut"
	got := ParseCheckSweep(out, testNonce, []int{101, 102}, []int{201, 202, 203})
	if s := got[101]; s.Err != nil || s.Output != activeLine {
		t.Errorf("101: %+v", s)
	}
	if s := got[102]; s.Err == nil {
		t.Errorf("102 (asked, no section) has no error: %+v", s)
	}
	if s, ok := got[201]; !ok || s.Err != nil || s.Output != activeLine {
		t.Errorf("201: %+v", s)
	}
	for _, v := range []int{202, 203} {
		if s, ok := got[v]; ok {
			t.Errorf("%d: a cut or missing candidate section has an entry: %+v", v, s)
		}
	}
}

// A SweepParser fed one line at a time says which section each line ends,
// at that line and only for a sound one, and reads what ParseCheckSweep
// reads; a section's lines cost their own length, whatever came before
// (a container's own section of 64 KiB of empty lines included).
func TestSweepParserLineAtATime(t *testing.T) {
	flood := strings.Repeat("\n", 65536)
	outs := []string{
		"banner\r\n" + section(101, activeLine, 0) + section(102, inactiveLine, 1) + section(201, flood, 0) +
			section(202, activeLine, 0) + testNonce + " begin 203\n" + activeLine + testNonce + " end 203 x\n" +
			section(204, activeLine, 0) + section(202, activeLine, 0) + testNonce + " begin 205\ncut",
		section(102, activeLine, 0) + section(101, activeLine, 0) + section(201, activeLine, 0),
		testNonce + " begin 101\n" + testNonce + " end 102 0\n" + section(201, activeLine, 0),
	}
	for i, out := range outs {
		p := NewSweepParser(testNonce, []int{101, 102}, []int{201, 202, 203, 204, 205})
		var ends []int
		lines := strings.Split(out, "\n")
		for _, l := range lines {
			if v, ended := p.Line(l); ended {
				ends = append(ends, v)
				if !strings.HasPrefix(l, testNonce+" end "+strconv.Itoa(v)+" ") {
					t.Errorf("out %d: %d ended at %q", i, v, l)
				}
				if s, ok := p.Section(v); !ok || s.Err != nil {
					t.Errorf("out %d: %d ended but its section is %+v", i, v, s)
				}
			}
		}
		got, want := p.Sections(), ParseCheckSweep(out, testNonce, []int{101, 102}, []int{201, 202, 203, 204, 205})
		if len(got) != len(want) {
			t.Errorf("out %d: %d sections line by line, %d at once", i, len(got), len(want))
		}
		for v, w := range want {
			g, ok := got[v]
			if !ok || g.Output != w.Output || g.ExitCode != w.ExitCode || (g.Err == nil) != (w.Err == nil) {
				t.Errorf("out %d: %d: line by line %+v, at once %+v", i, v, g, w)
			}
		}
		t.Logf("out %d: sections ended %v", i, ends)
		if i == 0 {
			// 202 ended soundly first; its second section (only a writer
			// with the nonce prints one) breaks it in the end.
			if want := []int{101, 102, 201, 202, 204}; !slices.Equal(ends, want) {
				t.Errorf("ended %v, want %v", ends, want)
			}
			if s := got[201]; s.Output != flood {
				t.Errorf("201's 64 KiB of newlines came out as %d bytes", len(s.Output))
			}
			if _, ok := got[202]; ok {
				t.Error("202, printed twice, kept a section")
			}
		}
	}
}

// parseSweepWhole is ParseCheckSweep as it was before SweepParser: the
// whole output at once. TestSweepParserMatchesTheWholeParse holds the two
// to the same answers.
func parseSweepWhole(out, nonce string, vmids, candidates []int) map[int]BatchSection {
	res := make(map[int]BatchSection, len(vmids)+len(candidates))
	// place is where each container's section may stand: the script prints
	// them in the order given, the asked ones first.
	place := make(map[int]int, len(vmids)+len(candidates))
	for i, v := range slices.Concat(vmids, candidates) {
		if _, ok := place[v]; !ok {
			place[v] = i
		}
	}
	known := func(vmid int) bool { _, ok := place[vmid]; return ok }
	last := -1 // the place of the last section begun
	prefix := nonce + " "
	cur := -1 // the vmid of the open section
	var body []string
	broken := func(vmid int, format string, args ...any) {
		if _, done := res[vmid]; !done || res[vmid].Err == nil {
			res[vmid] = BatchSection{ExitCode: -1, Err: fmt.Errorf(format, args...)}
		}
	}
	for _, l := range strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n") {
		if nonce == "" || !strings.HasPrefix(l, prefix) {
			if cur >= 0 {
				body = append(body, l)
			}
			continue
		}
		f := strings.Fields(strings.TrimPrefix(l, prefix))
		var vmid int
		var err error
		if len(f) >= 2 {
			vmid, err = strconv.Atoi(f[1])
		}
		switch {
		case len(f) < 2 || err != nil || !known(vmid):
			if cur >= 0 {
				broken(cur, "%s: malformed delimiter in the section of container %d", CheckBatchScriptName, cur)
				cur = -1
			}
		case f[0] == "begin" && len(f) == 2:
			if cur >= 0 {
				broken(cur, "%s: the section of container %d has no end", CheckBatchScriptName, cur)
			}
			if _, seen := res[vmid]; seen {
				broken(vmid, "%s: container %d has two sections", CheckBatchScriptName, vmid)
				cur = -1
				continue
			}
			if place[vmid] <= last {
				broken(vmid, "%s: the section of container %d is out of order", CheckBatchScriptName, vmid)
				cur = -1
				continue
			}
			last = place[vmid]
			cur, body = vmid, nil
		case f[0] == "end" && len(f) == 3 && vmid == cur:
			code, err := strconv.Atoi(f[2])
			if err != nil || code < 0 {
				broken(cur, "%s: bad exit status %q for container %d", CheckBatchScriptName, f[2], cur)
			} else {
				res[cur] = BatchSection{Output: strings.Join(body, "\n") + lineEnd(body), ExitCode: code}
			}
			cur = -1
		default:
			if cur >= 0 {
				broken(cur, "%s: unexpected delimiter in the section of container %d", CheckBatchScriptName, cur)
				cur = -1
			}
		}
	}
	if cur >= 0 {
		broken(cur, "%s: the section of container %d has no end (output cut short)", CheckBatchScriptName, cur)
	}
	for _, v := range vmids {
		if _, ok := res[v]; !ok {
			res[v] = BatchSection{ExitCode: -1, Err: fmt.Errorf("%s printed no section for container %d", CheckBatchScriptName, v)}
		}
	}
	for _, v := range candidates {
		if s, ok := res[v]; ok && s.Err != nil && !slices.Contains(vmids, v) {
			delete(res, v)
		}
	}
	return res
}

// SweepParser, a line at a time, gives what the whole-output parse it
// replaced gives, on outputs made of random sections: sound, cut, with an
// unknown or malformed delimiter, out of order, twice, with CRLF endings
// and with a container's own lines that look like delimiters.
func TestSweepParserMatchesTheWholeParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	vmids, candidates := []int{101, 102}, []int{201, 202, 203}
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	ids := []string{"101", "102", "201", "202", "203", "999", "x"}
	for run := range 3000 {
		var b strings.Builder
		for range rng.IntN(7) {
			id := ids[rng.IntN(len(ids))]
			eol := pick("\n", "\n", "\n", "\r\n")
			switch rng.IntN(9) {
			case 0:
				b.WriteString(testNonce + " begin " + id + eol)
			case 1:
				b.WriteString(testNonce + " end " + id + " " + pick("0", "1", "255", "-1", "x") + eol)
			case 2:
				b.WriteString(pick("banner", "", testNonce, testNonce+" begin", "ffff end 101 0", " "+testNonce+" end 101 0") + eol)
			default:
				b.WriteString(testNonce + " begin " + id + eol)
				for range rng.IntN(3) {
					b.WriteString(pick(activeLine, inactiveLine, "\n", "x\r\n", testNonce+" begin\n", testNonce+" bogus 101\n", testNonce+" end 999 0\n"))
				}
				if rng.IntN(6) > 0 {
					b.WriteString(testNonce + " end " + id + " " + pick("0", "1", "0") + eol)
				}
			}
		}
		out := b.String()
		want := parseSweepWhole(out, testNonce, vmids, candidates)
		p := NewSweepParser(testNonce, vmids, candidates)
		for _, l := range strings.Split(out, "\n") {
			p.Line(l)
		}
		got := p.Sections()
		if len(got) != len(want) {
			t.Fatalf("run %d: %d sections, the whole parse %d\n%q", run, len(got), len(want), out)
		}
		for v, w := range want {
			g, ok := got[v]
			if !ok || g.Output != w.Output || g.ExitCode != w.ExitCode || (g.Err == nil) != (w.Err == nil) {
				t.Fatalf("run %d: %d: %+v, the whole parse %+v\n%q", run, v, g, w, out)
			}
		}
	}
}

// CheckSweepDeadline counts the bounds the script sets itself: its
// candidates' bound and the kills after a check's bound; CheckOutputMax
// is the script's bound of a check's output.
func TestCheckSweepDeadline(t *testing.T) {
	script := string(checkBatchScript)
	for _, want := range []string{
		"readonly CANDIDATE_TIMEOUT=" + strconv.Itoa(CheckCandidateTimeoutSeconds) + "\n",
		"readonly OUTPUT_MAX=" + strconv.Itoa(CheckOutputMax) + "\n",
		`timeout --kill-after=5 "$limit" pct exec`,
		`timeout --kill-after=5 "$((limit + 10))" stdbuf`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("%s does not hold %q: CheckSweepDeadline no longer matches its bounds", CheckBatchScriptName, want)
		}
	}
	for _, c := range []struct {
		asked, candidates int
		want              time.Duration
	}{
		{2, 0, 105 * time.Second},               // one round of 60 + 15, and 30
		{16, 0, 105 * time.Second},              // 16 at once
		{17, 0, 180 * time.Second},              // two rounds
		{2, 40, (75 + 3*30 + 30) * time.Second}, // three rounds of candidates at 15 + 15
	} {
		if got := CheckSweepDeadline(c.asked, c.candidates); got != c.want {
			t.Errorf("CheckSweepDeadline(%d, %d) = %s, want %s", c.asked, c.candidates, got, c.want)
		}
	}
}

// TestCheckScriptFitsOneArgument: check_docker_batch.sh hands the check
// script to each container as one argument of "pct exec VMID -- bash -c".
// That holds while it is plain ASCII (pct decodes its extra arguments by the
// node's locale, PVE::JSONSchema::get_options), holds no NUL, starts with
// neither "-" nor "+" (bash would take it for options) and stays well under
// Linux's limit of 128 KiB for one argument (MAX_ARG_STRLEN).
func TestCheckScriptFitsOneArgument(t *testing.T) {
	if len(checkScript) == 0 || len(checkScript) > 64<<10 {
		t.Errorf("check script of %d bytes; one argument holds at most 128 KiB", len(checkScript))
	}
	if checkScript[0] == '-' || checkScript[0] == '+' {
		t.Errorf("the check script starts with %q, which bash would take for options", checkScript[0])
	}
	for i, c := range checkScript {
		if c == 0 || c > 0x7e || (c < 0x20 && c != '\n' && c != '\t') {
			line := bytes.Count(checkScript[:i], []byte("\n")) + 1
			t.Fatalf("byte %#x on line %d of the check script: only printable ASCII, tabs and newlines pass unchanged", c, line)
		}
	}
}
