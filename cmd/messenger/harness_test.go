package main

// The harness of the browser tests: the real server binary (built once per test run), started as a
// process on a loopback port with a fresh database and stopped (or restarted) with a signal, and
// headless Chromium driven through chromedp, one browser process per person so cookies never mix.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"messenger/internal/syncbuf"
	"messenger/models/store/storetest"
)

const (
	// stepTimeout bounds one browser action (a click, a navigation, an evaluation).
	stepTimeout = 20 * time.Second
	// waitTimeout bounds waiting for something the page should show soon (a live update, a navigation).
	waitTimeout = 10 * time.Second
	// pollInterval is how often a wait looks again.
	pollInterval = 50 * time.Millisecond
	// testPassword is every test user's password.
	testPassword = "correct horse battery staple"
	chromiumPath = "/usr/bin/chromium"
)

var (
	binDir  string // made by TestMain, removed after the run
	binOnce sync.Once
	binPath string
	binErr  error
)

// TestMain owns the directory of the server binary, which is built once per test run: by the first
// test that starts a server, so a run that selects none of them builds nothing.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "messenger-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "messenger tests:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// serverBinary builds ./cmd/messenger (this package) once and returns the path of the binary.
func serverBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			binErr = fmt.Errorf("the go tool is needed to build the server: %v", err)
			return
		}
		binPath = filepath.Join(binDir, "messenger")
		cmd := exec.Command(goTool, "build", "-o", binPath, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/messenger: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// repoRoot is the directory of go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// ---------------------------------------------------------------------------------------------------
// The server process

// testServer is one messenger process (and its successors after a restart): same database, same
// session key file, same port.
type testServer struct {
	t    testing.TB
	bin  string
	URL  string // http://127.0.0.1:PORT
	dir  string
	env  []string
	logs *syncbuf.Buffer

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	runs    int
}

// startServer starts the binary with a fresh database of the dialect ("sqlite" or "postgres"; the
// latter skips or fails by itself when TEST_DATABASE_URL is unset) and stops it when the test ends.
// The server's output goes to the test log if the test fails. env adds variables (KEY=VALUE).
func startServer(t *testing.T, dialect string, env ...string) *testServer {
	t.Helper()
	bin := serverBinary(t)
	dir := t.TempDir()
	var dbURL string
	switch dialect {
	case "sqlite":
		dbURL = "sqlite:" + filepath.Join(dir, "messenger.db")
	case "postgres":
		dbURL = storetest.PostgresURL(t)
	default:
		t.Fatalf("unknown dialect %q", dialect)
	}
	addr := freeAddr(t)
	extra := env
	env = []string{}
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "ADDR", "DATABASE_URL", "SESSION_KEYS", "SESSION_KEY_FILE", "BASE_URL", "REGISTRATION", "LOGIN_LIMIT", "REGISTER_LIMIT", "TRUSTED_PROXIES":
			continue
		}
		env = append(env, kv)
	}
	// Every test user registers from 127.0.0.1.
	env = append(env, "ADDR="+addr, "DATABASE_URL="+dbURL, "SESSION_KEY_FILE="+filepath.Join(dir, "session.key"), "REGISTER_LIMIT=0")
	env = append(env, extra...)
	s := &testServer{t: t, bin: bin, URL: "http://" + addr, dir: dir, env: env, logs: &syncbuf.Buffer{}}
	t.Cleanup(func() {
		s.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("server output (%s):\n%s", dialect, s.logs.String())
		}
	})
	s.launch()
	return s
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// launch starts a process and waits until /readyz answers 200.
func (s *testServer) launch() {
	s.t.Helper()
	s.mu.Lock()
	s.runs++
	fmt.Fprintf(s.logs, "----- server start #%d -----\n", s.runs)
	cmd := exec.Command(s.bin)
	cmd.Env = s.env
	cmd.Dir = s.dir
	cmd.Stdout = s.logs
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		s.t.Fatalf("start server: %v", err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited, s.waitErr = cmd, exited, nil
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(exited)
	}()

	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			s.t.Fatalf("the server exited before it was ready: %v\n%s", s.exitErr(), s.logs.String())
		default:
		}
		resp, err := client.Get(s.URL + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the server at %s was not ready within 60s (last: %v)", s.URL, err)
		}
		time.Sleep(pollInterval)
	}
}

