package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runInfo is what every mode's report says first and last: the server, the users, the errors.
type runInfo struct {
	URL      string
	Spawned  bool
	Database string

	Users        int
	Registered   int
	RegisterTime time.Duration

	Errors    []errorCount
	ServerLog []errorCount
	ServerDir string
}

// env is a run's surroundings, shared by every mode: the server under load (spawned or given), its
// /proc probe, the HTTP client that signs users up and in, and the error counts.
type env struct {
	cfg    config
	base   *url.URL
	origin string // of the first instance, which registers and signs in
	wsURL  string
	// instances are the servers' origins and socket URLs (-url's list; one without it): user i's
	// sockets open on instances[i mod n].
	instances []instance
	probe     *prober
	reg       *registrar
	errs      *errorCounts
	runID     string
	logw      io.Writer
	info      *runInfo
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.logw, "messenger-load: "+format+"\n", args...)
}

// setUp starts the server when cfg asks for it and checks the URL. finish is never nil: call it when
// the run is over, also after an error; it stops a spawned server and fills info's errors and server
// log. A nil env means there is nothing to report.
func setUp(ctx context.Context, cfg config, logw io.Writer, info *runInfo) (e *env, finish func(), err error) {
	errs := newErrorCounts()
	var srv *server
	finish = func() {
		if e != nil {
			e.reg.transport.CloseIdleConnections()
		}
		if srv != nil {
			srv.stop()
			info.ServerLog = logSummary(srv.logPath)
			if cfg.keep {
				info.ServerDir = srv.dir
			} else {
				srv.remove()
			}
		}
		info.Errors = errs.list()
	}
	e = &env{cfg: cfg, errs: errs, runID: randomToken(6), logw: logw, info: info}
	base, pids := cfg.url, cfg.pids
	if cfg.spawn {
		e.logf("starting the server (%s)", cfg.db)
		srv, err = startServer(ctx, cfg.serverBin, cfg.db, cfg.databaseURL, "")
		if err != nil {
			srv = nil
			return nil, finish, err
		}
		base, pids = srv.url, []int{srv.pid()}
		info.Spawned, info.Database = true, cfg.db
	}
	var urls []string
	for raw := range strings.SplitSeq(base, ",") {
		u, err := loopbackURL(raw)
		if err != nil {
			return nil, finish, err
		}
		urls = append(urls, u.String())
		e.instances = append(e.instances, instance{origin: u.Scheme + "://" + u.Host, wsURL: "ws://" + u.Host + "/ws"})
		if e.base == nil {
			e.base = u
		}
	}
	info.URL = strings.Join(urls, ", ")
	e.origin, e.wsURL = e.instances[0].origin, e.instances[0].wsURL
	e.probe = newProber(pids...)
	password := "load-" + randomToken(16)
	e.reg = &registrar{base: e.base, origin: e.origin, transport: newTransport(), password: password}
	return e, finish, nil
}

// instance is one server of several on one database.
type instance struct{ origin, wsURL string }

// instanceOf is the instance user u's sockets open on.
func (e *env) instanceOf(u *user) instance {
	if u.index < 0 {
		return e.instances[0]
	}
	return e.instances[u.index%len(e.instances)]
}

// setUpUsers is setUp, then the registration of cfg.users users, of whom at least need must succeed.
// With an error, a nil env means there is nothing to report.
func setUpUsers(ctx context.Context, cfg config, logw io.Writer, info *runInfo, need int) (*env, []*user, func(), error) {
	e, finish, err := setUp(ctx, cfg, logw, info)
	if e == nil {
		return nil, nil, finish, err
	}
	users := e.registerUsers(ctx, cfg.users)
	if ctx.Err() != nil {
		return e, users, finish, fmt.Errorf("stopped while registering: %w", context.Cause(ctx))
	}
	if len(users) < need {
		return e, users, finish, fmt.Errorf("only %d of %d users registered; %d needed", len(users), cfg.users, need)
	}
	return e, users, finish, nil
}

