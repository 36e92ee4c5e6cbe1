package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TCPConn is one loopback TCP connection seen in /proc/net/tcp: the port of
// the server side and the port of the client side.
type TCPConn struct {
	ServerPort int
	ClientPort int
}

// tcpListen is the LISTEN state in /proc/net/tcp.
const tcpListen = "0A"

// parseProcNetTCP returns the connections of /proc/net/tcp (or tcp6) content
// that have one end on one of serverPorts. Listening sockets are skipped;
// closed connections still in TIME_WAIT are kept, so a connection that
// lived and died between two reads is still seen for about a minute.
func parseProcNetTCP(r io.Reader, serverPorts map[int]bool) ([]TCPConn, error) {
	var out []TCPConn
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[3] == tcpListen {
			continue
		}
		lp, err1 := hexPort(f[1])
		rp, err2 := hexPort(f[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("malformed line %q", sc.Text())
		}
		switch {
		case serverPorts[rp]:
			out = append(out, TCPConn{ServerPort: rp, ClientPort: lp})
		case serverPorts[lp]:
			out = append(out, TCPConn{ServerPort: lp, ClientPort: rp})
		}
	}
	return out, sc.Err()
}

// hexPort reads the port of an "ADDR:PORT" field of /proc/net/tcp.
func hexPort(field string) (int, error) {
	i := strings.LastIndexByte(field, ':')
	if i < 0 {
		return 0, fmt.Errorf("no port in %q", field)
	}
	p, err := strconv.ParseUint(field[i+1:], 16, 16)
	return int(p), err
}

// polling calls a function at once and then every interval, from start until
// end.
type polling struct {
	stop chan struct{}
	done chan struct{}
}

func (p *polling) start(interval time.Duration, poll func()) {
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			poll()
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
}

// end stops polling and waits for the last call to return. It does nothing
// when polling is not running.
func (p *polling) end() {
	if p.stop != nil {
		close(p.stop)
		<-p.done
		p.stop = nil
	}
}

// ConnTracker collects the distinct TCP connections made to a set of server
// ports (the simulator's SSH servers) by reading /proc/net/tcp{,6}.
type ConnTracker struct {
	ports  map[int]bool
	root   string
	mu     sync.Mutex
	before map[TCPConn]bool
	seen   map[TCPConn]bool
	polling
}

// NewConnTracker tracks connections to ports. procRoot is "/proc" outside
// tests.
func NewConnTracker(procRoot string, ports []int) *ConnTracker {
	m := map[int]bool{}
	for _, p := range ports {
		m[p] = true
	}
	return &ConnTracker{ports: m, root: procRoot}
}

func (t *ConnTracker) read() (map[TCPConn]bool, error) {
	out := map[TCPConn]bool{}
	for _, name := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(filepath.Join(t.root, "net", name))
		if err != nil {
			if os.IsNotExist(err) && name == "tcp6" {
				continue
			}
			return nil, err
		}
		conns, err := parseProcNetTCP(bytes.NewReader(b), t.ports)
		if err != nil {
			return nil, fmt.Errorf("%s/net/%s: %w", t.root, name, err)
		}
		for _, c := range conns {
			out[c] = true
		}
	}
	return out, nil
}

// Start remembers the connections that exist now (they are not counted)
// and polls every interval until Stop.
func (t *ConnTracker) Start(interval time.Duration) error {
	before, err := t.read()
	if err != nil {
		return err
	}
	t.before, t.seen = before, map[TCPConn]bool{}
	t.start(interval, t.poll)
	return nil
}

func (t *ConnTracker) poll() {
	now, err := t.read()
	if err != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range now {
		if !t.before[c] {
			t.seen[c] = true
		}
	}
}

// Stop ends polling, reads one last time and returns the number of new
// connections per server port.
func (t *ConnTracker) Stop() map[int]int {
	t.end()
	t.poll()
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[int]int{}
	for c := range t.seen {
		out[c.ServerPort]++
	}
	return out
}

// parseVmHWM returns the VmHWM line of /proc/<pid>/status in bytes.
func parseVmHWM(status []byte) (int64, bool) {
	for line := range strings.SplitSeq(string(status), "\n") {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		return kb * 1024, true
	}
	return 0, false
}

// MemWatcher polls /proc for the processes running one executable (the
// provider built for the run) and keeps the largest VmHWM (peak resident
// set size) seen.
type MemWatcher struct {
	root string
	exe  string
	mu   sync.Mutex
	peak int64
	pids map[int]bool
	polling
}

// NewMemWatcher watches processes whose /proc/<pid>/exe is exe.
func NewMemWatcher(procRoot, exe string) *MemWatcher {
	return &MemWatcher{root: procRoot, exe: exe, pids: map[int]bool{}}
}

// Start polls every interval until Stop.
func (w *MemWatcher) Start(interval time.Duration) {
	w.start(interval, w.Poll)
}

// Poll reads the status of every matching process once.
func (w *MemWatcher) Poll() {
	entries, err := os.ReadDir(w.root)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join(w.root, e.Name())
		if exe, err := os.Readlink(filepath.Join(dir, "exe")); err != nil || exe != w.exe {
			continue
		}
		status, err := os.ReadFile(filepath.Join(dir, "status"))
		if err != nil {
			continue
		}
		if hwm, ok := parseVmHWM(status); ok {
			w.mu.Lock()
			w.pids[pid] = true
			if hwm > w.peak {
				w.peak = hwm
			}
			w.mu.Unlock()
		}
	}
}

// Stop ends polling.
func (w *MemWatcher) Stop() {
	w.end()
}

// Peak returns the largest VmHWM seen in bytes and how many processes were
// seen, then starts over.
func (w *MemWatcher) Peak() (int64, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, n := w.peak, len(w.pids)
	w.peak, w.pids = 0, map[int]bool{}
	return p, n
}
