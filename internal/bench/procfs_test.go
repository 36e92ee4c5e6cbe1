package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// procNetTCP is /proc/net/tcp with a listener on 0xB1B1 (45489), an
// established connection to it (both ends), one in TIME_WAIT and an
// unrelated connection.
const procNetTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:B1B1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:9C40 0100007F:B1B1 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
   2: 0100007F:B1B1 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 20 4 30 10 -1
   3: 0100007F:9C41 0100007F:B1B1 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0
   4: 0100007F:9C42 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0 20 4 30 10 -1
`

func TestParseProcNetTCP(t *testing.T) {
	conns, err := parseProcNetTCP(strings.NewReader(procNetTCP), map[int]bool{0xB1B1: true})
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[TCPConn]bool{}
	for _, c := range conns {
		distinct[c] = true
	}
	want := map[TCPConn]bool{{ServerPort: 0xB1B1, ClientPort: 0x9C40}: true, {ServerPort: 0xB1B1, ClientPort: 0x9C41}: true}
	if len(distinct) != len(want) {
		t.Fatalf("connections = %v, want %v", distinct, want)
	}
	for c := range want {
		if !distinct[c] {
			t.Errorf("missing %v in %v", c, distinct)
		}
	}
	if _, err := parseProcNetTCP(strings.NewReader("header\n 0: 0100007F 0100007F 01\n"), nil); err == nil {
		t.Error("a line without ports should be an error")
	}
}

func TestConnTrackerCountsOnlyNewConnections(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	header := strings.SplitN(procNetTCP, "\n", 2)[0] + "\n"
	line := func(client int) string {
		return "   1: 0100007F:" + strings.ToUpper(hex4(client)) + " 0100007F:B1B1 01 00000000:00000000 00:00000000 00000000 0 0 2 1\n"
	}
	write := func(content string) {
		if err := os.WriteFile(filepath.Join(root, "net", "tcp"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(header + line(40000))
	ct := NewConnTracker(root, []int{0xB1B1})
	if err := ct.Start(time.Hour); err != nil {
		t.Fatal(err)
	}
	write(header + line(40000) + line(40001) + line(40002))
	got := ct.Stop()
	if got[0xB1B1] != 2 || len(got) != 1 {
		t.Errorf("new connections = %v, want 2 on port %d", got, 0xB1B1)
	}
}

func hex4(n int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[n>>12&15], digits[n>>8&15], digits[n>>4&15], digits[n&15]})
}

func TestParseVmHWM(t *testing.T) {
	status := []byte("Name:\tterraform-provi\nVmPeak:\t 1500000 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   30000 kB\n")
	if got, ok := parseVmHWM(status); !ok || got != 40960*1024 {
		t.Errorf("VmHWM = %d %v, want %d", got, ok, 40960*1024)
	}
	if _, ok := parseVmHWM([]byte("Name:\tx\n")); ok {
		t.Error("a status without VmHWM must not parse")
	}
}

func TestMemWatcherSeesItsOwnExecutable(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, err = filepath.EvalSymlinks(exe)
	if err != nil {
		t.Fatal(err)
	}
	w := NewMemWatcher("/proc", exe)
	w.Poll()
	peak, procs := w.Peak()
	if procs < 1 || peak <= 0 {
		t.Fatalf("peak %d from %d processes: the test binary itself should be seen", peak, procs)
	}
	if p, n := w.Peak(); p != 0 || n != 0 {
		t.Errorf("Peak should start over, got %d %d", p, n)
	}
	other := NewMemWatcher("/proc", filepath.Join(t.TempDir(), "terraform-provider-phoenix"))
	other.Poll()
	if _, n := other.Peak(); n != 0 {
		t.Errorf("%d processes seen for an executable nobody runs", n)
	}
}