// registerUsers registers the run's n users and records them in the report.
func (e *env) registerUsers(ctx context.Context, n int) []*user {
	e.logf("registering %d users, %d at a time", n, e.cfg.registerConcurrent)
	users, took := e.register(ctx, n, "")
	e.info.Users, e.info.Registered, e.info.RegisterTime = n, len(users), took
	return users
}

// register registers n users named after the run and tag, cfg.registerConcurrent at a time, and
// returns those that succeeded, in index order.
func (e *env) register(ctx context.Context, n int, tag string) ([]*user, time.Duration) {
	start := time.Now()
	results := make([]*user, n)
	var done atomic.Int64
	forEach(ctx, n, e.cfg.registerConcurrent, nil, func(i int) {
		name := fmt.Sprintf("ld%s_%s%d", e.runID, tag, i)
		jar, err := e.reg.register(ctx, name)
		if err != nil {
			if ctx.Err() == nil {
				e.errs.add("register: " + err.Error())
			}
			return
		}
		results[i] = &user{username: name, jar: jar}
		if n := done.Add(1); n%500 == 0 {
			fmt.Fprintf(os.Stderr, "messenger-load: %d users registered\n", n)
		}
	})
	elapsed := time.Since(start)
	var users []*user
	for _, u := range results {
		if u != nil {
			u.index = len(users)
			users = append(users, u)
		}
	}
	return users, elapsed
}

// forEach calls do(i) for each i in [0, n), each in its own goroutine, at most limit at once; pace(i),
// when not nil, runs before each start (to wait for its time). Nothing more starts once ctx is done;
// forEach returns when every call it started has.
func forEach(ctx context.Context, n, limit int, pace func(int), do func(int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		if pace != nil {
			pace(i)
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			do(i)
		}()
	}
	wg.Wait()
}

// printer writes one line of a report: a label column, then the text.
type printer func(label, format string, args ...any)

func newPrinter(w io.Writer) printer {
	return func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-12s %s\n", label, fmt.Sprintf(format, args...))
	}
}

func (r *runInfo) writeHead(p printer) {
	target := r.URL
	if r.Spawned {
		target = fmt.Sprintf("%s, spawned, %s", r.Database, r.URL)
	}
	p("server", "%s", target)
	p("users", "%d of %d registered in %s (%.1f/s)", r.Registered, r.Users, fmtDur(r.RegisterTime), rate(r.Registered, r.RegisterTime))
}

func (r *runInfo) writeTail(p printer) {
	if len(r.Errors) == 0 {
		p("errors", "none")
	}
	for i, e := range r.Errors {
		label := ""
		if i == 0 {
			label = "errors"
		}
		p(label, "%d× %s", e.Count, e.Kind)
	}
	if r.Spawned {
		if len(r.ServerLog) == 0 {
			p("server log", "no warnings or errors")
		}
		for i, e := range r.ServerLog {
			if i == 10 {
				p("", "… %d more kinds", len(r.ServerLog)-10)
				break
			}
			label := ""
			if i == 0 {
				label = "server log"
			}
			p(label, "%d× %s", e.Count, e.Kind)
		}
		if r.ServerDir != "" {
			p("", "kept in %s", r.ServerDir)
		}
	}
}

// addJSON puts the run's fields into a mode's JSON report.
func (r *runInfo) addJSON(m map[string]any) map[string]any {
	m["url"] = r.URL
	m["spawned"] = r.Spawned
	m["database"] = r.Database
	m["users"] = r.Users
	m["registered"] = r.Registered
	m["register_seconds"] = r.RegisterTime.Seconds()
	m["errors"] = r.Errors
	m["server_log"] = r.ServerLog
	m["server_dir"] = r.ServerDir
	m["errors_total"] = sumCounts(r.Errors)
	m["server_log_problems"] = sumCounts(r.ServerLog)
	return m
}
