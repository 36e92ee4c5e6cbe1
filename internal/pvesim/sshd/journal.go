package sshd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// journal records the changes under a node's state roots as they happen,
// so that a command's write detection costs what the command changed and
// not what the node holds. It keeps an inotify watch on every directory
// below the roots (a directory watch reports the changes of the entries in
// it, through any mount of it, the sandboxes' bind mounts included), adds
// watches for new directories as their creation is read, and numbers every
// change. A window (begin .. end) is the list of changes read between its
// two drains of the event queue: the kernel queues an event in the system
// call that makes the change, so a drain after a command ended has read
// all of that command's changes.
//
// The watches cost kernel memory per directory, not time per command. When
// the queue overflows, open windows get an unknown change and the roots are
// walked again for directories missing a watch; when a watch cannot be
// added or a root itself goes away, the journal is broken and the server
// goes back to walking the state (Server.wrote).
type journal struct {
	fd   int
	wake [2]int // pipe: a write ends the reader's poll
	root map[string]bool

	mu   sync.Mutex
	wds  map[int]string
	dirs map[string]int
	// seq numbers the changes read so far; log holds changes base+1..seq
	// while a window is open.
	seq  uint64
	base uint64
	log  []change
	open map[uint64]int // window start -> number of open windows
	// broken is set when a change may have gone unseen for good.
	broken  error
	closed  bool
	started bool
	buf     []byte
	done    chan struct{}
}

// change is one entry of the journal: a path changed (created, removed,
// renamed, written or its attributes set), or, with closeWrite, a file
// opened for writing was closed (a write through a shared mapping shows
// only there and in the file's mtime). An empty path is a change that was
// lost (queue overflow).
type change struct {
	path       string
	closeWrite bool
}

const (
	journalChanges = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CREATE | unix.IN_DELETE |
		unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE
	journalWatch = journalChanges | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_DONT_FOLLOW | unix.IN_ONLYDIR
)

// newJournal watches every directory below roots (which must exist) and
// starts reading the events.
func newJournal(roots ...string) (*journal, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	j := &journal{
		fd: fd, root: map[string]bool{},
		wds: map[int]string{}, dirs: map[string]int{}, open: map[uint64]int{},
		buf: make([]byte, 64<<10), done: make(chan struct{}),
	}
	if err := unix.Pipe2(j.wake[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	for _, r := range roots {
		j.root[r] = true
		if err := j.addTree(r); err != nil {
			j.close()
			return nil, err
		}
	}
	j.started = true
	go j.reader()
	return j, nil
}

// reader drains the queue whenever it has events, so that it does not
// overflow between commands and new directories get their watches early.
func (j *journal) reader() {
	defer close(j.done)
	fds := []unix.PollFd{{Fd: int32(j.fd), Events: unix.POLLIN}, {Fd: int32(j.wake[0]), Events: unix.POLLIN}} //nolint:gosec // file descriptors fit.
	for {
		_, err := unix.Poll(fds, -1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		j.mu.Lock()
		j.drain()
		j.mu.Unlock()
	}
}

// close stops the reader and releases the watches.
func (j *journal) close() {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return
	}
	j.closed = true
	j.mu.Unlock()
	if j.started {
		_, _ = unix.Write(j.wake[1], []byte{0})
		<-j.done
	}
	_ = unix.Close(j.fd)
	_ = unix.Close(j.wake[0])
	_ = unix.Close(j.wake[1])
}

// begin drains the queue and opens a window; it returns the window's start.
func (j *journal) begin() (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.drain()
	if j.broken != nil {
		return 0, j.broken
	}
	j.open[j.seq]++
	return j.seq, nil
}

// end drains the queue, closes the window opened at start and returns the
// changes read in it. An error means the journal broke meanwhile: the
// window's changes are not known.
func (j *journal) end(start uint64) ([]change, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.drain()
	var out []change
	if j.broken == nil && j.seq > start {
		out = append(out, j.log[start-j.base:]...)
	}
	if j.open[start]--; j.open[start] <= 0 {
		delete(j.open, start)
	}
	// Keep only what an open window still needs.
	oldest, found := j.seq, false
	for s := range j.open {
		if !found || s < oldest {
			oldest, found = s, true
		}
	}
	if drop := oldest - j.base; drop > 0 {
		j.log = append(j.log[:0:0], j.log[drop:]...)
		j.base = oldest
	}
	return out, j.broken
}

// record appends a change when a window is open to see it.
func (j *journal) record(c change) {
	if len(j.open) == 0 {
		j.seq++
		j.base = j.seq
		return
	}
	j.seq++
	j.log = append(j.log, c)
}

// drain reads every queued event (j.mu held).
func (j *journal) drain() {
	if j.closed {
		return
	}
	for {
		n, err := unix.Read(j.fd, j.buf)
		if err != nil || n <= 0 {
			if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) && j.broken == nil {
				j.broken = fmt.Errorf("inotify read: %w", err)
			}
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&j.buf[off])) //nolint:gosec // the kernel's event layout.
			name := ""
			if ev.Len > 0 {
				raw := j.buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				name = strings.TrimRight(string(raw), "\x00")
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
			j.event(int(ev.Wd), ev.Mask, name)
		}
	}
}

