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
	ln     *proxyListener
	done   chan struct{}

	mu    sync.Mutex
	holds []*pgHold
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
	ln := newProxyListener(t)
	p := &pgProxy{t: t, target: u.Host, ln: ln, done: make(chan struct{})}
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
	t.Cleanup(func() { close(p.done) })
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
	p.ln.track(client, server)
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

// tcpProxy forwards a TCP connection until frozen; then it forwards nothing either way and never
// closes, like a link that died without a FIN. Frozen, it runs no goroutine of its own.
type tcpProxy struct {
	target string
	ln     *proxyListener
	wg     sync.WaitGroup

	mu     sync.Mutex
	frozen bool
}

func newTCPProxy(t testing.TB, target string) *tcpProxy {
	t.Helper()
	return &tcpProxy{target: target, ln: newProxyListener(t)}
}

// dial connects through the proxy (a websocket.Dialer's NetDial): one connection, accepted here.
func (p *tcpProxy) dial(network, _ string) (net.Conn, error) {
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := p.ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	client, err := net.Dial(network, p.ln.Addr().String())
	if err != nil {
		return nil, err
	}
	inner := <-accepted
	if inner == nil {
		client.Close()
		return nil, net.ErrClosed
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		inner.Close()
		return nil, err
	}
	p.ln.track(client, inner, server)
	p.wg.Add(2)
	go p.pipe(inner, server)
	go p.pipe(server, inner)
	return client, nil
}

func (p *tcpProxy) pipe(src, dst net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		frozen := p.frozen
		p.mu.Unlock()
		if frozen {
			return // what was read is lost, and nothing is closed
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// freeze stops forwarding and returns once no goroutine of the proxy runs; the connections stay open.
func (p *tcpProxy) freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
	for _, c := range p.ln.tracked() {
		_ = c.SetReadDeadline(time.Now()) // wakes a pipe blocked in Read; it sees frozen and returns
	}
	p.wg.Wait()
}

// proxyListener is a proxy's loopback listener; it and the connections tracked are closed when the
// test ends.
type proxyListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newProxyListener(t testing.TB) *proxyListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &proxyListener{Listener: ln}
	t.Cleanup(func() {
		ln.Close()
		for _, c := range l.tracked() {
			c.Close()
		}
	})
	return l
}

func (l *proxyListener) track(conns ...net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns = append(l.conns, conns...)
}

func (l *proxyListener) tracked() []net.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]net.Conn(nil), l.conns...)
}
