package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

// user is one registered account with its own cookie jar (its browser).
type user struct {
	index    int
	username string
	jar      http.CookieJar
	sockets  []*socket
}

var csrfRE = regexp.MustCompile(`name="_csrf"[^>]*?value="([^"]*)"|value="([^"]*)"[^>]*?name="_csrf"`)
var alertRE = regexp.MustCompile(`(?s)role="alert"[^>]*>(.*?)</`)

// registrar registers users over HTTP as a browser would: GET the form for its CSRF token, POST it.
type registrar struct {
	base      *url.URL
	origin    string
	transport *http.Transport
	password  string
}

func newTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
	}
}

func (r *registrar) client(jar http.CookieJar) *http.Client {
	return &http.Client{
		Transport: r.transport,
		Jar:       jar,
		Timeout:   30 * time.Second,
		// A successful registration answers 303 to /; stop there and look at it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// errBusy is the server's 503 while its password-hashing slots are all taken: worth a retry.
var errBusy = errors.New("server busy (503)")

// register creates the account and returns its signed-in jar; it retries while the server is busy.
func (r *registrar) register(ctx context.Context, username string) (http.CookieJar, error) {
	var err error
	for attempt := range 6 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		var jar http.CookieJar
		jar, err = r.registerOnce(ctx, username)
		if !errors.Is(err, errBusy) {
			return jar, err
		}
	}
	return nil, err
}

func (r *registrar) registerOnce(ctx context.Context, username string) (http.CookieJar, error) {
	jar, _ := cookiejar.New(nil)
	c := r.client(jar)
	formURL := r.base.ResolveReference(&url.URL{Path: "/register"})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, formURL.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /register: %w", err)
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("GET /register: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /register: status %d", resp.StatusCode)
	}
	token := scrapeCSRF(page)
	if token == "" {
		return nil, errors.New("GET /register: no _csrf field in the form")
	}
	form := url.Values{
		"_csrf":      {token},
		"first_name": {"Load"},
		"last_name":  {"Tester"},
		"gender":     {"0"},
		"username":   {username},
		"password":   {r.password},
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, formURL.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", r.origin)
	resp, err = c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST /register: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		return nil, errBusy
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, errors.New("POST /register: 429, the server limits registrations per address: start it with REGISTER_LIMIT=0")
	case resp.StatusCode != http.StatusSeeOther:
		msg := ""
		if m := alertRE.FindSubmatch(body); m != nil {
			msg = ": " + strings.Join(strings.Fields(html.UnescapeString(string(m[1]))), " ")
		}
		return nil, fmt.Errorf("POST /register: status %d%s", resp.StatusCode, msg)
	case resp.Header.Get("Location") != "/":
		return nil, fmt.Errorf("POST /register: redirected to %q, not /", resp.Header.Get("Location"))
	}
	return jar, nil
}

func scrapeCSRF(page []byte) string {
	m := csrfRE.FindSubmatch(page)
	if m == nil {
		return ""
	}
	if len(m[1]) > 0 {
		return html.UnescapeString(string(m[1]))
	}
	return html.UnescapeString(string(m[2]))
}

// socket is one open WebSocket of a user. Its reader goroutine is the only reader; senders write
// under writeMu.
type socket struct {
	id      int
	owner   *user
	conn    *websocket.Conn
	writeMu sync.Mutex
	closing atomic.Bool
	done    chan struct{} // closed when the reader stops
	quit    chan struct{} // closed when this tool closes the socket
	frames  atomic.Int64
	bytes   atomic.Int64
}

// sockets holds counters shared by every socket reader.
type socketCounters struct {
	frames    atomic.Int64
	bytes     atomic.Int64
	lastFrame atomic.Int64 // unix nanoseconds of the newest frame on any socket
	closed    atomic.Int64 // sockets that ended before this tool closed them
}

func dialSocket(ctx context.Context, wsURL, origin string, u *user, id int) (*socket, error) {
	d := websocket.Dialer{
		HandshakeTimeout: 15 * time.Second,
		Jar:              u.jar,
		ReadBufferSize:   16 * 1024,
		WriteBufferSize:  4 * 1024,
	}
	h := http.Header{"Origin": {origin}}
	conn, resp, err := d.DialContext(ctx, wsURL, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("open socket: %w (status %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("open socket: %w", err)
	}
	return &socket{id: id, owner: u, conn: conn, done: make(chan struct{}), quit: make(chan struct{})}, nil
}

var (
	clientIDAttr = []byte(`data-client-id="`)
	socketError  = []byte(`id="socket-error"`)
)

// read runs until the socket ends: it records each message fragment's arrival and the server's
// socket errors. With a delay it first reads nothing for that long, like a page in a frozen background
// tab or behind a stalled network.
func (s *socket) read(t *tracker, counters *socketCounters, errs *errorCounts, delay time.Duration) {
	defer close(s.done)
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-s.quit:
			return
		}
	}
	// Frames are bounded by the server; a user list of thousands of users is still far below this.
	s.conn.SetReadLimit(64 << 20)
	for {
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			if !s.closing.Load() {
				counters.closed.Add(1)
				errs.add("socket ended by the server or network: " + closeText(err))
			}
			return
		}
		at := time.Now()
		s.frames.Add(1)
		s.bytes.Add(int64(len(data)))
		counters.frames.Add(1)
		counters.bytes.Add(int64(len(data)))
		counters.lastFrame.Store(at.UnixNano())
		for _, id := range clientIDs(data) {
			t.arrive(s.id, s.owner.index, id, at)
		}
		if i := bytes.Index(data, socketError); i >= 0 {
			msg := "(unreadable)"
			if m := alertRE.FindSubmatch(data[max(0, i-200):]); m != nil {
				msg = strings.Join(strings.Fields(html.UnescapeString(string(m[1]))), " ")
			}
			errs.add("server socket error: " + msg)
		}
	}
}

// clientIDs returns every data-client-id value in a fragment.
func clientIDs(data []byte) []string {
	var ids []string
	for {
		i := bytes.Index(data, clientIDAttr)
		if i < 0 {
			return ids
		}
		data = data[i+len(clientIDAttr):]
		j := bytes.IndexByte(data, '"')
		if j < 0 {
			return ids
		}
		ids = append(ids, string(data[:j]))
		data = data[j+1:]
	}
}

func closeText(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("close %d %s", ce.Code, ce.Text)
	}
	s := err.Error()
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}

// sendJSON writes one frame; frames are small and the write has a deadline.
func (s *socket) sendJSON(v any) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return s.conn.WriteJSON(v)
}

// close sends a normal close frame and waits (briefly) for the reader to stop.
func (s *socket) close() {
	s.closing.Store(true)
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	s.writeMu.Lock()
	_ = s.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, "load test over"), time.Now().Add(time.Second))
	s.writeMu.Unlock()
	select {
	case <-s.done:
	case <-time.After(2 * time.Second):
	}
	s.conn.Close()
	<-s.done
}