// event handles one event (j.mu held).
func (j *journal) event(wd int, mask uint32, name string) {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		// Changes were lost: every open window saw an unknown one, and
		// directories made meanwhile may lack a watch.
		j.record(change{})
		for r := range j.root {
			if err := j.addTree(r); err != nil && j.broken == nil {
				j.broken = err
			}
		}
		return
	}
	dir, known := j.wds[wd]
	p := dir
	if name != "" {
		p = filepath.Join(dir, name)
	}
	switch {
	case mask&unix.IN_IGNORED != 0:
		if known {
			delete(j.wds, wd)
			if j.dirs[dir] == wd {
				delete(j.dirs, dir)
			}
			if j.root[dir] && j.broken == nil {
				j.broken = fmt.Errorf("state root %s went away", dir)
			}
		}
		return
	case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0:
		if j.root[dir] && j.broken == nil {
			j.broken = fmt.Errorf("state root %s was removed or moved", dir)
		}
		// The parent's watch reports the change itself.
		return
	}
	if !known {
		j.record(change{})
		return
	}
	if mask&unix.IN_ISDIR != 0 {
		if mask&unix.IN_MOVED_FROM != 0 {
			j.unwatch(p)
		}
		if mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 {
			if err := j.addTree(p); err != nil && j.broken == nil {
				j.broken = err
			}
		}
	}
	j.record(change{path: p, closeWrite: mask&journalChanges == unix.IN_CLOSE_WRITE})
}

// addTree watches dir and every directory below it.
func (j *journal) addTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && j.root[p] {
				return err
			}
			return nil // vanished meanwhile: its removal is an event of its parent.
		}
		if !d.IsDir() {
			return nil
		}
		wd, err := unix.InotifyAddWatch(j.fd, p, journalWatch)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
				return nil
			}
			return fmt.Errorf("inotify watch on %s: %w", p, err)
		}
		if old, ok := j.dirs[p]; ok && old != wd {
			delete(j.wds, old)
		}
		j.wds[wd] = p
		j.dirs[p] = wd
		return nil
	})
}

// unwatch drops the watches of dir and the directories below it (renamed
// away: its new name, if below a root, is watched again by its own event).
func (j *journal) unwatch(dir string) {
	prefix := dir + string(filepath.Separator)
	for p, wd := range j.dirs {
		if p == dir || strings.HasPrefix(p, prefix) {
			_, _ = unix.InotifyRmWatch(j.fd, uint32(wd)) //nolint:gosec // watch descriptors are positive.
			delete(j.dirs, p)
			delete(j.wds, wd)
		}
	}
}

// watches is how many directories the journal watches.
func (j *journal) watches() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.dirs)
}

// lstamp stamps one path; ok is false when it does not exist.
func lstamp(p string) (stamp, bool) {
	info, err := os.Lstat(p)
	if err != nil {
		return stamp{}, false
	}
	return stamp{size: info.Size(), mod: info.ModTime().UnixNano(), mode: info.Mode()}, true
}