func (s *testServer) exitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waitErr
}

// stop signals the process and waits for it to exit (killing it after 20s); it returns how long the exit
// took and the exit error (nil for a clean exit).
func (s *testServer) stop(sig syscall.Signal) (time.Duration, error) {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return 0, nil
	}
	select {
	case <-exited:
		return 0, s.exitErr()
	default:
	}
	start := time.Now()
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		fmt.Fprintf(s.logs, "----- server did not exit 20s after %v; killed -----\n", sig)
		_ = cmd.Process.Kill()
		<-exited
		return time.Since(start), errors.New("did not exit within 20s of " + sig.String())
	}
	return time.Since(start), s.exitErr()
}

// restart stops the server with sig (SIGTERM: it must exit cleanly, promptly) and starts it again on
// the same port with the same database and session keys.
func (s *testServer) restart(sig syscall.Signal) {
	s.t.Helper()
	took, err := s.stop(sig)
	if sig == syscall.SIGTERM && err != nil {
		s.t.Errorf("the server did not exit cleanly on SIGTERM: %v (after %v)", err, took)
	}
	if sig == syscall.SIGTERM && took > 12*time.Second {
		s.t.Errorf("the server took %v to exit on SIGTERM", took)
	}
	s.launch()
}

// ---------------------------------------------------------------------------------------------------
// Browsers and tabs

type browserOpts struct {
	noJS   bool // script execution disabled in every tab
	mobile bool // a phone, 390x844 unless width says otherwise
	width  int  // the phone's width in CSS pixels; 0: 390
}

// tab is one page of a browser. A browser is one Chromium process with its own profile, so each
// person's cookies are their own; more tabs of it share them.
type tab struct {
	t    *testing.T
	who  string // names the tab in messages and screenshot files
	srv  *testServer
	ctx  context.Context
	opts browserOpts
}

// wsProbe counts the page's WebSocket life as htmx-ext-ws reports it (public htmx events), so tests
// can wait for a (re)connection instead of sleeping, and collects the page's Content-Security-Policy
// violations.
const wsProbe = `(function () {
  window.__ws = { connecting: 0, opens: 0, closes: 0, codes: [], messages: 0, up: false };
  document.addEventListener("htmx:wsOpen", function () { window.__ws.opens++; window.__ws.up = true; }, true);
  document.addEventListener("htmx:wsConnecting", function () { window.__ws.connecting++; }, true);
  document.addEventListener("htmx:wsClose", function (e) {
    window.__ws.closes++; window.__ws.up = false;
    window.__ws.codes.push(e.detail && e.detail.event ? e.detail.event.code : -1);
  }, true);
  document.addEventListener("htmx:wsAfterMessage", function () { window.__ws.messages++; }, true);
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", function (e) {
    window.__csp.push(e.effectiveDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
  }, true);
})();`

// chromiumEnv is set before Chromium starts, to the values it would set itself. Chromium's browser
// process calls setenv for these (DBUS_SESSION_BUS_ADDRESS on its main thread, FC_FONTATIONS on a
// thread of its pool while the main thread reads the environment). Adding a variable makes glibc move
// the environment array and free the old one, so a getenv running beside it now and then read freed
// memory: Chromium died with SIGSEGV in getenv about 0.1 s after it started (its crash dumps, in
// ~/.config/chromium/Crash Reports, all stop at the same instruction of getenv). A variable that is
// already there is replaced in place, and the array does not move.
var chromiumEnv = []string{"DBUS_SESSION_BUS_ADDRESS=disabled:", "FC_FONTATIONS=1"}

