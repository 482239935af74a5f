// Package syncbuf is a bytes.Buffer that goroutines may write while a test reads it: a server's or a
// hub's log, captured.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer collects writes from any goroutine; String reads what has arrived so far.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
