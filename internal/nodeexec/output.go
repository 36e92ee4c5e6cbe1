package nodeexec

import (
	"bytes"
	"io"
	"sync"
)

// maxStreamLine is the longest line handed to a LineFunc in one piece;
// longer lines arrive in parts.
const maxStreamLine = 64 << 10

// output collects a command's two streams and splits them into lines for an
// optional LineFunc. After stop, nothing more is delivered to the LineFunc,
// so a late write from a closing session cannot call it after Run returned.
type output struct {
	mu       sync.Mutex
	fn       LineFunc
	stopped  bool
	stdout   bytes.Buffer
	stderr   bytes.Buffer
	partials [3][]byte
	// limit bounds the bytes taken from both streams (0: none); over is
	// closed when a write went beyond it.
	limit int
	taken int
	over  chan struct{}
}

func newOutput(fn LineFunc, limit int) *output {
	return &output{fn: fn, limit: limit, over: make(chan struct{})}
}

func (o *output) writer(s Stream) io.Writer { return streamWriter{o: o, s: s} }

type streamWriter struct {
	o *output
	s Stream
}

func (w streamWriter) Write(p []byte) (int, error) {
	o := w.o
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(p)
	if o.stopped {
		return n, nil
	}
	if o.limit > 0 && o.taken+len(p) > o.limit {
		// What fits is kept; the rest, and all that follows, is dropped.
		p = p[:o.limit-o.taken]
		o.stopped = true
		close(o.over)
	}
	o.taken += len(p)
	if w.s == Stderr {
		o.stderr.Write(p)
	} else {
		o.stdout.Write(p)
	}
	if o.fn == nil {
		return n, nil
	}
	o.partials[w.s] = append(o.partials[w.s], p...)
	buf := o.partials[w.s]
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		o.fn(w.s, string(bytes.TrimSuffix(buf[:i], []byte{'\r'})))
		buf = buf[i+1:]
	}
	for len(buf) >= maxStreamLine {
		o.fn(w.s, string(buf[:maxStreamLine]))
		buf = buf[maxStreamLine:]
	}
	o.partials[w.s] = append(o.partials[w.s][:0], buf...)
	return n, nil
}

// stop flushes unterminated last lines and ends delivery.
func (o *output) stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return
	}
	o.stopped = true
	if o.fn == nil {
		return
	}
	for _, s := range []Stream{Stdout, Stderr} {
		if len(o.partials[s]) > 0 {
			o.fn(s, string(o.partials[s]))
			o.partials[s] = nil
		}
	}
}