// newBrowser starts Chromium for one person and returns its first tab. When Chromium is missing the
// test is skipped (failed when CI is set).
func newBrowser(t *testing.T, srv *testServer, who string, opts browserOpts) *tab {
	t.Helper()
	return newBrowsers(t, srv, opts, who)[0]
}

// newBrowsers starts one browser per person, in parallel (a browser takes seconds to start).
func newBrowsers(t *testing.T, srv *testServer, opts browserOpts, who ...string) []*tab {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := "headless Chromium is needed at " + chromiumPath + " (Debian: apt-get install -y chromium): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	tabs := make([]*tab, len(who))
	errs := make([]error, len(who))
	var wg sync.WaitGroup
	for i, name := range who {
		allocOpts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(chromiumPath),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			// Tabs in the background must keep their timers and sockets running like a visible one.
			chromedp.Flag("disable-background-timer-throttling", true),
			chromedp.Flag("disable-backgrounding-occluded-windows", true),
			chromedp.Flag("disable-renderer-backgrounding", true),
			chromedp.UserDataDir(t.TempDir()),
			chromedp.WindowSize(1280, 800),
			chromedp.Env(chromiumEnv...),
		}
		allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), allocOpts...)
		ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(string, ...any) {}))
		t.Cleanup(func() {
			cancel()
			allocCancel()
		})
		tabs[i] = &tab{t: t, who: name, srv: srv, ctx: ctx, opts: opts}
		wg.Go(func() { errs[i] = tabs[i].setup() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("[%s] start the browser: %v", tabs[i].who, err)
		}
	}
	return tabs
}

// newTab opens another tab of the same browser (same cookies).
func (p *tab) newTab(who string) *tab {
	p.t.Helper()
	ctx, cancel := chromedp.NewContext(p.ctx)
	p.t.Cleanup(cancel)
	tb := &tab{t: p.t, who: who, srv: p.srv, ctx: ctx, opts: p.opts}
	if err := tb.setup(); err != nil {
		p.t.Fatalf("[%s] open a tab: %v", who, err)
	}
	return tb
}

// setup runs once on a new tab, with the tab's own context (no timeout: the first run starts the
// browser, which lives as long as that context).
func (p *tab) setup() error {
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error { return nil }),
	}
	if p.opts.noJS {
		steps = append(steps, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
	} else {
		steps = append(steps, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: wsProbe})
			return err
		}))
	}
	if p.opts.mobile {
		width := p.opts.width
		if width == 0 {
			width = 390
		}
		steps = append(steps, chromedp.EmulateViewport(int64(width), 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait, chromedp.EmulateScale(2)))
	}
	return chromedp.Do(p.ctx, steps...)
}

// do runs browser actions with a timeout; an error fails the test with a screenshot of the page.
func (p *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.fail("%s: %v", what, err)
	}
}

// fail saves a screenshot of the page and fails the test.
func (p *tab) fail(format string, args ...any) {
	p.t.Helper()
	p.shot("FAILED")
	p.t.Fatalf("[%s at %s] %s", p.who, p.location(), fmt.Sprintf(format, args...))
}

func (p *tab) location() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return loc
}

// open navigates to a path of the server and waits for the page to load.
func (p *tab) open(path string) {
	p.t.Helper()
	if path != "about:blank" {
		path = p.srv.URL + path
	}
	p.do("open "+path, chromedp.Navigate(path))
}

// click clicks the first element matching a CSS selector (waiting until it is visible).
// click clicks the element like a person. Live updates replace rows (presence, new messages) at any
// moment, so a node found and then swapped out before the click lands is looked up again.
func (p *tab) click(what, css string) {
	p.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(css)))
		cancel()
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "Could not find node") || time.Now().After(deadline) {
			p.fail("click %s (%s): %v", what, css, err)
		}
	}
}

