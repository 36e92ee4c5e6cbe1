package sshd

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// journalCases are node commands and whether each changes the state the
// write detection covers (Event.Write): the PVE configs, the node's
// /etc/apparmor.d, its volumes and runtime files, and not /tmp or the lock
// directories.
var journalCases = []struct {
	name, command string
	write         bool
}{
	{"first exec fills the volume", "pct exec 102 -- true", false},
	// A script that runs pct exec for the IDs it is given (as the
	// provider's batch check does): the fill is not its write either.
	{"first exec from a script given +ID", "bash -c 'for v; do pct exec \"${v#+}\" -- true; done' script +103", false},
	{"first exec from an inline script given the ID", "bash -c 'for v; do\n\tpct exec \"$v\" -- true\ndone' script 104", false},
	{"read a config", "cat /etc/pve/lxc/102.conf", false},
	{"read in the container", "pct exec 102 -- cat /etc/os-release", false},
	{"list the volumes", "find /var/lib/phoenix-sim/volumes >/dev/null", false},
	{"node /tmp", "echo x >/tmp/scratch && rm /tmp/scratch", false},
	{"config lock", "flock /run/lock/lxc/pve-config-102.lock true", false},
	{"node lock", "flock /run/lock/phoenix-test.lock true", false},
	{"open for append, write nothing", "pct exec 102 -- sh -c ': >>/etc/hostname'", false},
	{"append to a config", "echo '#note' >>/etc/pve/lxc/102.conf", true},
	{"touch a file in the container", "pct exec 102 -- touch /etc/hostname", true},
	{"chmod in the container", "pct exec 102 -- chmod 600 /etc/hostname", true},
	{"new file in the container", "pct exec 102 -- sh -c 'echo 1 >/root/new'", true},
	{"remove it", "pct exec 102 -- rm /root/new", true},
	{"new directory tree", "pct exec 102 -- mkdir -p /srv/a/b/c", true},
	{"write in the new tree", "pct exec 102 -- sh -c 'echo 2 >/srv/a/b/c/f'", true},
	{"rename the tree", "pct exec 102 -- mv /srv/a /srv/z", true},
	{"write in the renamed tree", "pct exec 102 -- sh -c 'echo 3 >/srv/z/b/c/f'", true},
	{"read in the renamed tree", "pct exec 102 -- cat /srv/z/b/c/f", false},
	{"write through a shared mapping", "python3 -c 'import mmap,glob\n" +
		"f=open(glob.glob(\"/var/lib/phoenix-sim/volumes/local-lvm/vm-102-disk-0/srv/z/b/c/f\")[0],\"r+b\")\n" +
		"m=mmap.mmap(f.fileno(),0)\nm[0:1]=b\"9\"\nm.flush()\nm.close()\nf.close()'", true},
	{"same-size rewrite", "pct exec 102 -- sh -c 'echo 4 >/srv/z/b/c/f'", true},
	{"remove the tree", "pct exec 102 -- rm -r /srv/z", true},
	{"profile file", "printf 'x\\n' >/etc/apparmor.d/phoenix-test", true},
	{"start", "pct stop 102 && pct start 102", true},
	{"status", "pct status 102", false},
}

// TestJournalMatchesWalk runs the same commands with the change journal
// and with the walk of the whole state it replaces: both must report the
// same writes.
func TestJournalMatchesWalk(t *testing.T) {
	for _, mode := range []string{"journal", "walk"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "walk" {
				t.Setenv(walkEnv, "1")
			}
			e := newTestEnv(t)
			if got := e.srv.WriteDetection(); got != mode {
				t.Fatalf("WriteDetection() = %q, want %q", got, mode)
			}
			e.addCT(102, ctConf(102, "nesting=1,keyctl=1"), true)
			e.addCT(103, ctConf(103, "nesting=1,keyctl=1"), true)
			e.addCT(104, ctConf(104, "nesting=1,keyctl=1"), true)
			for i, c := range journalCases {
				e.mustRun(c.command, "")
				evs := e.waitEvents(i + 1)
				if len(evs) != i+1 {
					t.Fatalf("%s: no event", c.name)
				}
				if ev := evs[i]; ev.Write != c.write {
					t.Errorf("%s (%q): Write = %v, want %v", c.name, c.command, ev.Write, c.write)
				}
			}
			if mode == "journal" && e.srv.WriteDetection() != "journal" {
				t.Errorf("the journal broke")
			}
		})
	}
}

// TestJournalConcurrentFirstExec: a container's first pct exec fills its
// volume (seedCT) while read-only commands run in other containers; none
// of them counts the fill as its own write.
func TestJournalConcurrentFirstExec(t *testing.T) {
	e := newTestEnv(t)
	for i := range 4 {
		e.addCT(110+i, ctConf(110+i, "nesting=1,keyctl=1"), true)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				if r := runOn(t, e.client, fmt.Sprintf("pct exec %d -- cat /etc/os-release", 110+i), ""); r.exit != 0 {
					t.Errorf("%d: %s", 110+i, r)
				}
			}
		}()
	}
	wg.Wait()
	for _, ev := range e.waitEvents(8) {
		if ev.Write {
			t.Errorf("read-only command reported as a write: %+v", ev)
		}
	}
}

// TestJournalWindows checks the journal's bookkeeping: a change belongs to
// the windows open when it is read, an overflow of the kernel's queue is a
// change of unknown path, and the log keeps only what open windows need.
func TestJournalWindows(t *testing.T) {
	root := t.TempDir()
	j, err := newJournal(root)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	write := func(name string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("before")
	a, err := j.begin()
	if err != nil {
		t.Fatal(err)
	}
	write("d/e/in-a")
	b, err := j.begin()
	if err != nil {
		t.Fatal(err)
	}
	write("d/e/in-both")
	ca, err := j.end(a)
	if err != nil {
		t.Fatal(err)
	}
	// d was made and filled before its watch: its creation is the change.
	if !hasPath(ca, filepath.Join(root, "d")) || !hasPath(ca, filepath.Join(root, "d/e/in-both")) || hasPath(ca, filepath.Join(root, "before")) {
		t.Errorf("window a: %+v", ca)
	}
	j.mu.Lock()
	j.event(-1, unix.IN_Q_OVERFLOW, "")
	j.mu.Unlock()
	cb, err := j.end(b)
	if err != nil {
		t.Fatal(err)
	}
	if hasPath(cb, filepath.Join(root, "d")) || !hasPath(cb, filepath.Join(root, "d/e/in-both")) || !hasPath(cb, "") {
		t.Errorf("window b: %+v", cb)
	}
	j.mu.Lock()
	kept, open := len(j.log), len(j.open)
	j.mu.Unlock()
	if kept != 0 || open != 0 {
		t.Errorf("after the last window: %d changes kept, %d windows open", kept, open)
	}
	// A watched directory created while no window was open is watched:
	// a later write in it is seen.
	write("late/x")
	c, _ := j.begin()
	write("late/x")
	if cc, _ := j.end(c); !hasPath(cc, filepath.Join(root, "late/x")) {
		t.Errorf("write in a directory made between windows not seen: %+v", cc)
	}
	// The root removed: the journal is broken and says so.
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if _, err := j.begin(); err == nil {
		t.Errorf("begin after the root went away: no error")
	}
}

func hasPath(cs []change, p string) bool {
	for _, c := range cs {
		if c.path == p {
			return true
		}
	}
	return false
}
