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
	token, err := r.formToken(ctx, jar, "/register")
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"_csrf":      {token},
		"first_name": {"Load"},
		"last_name":  {"Tester"},
		"gender":     {"0"},
		"username":   {username},
		"password":   {r.password},
	}
	resp, body, err := r.fetch(ctx, jar, http.MethodPost, "/register", form, nil)
	if err != nil {
		return nil, err
	}
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

// signIn signs username in as a new browser would (GET the form for its CSRF token, POST it) and
// returns the POST's status, how long it took to answer and the answer's size: 303 is success, 503
// the server refusing for load, 429 its limit on sign-ins.
func (r *registrar) signIn(ctx context.Context, username string) (status int, took time.Duration, size int, err error) {
	jar, _ := cookiejar.New(nil)
	token, err := r.formToken(ctx, jar, "/login")
	if err != nil {
		return 0, 0, 0, err
	}
	form := url.Values{"_csrf": {token}, "username": {username}, "password": {r.password}}
	start := time.Now()
	resp, body, err := r.fetch(ctx, jar, http.MethodPost, "/login", form, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	return resp.StatusCode, time.Since(start), len(body), nil
}

// fetch sends one request as the browser with this jar (a form is posted from the server's origin;
// redirects are not followed) and reads the whole answer, so that the connection is kept for the
// next request. ref is a path, with its query if any.
func (r *registrar) fetch(ctx context.Context, jar http.CookieJar, method, ref string, form url.Values, header http.Header) (*http.Response, []byte, error) {
	u, err := r.base.Parse(ref)
	if err != nil {
		return nil, nil, err
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", r.origin)
	}
	resp, err := r.client(jar).Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, u.Path, err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, u.Path, err)
	}
	return resp, page, nil
}

// formToken GETs the page at path with the jar and returns the CSRF token of its form.
func (r *registrar) formToken(ctx context.Context, jar http.CookieJar, path string) (string, error) {
	resp, page, err := r.fetch(ctx, jar, http.MethodGet, path, nil, nil)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
	token := scrapeCSRF(page)
	if token == "" {
		return "", fmt.Errorf("GET %s: no _csrf field in the form", path)
	}
	return token, nil
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
	lastFrame atomic.Int64                // unix nanoseconds of the newest frame on any socket
	closed    atomic.Int64                // sockets that ended before this tool closed them
	watch     atomic.Pointer[fanOutWatch] // a fan-out probe's pattern, when one runs
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
		if w := counters.watch.Load(); w != nil {
			w.saw(s.id, data, at)
		}
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

// socketSet holds a run's open sockets; each is read by its own goroutine from the moment it opens,
// as a browser would.
type socketSet struct {
	tracker   *tracker
	counters  *socketCounters
	errs      *errorCounts
	readDelay time.Duration

	mu      sync.Mutex
	all     []*socket // read without mu only once no open is running
	readers sync.WaitGroup
}

func newSocketSet(t *tracker, errs *errorCounts, readDelay time.Duration) *socketSet {
	return &socketSet{tracker: t, counters: &socketCounters{}, errs: errs, readDelay: readDelay}
}

// open opens a socket for each user of plan (socket ids from firstID), at most perSec a second when
// perSec > 0, cfg.connectConcurrent at a time, and returns when every handshake is over.
func (ss *socketSet) open(ctx context.Context, e *env, plan []*user, firstID int, perSec float64) {
	var pace func(int)
	if perSec > 0 {
		start := time.Now()
		pace = func(i int) {
			at := start.Add(time.Duration(float64(i) / perSec * float64(time.Second)))
			select {
			case <-time.After(time.Until(at)):
			case <-ctx.Done():
			}
		}
	}
	forEach(ctx, len(plan), e.cfg.connectConcurrent, pace, func(i int) {
		in := e.instanceOf(plan[i])
		s, err := dialSocket(ctx, in.wsURL, in.origin, plan[i], firstID+i)
		if err != nil {
			ss.errs.add(err.Error())
			return
		}
		ss.add(s)
	})
}

func (ss *socketSet) add(s *socket) {
	ss.mu.Lock()
	s.owner.sockets = append(s.owner.sockets, s)
	ss.all = append(ss.all, s)
	ss.mu.Unlock()
	ss.readers.Add(1)
	go func() {
		defer ss.readers.Done()
		s.read(ss.tracker, ss.counters, ss.errs, ss.readDelay)
	}()
}

// closeAll closes every socket, 64 at a time, and waits for their readers.
func (ss *socketSet) closeAll() {
	ss.mu.Lock()
	all := ss.all
	ss.mu.Unlock()
	for _, s := range all {
		s.closing.Store(true)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, s := range all {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.close()
		}()
	}
	wg.Wait()
	ss.readers.Wait()
}