// evalJS evaluates a JavaScript expression in the page (DevTools evaluation works with the page's
// scripts disabled too) and decodes its value.
func evalJS[T any](p *tab, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.fail("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS polls a JavaScript boolean expression until it is true or the timeout passes (then the test
// fails, saying what it waited for). Errors while the page navigates count as "not yet".
func (p *tab) waitJS(what, expr string) { p.t.Helper(); p.waitJSFor(what, expr, waitTimeout) }

func (p *tab) waitJSFor(what, expr string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("still false")
			}
			p.fail("waited %v for %s: %v\n  condition: %s\n  socket: %s", timeout, what, err, expr, p.socketState())
		}
		time.Sleep(pollInterval)
	}
}

// waitPath waits until the page is at the path (pathname plus search).
func (p *tab) waitPath(path string) {
	p.t.Helper()
	p.waitJS("the page at "+path, fmt.Sprintf(`document.readyState !== "loading" && location.pathname + location.search === %q`, path))
}

// mark plants a value in the page's window; it survives live updates but not a reload, so a test can
// prove a change arrived without one.
func (p *tab) mark() {
	p.t.Helper()
	evalJS[chromedp.Void](p, `window.__noReload = "still here"`)
}

// assertNoCSPViolations fails when the page (since it loaded) did something its CSP refused.
func (p *tab) assertNoCSPViolations(when string) {
	p.t.Helper()
	if v := evalJS[[]string](p, `window.__csp || []`); len(v) > 0 {
		p.fail("%s the page broke its Content-Security-Policy %d times: %q", when, len(v), v)
	}
}

func (p *tab) assertNotReloaded(what string) {
	p.t.Helper()
	if !evalJS[bool](p, `window.__noReload === "still here"`) {
		p.fail("%s: the page was reloaded, but this had to arrive live", what)
	}
}

// waitSocket waits until the page's WebSocket is open and, when minOpens > 0, has opened at least
// that many times since the page loaded.
func (p *tab) waitSocket(minOpens int) {
	p.t.Helper()
	p.waitJSFor(fmt.Sprintf("the page's WebSocket to be open (open #%d)", max(minOpens, 1)),
		fmt.Sprintf(`!!window.__ws && window.__ws.up && window.__ws.opens >= %d`, max(minOpens, 1)), 30*time.Second)
}

// socketState describes the page's socket for failure messages.
func (p *tab) socketState() string {
	if p.opts.noJS {
		return "none (scripts off)"
	}
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.__ws || null)`))
	if err != nil {
		return err.Error()
	}
	return s
}

func (p *tab) socketOpens() int {
	p.t.Helper()
	return evalJS[int](p, `window.__ws ? window.__ws.opens : 0`)
}

// holdReconnect keeps the page's socket from reconnecting until releaseReconnect: htmx-ext-ws's
// documented hook htmx.createWebSocket points at a same-origin address that refuses the upgrade
// (the page's CSP allows no other origin) meanwhile, and retries come every 100ms (so the one after the release is prompt). Messages sent meanwhile can only reach the page by
// its catch-up after the reconnect.
func (p *tab) holdReconnect() {
	p.t.Helper()
	evalJS[chromedp.Void](p, `(function () {
	  if (!window.__holdInstalled) {
	    var create = htmx.createWebSocket;
	    htmx.createWebSocket = function (url) { return create(window.__hold ? url.replace(/\/ws$/, "/held-by-the-test") : url); };
	    htmx.config.wsReconnectDelay = function () { return 100; };
	    window.__holdInstalled = true;
	  }
	  window.__hold = true;
	})()`)
}

func (p *tab) releaseReconnect() {
	p.t.Helper()
	evalJS[chromedp.Void](p, `window.__hold = false`)
}

var shotSeq sync.Map // test name -> *int

// shot saves a screenshot of the tab's viewport as test-artifacts/TEST--NN-WHO-STEP.png and returns
// the path. The first shot of a test removes that test's files from an earlier run.
func (p *tab) shot(step string) string {
	p.t.Helper()
	dir := filepath.Join(repoRoot(p.t), "test-artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Logf("screenshot: %v", err)
		return ""
	}
	prefix := regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(p.t.Name(), "_") + "--"
	v, loaded := shotSeq.LoadOrStore(p.t.Name(), new(int))
	if !loaded {
		old, _ := filepath.Glob(filepath.Join(dir, prefix+"*.png"))
		for _, f := range old {
			_ = os.Remove(f)
		}
	}
	n := v.(*int)
	*n++
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Logf("screenshot %s: %v", step, err)
		return ""
	}
	path := filepath.Join(dir, fmt.Sprintf("%s%02d-%s-%s.png", prefix, *n, p.who, step))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Logf("screenshot: %v", err)
	}
	return path
}

// cookies returns the browser's cookies for the server.
func (p *tab) cookies() []*network.Cookie {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{p.srv.URL + "/"}})
	if err != nil {
		p.fail("read cookies: %v", err)
	}
	return res.Cookies
}

// ---------------------------------------------------------------------------------------------------
// What people do

// register fills and submits the registration form and waits for the users list.
func (p *tab) register(username, first, last, gender string) {
	p.t.Helper()
	p.open("/register")
	p.do("fill the registration form",
		chromedp.WaitVisible(chromedp.CSS(`form[action="/register"]`)),
		typeInto(`#first_name`, first),
		typeInto(`#last_name`, last),
		chromedp.SetValue(chromedp.CSS(`#gender`), gender),
		typeInto(`#username`, username),
		typeInto(`#password`, testPassword),
	)
	p.click("Create account", `form[action="/register"] button[type=submit]`)
	p.waitJS(username+"'s users list after registering",
		`location.pathname === "/" && document.readyState !== "loading" && !!document.querySelector("#user-list")`)
}

