package handlers

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// pgProxy passes PostgreSQL's wire protocol between the application and the server and can hold
// back the end of one statement's answer: the server has computed the rows, the application does not
// have them yet. A test uses the pause to commit something in between, exactly there, with no hook
// in the application. It reads just enough of the protocol (message type and length; the statement
// text of Parse, Bind and Query) and needs sslmode=disable.
type pgProxy struct {
	t      testing.TB
	url    string // DATABASE_URL pointing at the proxy
	target string
	done   chan struct{}

	mu    sync.Mutex
	holds []*pgHold
	conns []net.Conn
}

// pgHold pauses the first statement, after it was armed, whose text contains sql.
type pgHold struct {
	t        testing.TB
	sql      string
	held     chan struct{} // closed when the answer is complete and held back
	released chan struct{}
	once     sync.Once
}

func newPGProxy(t testing.TB, databaseURL string) *pgProxy {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{t: t, target: u.Host, done: make(chan struct{})}
	u.Host = ln.Addr().String()
	p.url = u.String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	t.Cleanup(func() {
		close(p.done)
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

// hold arms a pause for the next statement containing sql.
func (p *pgProxy) hold(sql string) *pgHold {
	h := &pgHold{t: p.t, sql: sql, held: make(chan struct{}), released: make(chan struct{})}
	p.mu.Lock()
	p.holds = append(p.holds, h)
	p.mu.Unlock()
	p.t.Cleanup(h.release)
	return h
}

// claim returns the armed hold matching sql, disarming it.
func (p *pgProxy) claim(sql string) *pgHold {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, h := range p.holds {
		if strings.Contains(sql, h.sql) {
			p.holds = append(p.holds[:i], p.holds[i+1:]...)
			return h
		}
	}
	return nil
}

// wait returns once the statement's answer is held back, or fails the test.
func (h *pgHold) wait() {
	h.t.Helper()
	select {
	case <-h.held:
	case <-time.After(20 * time.Second):
		h.t.Fatalf("no statement containing %q ran within 20s", h.sql)
	}
}

func (h *pgHold) release() { h.once.Do(func() { close(h.released) }) }

func (p *pgProxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, client, server)
	p.mu.Unlock()
	defer client.Close()
	defer server.Close()

	// pending is the hold whose statement was sent and whose ReadyForQuery is awaited.
	var mu sync.Mutex
	var pending *pgHold
	go func() {
		defer client.Close()
		defer server.Close()
		statements := map[string]string{} // prepared statement name → text, on this connection
		in := bufio.NewReader(client)
		if !copyStartup(in, server) {
			return
		}
		for {
			typ, body, err := readMessage(in)
			if err != nil {
				return
			}
			var sql string
			switch typ {
			case 'P': // Parse: name, text, …
				name, rest := cstring(body)
				text, _ := cstring(rest)
				statements[name] = text
			case 'B': // Bind: portal, statement name, …
				_, rest := cstring(body)
				name, _ := cstring(rest)
				sql = statements[name]
			case 'Q': // simple Query: text
				sql, _ = cstring(body)
			}
			if sql != "" {
				if h := p.claim(sql); h != nil {
					mu.Lock()
					pending = h
					mu.Unlock()
				}
			}
			if !writeMessage(server, typ, body) {
				return
			}
		}
	}()
	out := bufio.NewReader(server)
	for {
		typ, body, err := readMessage(out)
		if err != nil {
			return
		}
		if typ == 'Z' { // ReadyForQuery: the statement's answer is complete
			mu.Lock()
			h := pending
			pending = nil
			mu.Unlock()
			if h != nil {
				close(h.held)
				select {
				case <-h.released:
				case <-p.done:
					return
				}
			}
		}
		if !writeMessage(client, typ, body) {
			return
		}
	}
}

// copyStartup forwards the untyped startup message (sslmode=disable: no SSL request before it).
func copyStartup(in *bufio.Reader, server net.Conn) bool {
	var size [4]byte
	if _, err := io.ReadFull(in, size[:]); err != nil {
		return false
	}
	rest := make([]byte, binary.BigEndian.Uint32(size[:])-4)
	if _, err := io.ReadFull(in, rest); err != nil {
		return false
	}
	_, err := server.Write(append(size[:], rest...))
	return err == nil
}

func readMessage(r *bufio.Reader) (byte, []byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
	_, err := io.ReadFull(r, body)
	return head[0], body, err
}

func writeMessage(w io.Writer, typ byte, body []byte) bool {
	msg := binary.BigEndian.AppendUint32([]byte{typ}, uint32(len(body)+4))
	_, err := w.Write(append(msg, body...))
	return err == nil
}

func cstring(b []byte) (string, []byte) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return string(b), nil
	}
	return string(b[:i]), b[i+1:]
}
