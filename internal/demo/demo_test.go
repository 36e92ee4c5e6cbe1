package demo

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// demoCmd builds cmd/demo and returns the command that runs it from the
// repository's root, as make demo does.
func demoCmd(t *testing.T) *exec.Cmd {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("runs the whole demo (Terraform CLI, simulator with SSH sandboxes): set TF_ACC=1 (make test does)")
	}
	if err := CheckBubblewrap(); err != nil {
		t.Skip("bwrap is not on PATH: the simulator runs node and container commands in bubblewrap sandboxes (apt-get install bubblewrap)")
	}
	tf, err := FindTerraform(os.Getenv("TF_ACC_TERRAFORM_PATH"))
	if err != nil {
		t.Skip(err.Error())
	}
	repo, err := FindRepo(".")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "demo")
	build := exec.Command("go", "build", "-o", bin, "./internal/demo/cmd/demo")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-terraform", tf)
	cmd.Dir = repo
	return cmd
}

var (
	reTempDir = regexp.MustCompile(`temporary directory (\S+) \(removed on exit\)`)
	reSimPID  = regexp.MustCompile(`simulator pid (\d+),`)
)

// checkNothingLeft fails when the simulator's process (or any process of
// its group) still runs, or when a process still has its executable,
// arguments or working directory in the demo's temporary directory (the
// provider, Terraform), or when that directory still exists.
func checkNothingLeft(t *testing.T, out string) {
	t.Helper()
	m := reTempDir.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no temporary directory in the output:\n%s", out)
	}
	tmp := m[1]
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary directory %s left behind (stat: %v)", tmp, err)
	}
	if m := reSimPID.FindStringSubmatch(out); m != nil {
		pid, _ := strconv.Atoi(m[1])
		if processAlive(pid) {
			t.Errorf("simulator pid %d still running", pid)
		}
		if left := groupMembers(pid); len(left) > 0 {
			t.Errorf("processes left in the simulator's process group %d: %v", pid, left)
		}
	}
	if left := processesUnder(tmp); len(left) > 0 {
		t.Errorf("processes still using %s: %v", tmp, left)
	}
}

// procs lists the live processes from /proc.
func procs() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func groupMembers(pgid int) []int {
	var out []int
	for _, pid := range procs() {
		if g, err := syscall.Getpgid(pid); err == nil && g == pgid {
			out = append(out, pid)
		}
	}
	return out
}

func processesUnder(dir string) []string {
	var out []string
	for _, pid := range procs() {
		p := filepath.Join("/proc", strconv.Itoa(pid))
		exe, _ := os.Readlink(filepath.Join(p, "exe"))
		cwd, _ := os.Readlink(filepath.Join(p, "cwd"))
		cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		args := strings.ReplaceAll(string(cmdline), "\x00", " ")
		if strings.HasPrefix(exe, dir) || strings.HasPrefix(cwd, dir) || strings.Contains(args, dir) {
			out = append(out, strconv.Itoa(pid)+" "+args)
		}
	}
	return out
}

func TestAccDemo(t *testing.T) {
	cmd := demoCmd(t)
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	i := strings.Index(out, "Second terraform apply")
	j := strings.Index(out, "terraform destroy")
	if i < 0 || j < i {
		t.Fatalf("no second apply followed by the destroy in the output:\n%s", out)
	}
	if !strings.Contains(out[i:j], "No changes. Your infrastructure matches the configuration.") {
		t.Errorf("the second apply did not print No changes:\n%s", out[i:j])
	}
	for _, re := range []string{
		`phoenix_lxc_container\.docker: created in \d+s \[id=pve1/9100\]`,
		`phoenix_lxc_container\.plain: created in \d+s \[id=pve1/9101\]`,
		`phoenix_lxc_container\.docker: container: Docker install script`,
		`docker_container:\n(.*\n)*.*effective_apparmor_profile\s+= lxc-docker-secure\n`,
		`docker_version\s+= \S+`,
		`docker_tests\.test_case_docker_hello_world\s+= passed`,
		`docker_tests\.test_case_docker_network_access\s+= passed`,
		`docker_tests\.test_case_docker_service_is_running\s+= passed`,
		`plain_container:\n(.*\n)*.*effective_apparmor_profile\s+= generated\n`,
		`Destroy complete! Resources: 2 destroyed\.`,
		`==> Demo complete`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s", re)
		}
	}
	if regexp.MustCompile(`root@pam!phoenix=`).MatchString(out) {
		t.Error("the output shows the API token")
	}
	checkNothingLeft(t, out)
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestAccDemoInterrupted sends SIGINT (a Ctrl-C) while the containers are
// being created: the demo stops Terraform, then the simulator, removes its
// directory and exits with 130.
func TestAccDemoInterrupted(t *testing.T) {
	cmd := demoCmd(t)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out strings.Builder
	sent := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "phoenix_lxc_container.docker: creating") {
				_ = cmd.Process.Signal(syscall.SIGINT)
				close(sent)
			}
		}
	}()
	select {
	case <-sent:
	case <-done:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
	}
	<-done
	err = cmd.Wait()
	mu.Lock()
	text := out.String()
	mu.Unlock()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v, want status 130\n%s", err, text)
	}
	for _, s := range []string{"stopping Terraform, then the simulator", "Stopping the simulator", "demo interrupted"} {
		if !strings.Contains(text, s) {
			t.Errorf("output lacks %q", s)
		}
	}
	checkNothingLeft(t, text)
	if t.Failed() {
		t.Logf("output:\n%s", text)
	}
}