// login signs in through the login form and waits for the users list.
func (p *tab) login(username string) {
	p.t.Helper()
	p.open("/login")
	p.do("fill the login form",
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
		typeInto(`#username`, username),
		typeInto(`#password`, testPassword),
	)
	p.click("Sign in", `form[action="/login"] button[type=submit]`)
	p.waitJS(username+"'s users list after signing in",
		`location.pathname === "/" && document.readyState !== "loading" && !!document.querySelector("#user-list")`)
}

// logout submits the logout form and waits for the login page.
func (p *tab) logout() {
	p.t.Helper()
	p.click("Log out", `form[action="/logout"] button[type=submit]`)
	p.waitJS("the login page after logging out", `location.pathname === "/login" && !!document.querySelector('form[action="/login"]')`)
}

// openChat clicks a user's row in the users list and waits for the conversation.
func (p *tab) openChat(username string) {
	p.t.Helper()
	p.click("the row of "+username, fmt.Sprintf(`li[data-user=%q] a`, username))
	p.waitJS("the conversation with "+username, fmt.Sprintf(
		`location.pathname === "/chat/%s" && document.readyState !== "loading" && !!document.querySelector("form#composer #body") && !!document.querySelector("#messages")`, username))
}

// typeInto focuses the element and types text as key presses. (chromedp.SendKeys reads the node's
// attributes without its lock, a data race with the DOM events of a live page that -race reports.)
func typeInto(css, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(css)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(css)+`).focus()`),
		chromedp.KeyEvent(text),
	)
}

// typeMessage types text into the composer.
func (p *tab) typeMessage(text string) {
	p.t.Helper()
	p.do("type into the composer", typeInto(`form#composer #body`, text))
}

// send types text and clicks Send.
func (p *tab) send(text string) {
	p.t.Helper()
	p.typeMessage(text)
	p.click("Send", `form#composer button[type=submit]`)
}

// message is one [data-message-id] element of #messages as the page shows it.
type message struct {
	ID       string `json:"id"`
	Sender   string `json:"sender"`
	Body     string `json:"body"`
	ClientID string `json:"clientId"`
}

