package handlers

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"messenger/handlers/realtime"
	"messenger/handlers/session"
	"messenger/internal/metrics"
	"messenger/models/store"
	"messenger/models/store/storetest"
)

// testServer is the real application (the constructor main uses) listening on a loopback port.
type testServer struct {
	t     testing.TB
	url   string
	srv   *Server
	store *store.Store
}

type testOptions struct {
	dialect     string
	databaseURL string // share a database between servers (several instances)
	pgBroker    bool   // carry events through PostgreSQL LISTEN/NOTIFY
	// wrapBroker, when set, replaces the PostgreSQL broker with what it returns (faults).
	wrapBroker func(realtime.TxNotifier) realtime.Broker
	loginLimit int // as Deps.LoginLimit
	// registerLimit as Deps.RegisterLimit, except that 0 is no limit: tests register many users from
	// one address.
	registerLimit  int
	trustedProxies []netip.Prefix
	log            io.Writer    // the server's log; nil: discarded
	logger         *slog.Logger // the server's logger; nil: a text logger at INFO on log
	timeouts       session.Timeouts
	routes         func(app *fiber.App, srv *Server) // extra routes, registered after the application's own
	sweep          time.Duration
	// registration is REGISTRATION; empty: open.
	registration Registration
	flow         FlowLimits
	pingEvery    time.Duration // zero: the application's defaults
	pongWait     time.Duration
	writeTimeout time.Duration
	// attachmentsDir is where files go; empty: a directory of the test's own.
	attachmentsDir string
	attachments    AttachmentLimits
	metrics        *metrics.Metrics // nil: the server's own, unread
}

func startServer(t testing.TB, opts testOptions) *testServer {
	t.Helper()
	if opts.dialect == "" {
		opts.dialect = "sqlite"
	}
	if opts.databaseURL == "" {
		opts.databaseURL = storetest.URL(t, opts.dialect)
	}
	db, err := store.Open(context.Background(), opts.databaseURL, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var broker realtime.Broker
	if opts.pgBroker {
		if broker, err = realtime.NewPGBroker(opts.databaseURL, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Fatal(err)
		}
		if opts.wrapBroker != nil {
			broker = opts.wrapBroker(broker.(realtime.TxNotifier))
		}
	}
	if opts.registerLimit == 0 {
		opts.registerLimit = NoLimit
	}
	if opts.log == nil {
		opts.log = io.Discard
	}
	if opts.attachmentsDir == "" {
		opts.attachmentsDir = t.TempDir()
	}
	if opts.logger == nil {
		opts.logger = slog.New(slog.NewTextHandler(opts.log, nil))
	}
	app, srv, err := New(Deps{
		Broker:         broker,
		Store:          db,
		Logger:         opts.logger,
		SessionKeys:    [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		LoginLimit:     opts.loginLimit,
		RegisterLimit:  opts.registerLimit,
		TrustedProxies: opts.trustedProxies,
		Timeouts:       opts.timeouts,
		OfflineGrace:   200 * time.Millisecond,
		SessionSweep:   opts.sweep,
		PingEvery:      opts.pingEvery,
		PongWait:       opts.pongWait,
		WriteTimeout:   opts.writeTimeout,
		Registration:   opts.registration,
		Flow:           opts.flow,
		AttachmentsDir: opts.attachmentsDir,
		Attachments:    opts.attachments,
		Metrics:        opts.metrics,
		// The race detector makes argon2id many times slower; a burst of registrations must queue, not
		// be turned away as busy.
		HashQueueWait: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if opts.routes != nil {
		opts.routes(app, srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go srv.Run(ctx)
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() {
		shutCtx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		srv.Shutdown(shutCtx)
		_ = app.ShutdownWithContext(shutCtx)
		cancel()
	})
	return &testServer{t: t, url: "http://" + ln.Addr().String(), srv: srv, store: db}
}

// browser is an HTTP client with its own cookies, like one browser profile.
type browser struct {
	t      testing.TB
	ts     *testServer
	client *http.Client
}

func (ts *testServer) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: ts.t, ts: ts, client: &http.Client{
		Jar:           jar,
		Timeout:       2 * time.Minute, // argon2id under the race detector on a loaded machine is slow
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values, headers map[string]string) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.ts.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

func (b *browser) get(path string) response { return b.do(http.MethodGet, path, nil, nil) }

var csrfPattern = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// token reads the CSRF token from a page, as a form would carry it.
func (b *browser) token(path string) string {
	b.t.Helper()
	r := b.get(path)
	m := csrfPattern.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s (status %d)", path, r.status)
	}
	return m[1]
}

// post submits a form from the page at formPage, with that page's CSRF token.
func (b *browser) post(formPage, path string, form url.Values) response {
	b.t.Helper()
	form.Set("_csrf", b.token(formPage))
	return b.do(http.MethodPost, path, form, nil)
}

func (b *browser) register(username, password string) response {
	b.t.Helper()
	return b.post("/register", "/register", url.Values{
		"first_name": {"First " + username}, "last_name": {"Last"}, "gender": {"0"},
		"username": {username}, "password": {password},
	})
}

// signedUp returns a new browser with a fresh account.
func (ts *testServer) signedUp(username string) *browser {
	ts.t.Helper()
	b := ts.browser()
	if r := b.register(username, "a long enough password"); r.status != http.StatusSeeOther {
		ts.t.Fatalf("register %s: status %d\n%s", username, r.status, r.body)
	}
	return b
}

func (b *browser) send(to, body, clientID string) response {
	b.t.Helper()
	return b.post("/chat/"+url.PathEscape(to), "/chat/"+url.PathEscape(to)+"/messages", url.Values{"body": {body}, "client_id": {clientID}})
}

// postAtOnce posts forms[i] from browsers[i] to path, all at the same time, and counts the statuses.
func postAtOnce(path string, browsers []*browser, forms []url.Values) (statuses []int, count map[int]int) {
	statuses = make([]int, len(browsers))
	var wg sync.WaitGroup
	for i := range browsers {
		wg.Go(func() { statuses[i] = browsers[i].do(http.MethodPost, path, forms[i], nil).status })
	}
	wg.Wait()
	count = map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	return statuses, count
}

var alertPattern = regexp.MustCompile(`role="alert"[^>]*>([^<]+)<`)

func alertText(body string) string {
	m := alertPattern.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func eachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// countRows counts a table's rows through a handle of its own, as an operator would look.
func (ts *testServer) countRows(table string) int {
	ts.t.Helper()
	target, err := store.ParseURL(ts.store.URL())
	if err != nil {
		ts.t.Fatal(err)
	}
	driver := "pgx"
	if target.Dialect == "sqlite" {
		driver = "sqlite"
	}
	db, err := sql.Open(driver, target.DSN)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		ts.t.Fatal(err)
	}
	return n
}