const messagesJS = `Array.from(document.querySelectorAll("#messages [data-message-id]")).map(function (e) {
  var b = e.querySelector(".message-body");
  return { id: e.getAttribute("data-message-id"), sender: e.getAttribute("data-sender") || "",
           body: b ? b.textContent : "", clientId: e.getAttribute("data-client-id") || "" };
})`

func (p *tab) messages() []message {
	p.t.Helper()
	return evalJS[[]message](p, messagesJS)
}

// hasMessageJS is true when #messages holds a message from sender with exactly this text.
func hasMessageJS(sender, body string) string {
	sel := fmt.Sprintf(`#messages [data-message-id][data-sender=%q] .message-body`, sender)
	return fmt.Sprintf(`Array.from(document.querySelectorAll(%s)).some(function (b) { return b.textContent === %s; })`,
		jsString(sel), jsString(body))
}

// unreadJS is the unread count the users list shows for username ("0" when the element is absent).
func unreadJS(username string) string {
	return fmt.Sprintf(`(function () { var e = document.querySelector('li[data-user=%q] [data-unread]'); return e ? e.getAttribute("data-unread") : "0"; })()`, username)
}

// noHorizontalScrollJS is true when the page is no wider than the viewport.
const noHorizontalScrollJS = `document.documentElement.scrollWidth <= window.innerWidth`

func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ---------------------------------------------------------------------------------------------------
// A person without a browser (an HTTP client with its own cookies), for setting the scene fast.

type httpUser struct {
	t      *testing.T
	srv    *testServer
	client *http.Client
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func newHTTPUser(t *testing.T, srv *testServer) *httpUser {
	jar, _ := cookiejar.New(nil)
	return &httpUser{t: t, srv: srv, client: &http.Client{
		Jar:     jar,
		Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// httpUserFrom shares a browser's session (its cookies).
func httpUserFrom(p *tab) *httpUser {
	u := newHTTPUser(p.t, p.srv)
	base, _ := url.Parse(p.srv.URL + "/")
	var cookies []*http.Cookie
	for _, c := range p.cookies() {
		cookies = append(cookies, &http.Cookie{Name: c.Name, Value: c.Value, Path: c.Path})
	}
	u.client.Jar.SetCookies(base, cookies)
	return u
}

func (u *httpUser) get(path string) (int, string) {
	u.t.Helper()
	resp, err := u.client.Get(u.srv.URL + path)
	if err != nil {
		u.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// csrf reads the session's CSRF token from a page's form.
func (u *httpUser) csrf(path string) string {
	u.t.Helper()
	code, body := u.get(path)
	m := csrfRE.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		u.t.Fatalf("GET %s: %d, no CSRF token in the page", path, code)
	}
	return m[1]
}

func (u *httpUser) post(path, token string, form url.Values) int {
	u.t.Helper()
	code, _ := u.postPage(path, token, form)
	return code
}

// postPage is post that also returns the page answered.
func (u *httpUser) postPage(path, token string, form url.Values) (int, string) {
	u.t.Helper()
	form.Set("_csrf", token)
	req, _ := http.NewRequest(http.MethodPost, u.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", u.srv.URL)
	resp, err := u.client.Do(req)
	if err != nil {
		u.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (u *httpUser) register(username, first, last string) {
	u.t.Helper()
	token := u.csrf("/register")
	code := u.post("/register", token, url.Values{"first_name": {first}, "last_name": {last}, "gender": {"3"},
		"username": {username}, "password": {testPassword}})
	if code != http.StatusSeeOther {
		u.t.Fatalf("register %s over HTTP: status %d, want 303", username, code)
	}
}

// sendMessages posts bodies to the conversation with username, as the composer does without JavaScript.
func (u *httpUser) sendMessages(to string, bodies ...string) {
	u.t.Helper()
	token := u.csrf("/chat/" + to)
	for _, b := range bodies {
		if code := u.post("/chat/"+to+"/messages", token, url.Values{"body": {b}}); code != http.StatusSeeOther {
			u.t.Fatalf("send %q to %s over HTTP: status %d, want 303", b, to, code)
		}
	}
}
