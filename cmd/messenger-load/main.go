// Command messenger-load measures Messenger under a chat load, end to end, the way browsers use it.
//
// It registers users over HTTP (CSRF token scraped from the form, session kept in a cookie jar), opens
// one WebSocket per user (more with -sockets, spread over the users who do not chat), then has -pairs
// pairs of users send each other messages over their sockets at -rate messages per second per sender
// for -duration. Every message carries a unique client_id; each socket records when the fragment with
// data-client-id="<id>" arrives. It reports messages sent, delivered (reached the recipient's socket),
// lost (not delivered within -timeout after sending stopped), duplicates (the same client_id twice on
// one socket), fan-out (every socket of sender and recipient), delivery latency percentiles,
// throughput, errors and, with -spawn or -pid, the server's RSS and CPU time from /proc.
//
// -storm opens every socket at once (pages reconnecting after a restart); -read-delay makes every
// socket a slow reader for a while; -connect-rate brings users online gradually. -url may list
// several instances of one server on one PostgreSQL (and -pid their processes): each pair's two people
// then open their sockets on different instances, so every message crosses between them.
//
// Other modes (-mode) measure other paths, each with its own report:
//   - history: signed-in users read conversations seeded with -seed messages, -concurrency clients in
//     a closed loop over keep-alive connections, the older-messages fragment or (-history-page page)
//     the conversation page; requests/s, latency, statuses, bytes and server CPU per request.
//   - idle: -sockets sockets of signed-in users open and held for -hold; connects/s, failures and
//     the server's RSS per socket.
//   - login-rush: the chat as above while -rush-users other users sign in over and over at
//     -rush-rate sign-ins per second; the chat's report, and the sign-ins' count, latency and statuses
//     (503: refused for load). Compare with -mode chat of the same flags.
//
// The server must run with SEND_RATE=0 REGISTER_LIMIT=0 LOGIN_LIMIT=0 (-spawn sets them).
//
// It talks only to loopback addresses and stops by itself: each phase is bounded, and -max-time
// bounds the whole run.
//
//	go run ./cmd/messenger-load -spawn -users 200 -pairs 100 -duration 30s -rate 2
//	go run ./cmd/messenger-load -spawn -db postgres -database-url "$TEST_DATABASE_URL"
//	go run ./cmd/messenger-load -url http://127.0.0.1:8080 -pid "$(pidof messenger)" # started with REGISTER_LIMIT=0
//	go run ./cmd/messenger-load -url http://127.0.0.1:8081,http://127.0.0.1:8082 -pid 1234,1235 # two instances, one PostgreSQL, one SESSION_KEYS
//	go run ./cmd/messenger-load -spawn -mode history -users 64 -pairs 32 -seed 200 -concurrency 64 -duration 30s
//	go run ./cmd/messenger-load -spawn -mode idle -users 1000 -hold 10s
//	go run ./cmd/messenger-load -spawn -mode login-rush -users 200 -pairs 100 -rate 0.5 -rush-users 50 -rush-rate 40
//
// Exit status: 0 when every message was delivered once (history: every request answered 200; idle:
// every socket opened and stayed open), 3 when some were lost or duplicated (history: some requests
// failed; idle: some sockets did not open or were closed), 1 when the run could not be done, 2
// for bad flags.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The server allows a socket a burst of 20 frames, then 5 per second; senders stay below that.
const maxRate = 4

// The modes of -mode.
const (
	modeChat      = "chat"
	modeHistory   = "history"
	modeIdle      = "idle"
	modeLoginRush = "login-rush"
)

type config struct {
	mode               string
	url                string
	users              int
	pairs              int
	sockets            int
	duration           time.Duration
	rate               float64
	oneWay             bool
	timeout            time.Duration
	spawn              bool
	serverBin          string
	db                 string
	databaseURL        string
	pids               []int // -pid: one per URL of -url, or none
	registerConcurrent int
	connectConcurrent  int
	connectRate        float64
	storm              bool
	readDelay          time.Duration
	settle             time.Duration
	maxTime            time.Duration
	keep               bool
	jsonOut            bool

	historyPage string // -mode history: older or page
	seed        int
	concurrency int
	hold        time.Duration // -mode idle
	rushUsers   int           // -mode login-rush
	rushRate    float64
}

// result is a mode's report.
type result interface {
	write(w io.Writer)
	json() any
	// complete is false when the run measured something wrong (lost messages, failed requests or
	// sockets): the exit status is then 3.
	complete() bool
}

func runMode(ctx context.Context, cfg config, logw io.Writer) (result, error) {
	switch cfg.mode {
	case modeHistory:
		return orNil(runHistory(ctx, cfg, logw))
	case modeIdle:
		return orNil(runIdle(ctx, cfg, logw))
	default:
		return orNil(run(ctx, cfg, logw))
	}
}

// orNil turns a mode's report into a result, nil when there is no report (not an interface holding a
// nil pointer).
func orNil[T any, R interface {
	*T
	result
}](r R, err error) (result, error) {
	if r == nil {
		return nil, err
	}
	return r, err
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "messenger-load:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.maxTime)
	defer cancel()

	res, err := runMode(ctx, cfg, os.Stderr)
	if res != nil {
		if cfg.jsonOut {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(res.json())
		} else {
			res.write(os.Stdout)
		}
	}
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "messenger-load:", err)
		os.Exit(1)
	case res != nil && !res.complete():
		os.Exit(3)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("messenger-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.mode, "mode", modeChat, "chat (pairs chat over sockets), history (signed-in users read conversation pages), idle (open sockets and hold them: RSS per socket) or login-rush (chat beside users signing in over and over)")
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "the server to load (loopback only); not with -spawn. Several instances of one server (one database) as a comma-separated list: user i's sockets go to the i-th (mod n), so the two people of a pair are on different instances; HTTP requests (sign-ups, history, sign-ins) go to the first")
	fs.IntVar(&c.users, "users", 200, "users to register")
	fs.IntVar(&c.pairs, "pairs", 100, "chatting pairs, taken from the users (2×pairs ≤ users)")
	fs.IntVar(&c.sockets, "sockets", 0, "sockets in all (0: one per user); the extra ones go to users who do not chat")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "how long the pairs chat")
	fs.Float64Var(&c.rate, "rate", 2, fmt.Sprintf("messages per second per sender (at most %d: the server allows 5 frames/s per socket)", maxRate))
	fs.BoolVar(&c.oneWay, "one-way", false, "only the first user of each pair sends (default: both do)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long to wait for deliveries after sending stops; later ones count as lost")
	fs.BoolVar(&c.spawn, "spawn", false, "start the server (on a free loopback port, fresh key file and database)")
	fs.StringVar(&c.serverBin, "server-bin", "", "with -spawn: the server binary (default: go build messenger/cmd/messenger)")
	fs.StringVar(&c.db, "db", "sqlite", "with -spawn: sqlite or postgres")
	fs.StringVar(&c.databaseURL, "database-url", "", "with -spawn: DATABASE_URL (required for postgres; default for sqlite: a temporary file)")
	fs.Func("pid", "without -spawn: the server's process id, to read its RSS and CPU from /proc (with several -url instances, theirs in the same order, comma-separated: the figures are their sums)", func(v string) error {
		pids, err := parsePids(v)
		c.pids = pids
		return err
	})
	fs.IntVar(&c.registerConcurrent, "register-concurrency", 8, "registrations in flight")
	fs.IntVar(&c.connectConcurrent, "connect-concurrency", 16, "socket handshakes in flight")
	fs.Float64Var(&c.connectRate, "connect-rate", 0, "users brought online per second (their first socket; 0: as fast as -connect-concurrency allows); extra sockets are not paced")
	fs.BoolVar(&c.storm, "storm", false, "open every socket at once, as pages do after a server restart (default: each user's first socket, wait for quiet, then the extra ones)")
	fs.DurationVar(&c.readDelay, "read-delay", 0, "sockets read nothing for this long after opening (slow clients; the server may drop them)")
	fs.DurationVar(&c.settle, "settle", 2*time.Minute, "after connecting, wait at most this long for the sockets to go quiet before chatting")
	fs.DurationVar(&c.maxTime, "max-time", 30*time.Minute, "bound on the whole run")
	fs.BoolVar(&c.keep, "keep", false, "with -spawn: keep the server's temporary directory (log, SQLite file)")
	fs.BoolVar(&c.jsonOut, "json", false, "print the report as JSON")
	fs.StringVar(&c.historyPage, "history-page", "older", "-mode history: older (GET /chat/{partner}/messages?before=ID as htmx asks for it) or page (GET /chat/{partner})")
	fs.IntVar(&c.seed, "seed", 200, "-mode history: messages stored in each pair's conversation before measuring")
	fs.IntVar(&c.concurrency, "concurrency", 64, "-mode history: HTTP clients, each sending its next request when the last is answered")
	fs.DurationVar(&c.hold, "hold", 10*time.Second, "-mode idle: how long the sockets stay open before the server's RSS is read again")
	fs.IntVar(&c.rushUsers, "rush-users", 50, "-mode login-rush: users who sign in over and over (besides -users)")
	fs.Float64Var(&c.rushRate, "rush-rate", 20, "-mode login-rush: sign-ins started per second, whether or not the earlier ones were answered")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	urlSet := false
	fs.Visit(func(f *flag.Flag) { urlSet = urlSet || f.Name == "url" })
	return c, c.validate(urlSet)
}

func (c *config) validate(urlSet bool) error {
	switch {
	case c.mode != modeChat && c.mode != modeHistory && c.mode != modeIdle && c.mode != modeLoginRush:
		return fmt.Errorf("-mode must be %s, %s, %s or %s", modeChat, modeHistory, modeIdle, modeLoginRush)
	case c.historyPage != "older" && c.historyPage != "page":
		return errors.New("-history-page must be older or page")
	case c.seed < 2 || c.seed > 1000000:
		return errors.New("-seed must be between 2 and 1000000")
	case c.concurrency < 1 || c.concurrency > 256:
		return errors.New("-concurrency must be between 1 and 256")
	case c.hold < 0 || c.hold > time.Hour:
		return errors.New("-hold must be between 0 and 1h")
	case c.rushUsers < 1 || c.rushUsers > 20000:
		return errors.New("-rush-users must be between 1 and 20000")
	case !(c.rushRate > 0 && c.rushRate <= 10000):
		return errors.New("-rush-rate must be above 0 and at most 10000 sign-ins per second")
	case c.users < 2 || c.users > 20000:
		return errors.New("-users must be between 2 and 20000")
	case c.mode != modeIdle && (c.pairs < 1 || 2*c.pairs > c.users):
		return fmt.Errorf("-pairs must be between 1 and users/2 (%d)", c.users/2)
	case c.sockets != 0 && (c.sockets < c.users || c.sockets > 50000):
		return errors.New("-sockets must be 0, or between -users and 50000")
	case c.duration <= 0 || c.duration > time.Hour:
		return errors.New("-duration must be positive and at most 1h")
	case !(c.rate > 0 && c.rate <= maxRate):
		return fmt.Errorf("-rate must be above 0 and at most %d messages per second", maxRate)
	case c.timeout < 0 || c.timeout > 10*time.Minute:
		return errors.New("-timeout must be between 0 and 10m")
	case c.registerConcurrent < 1 || c.registerConcurrent > 256:
		return errors.New("-register-concurrency must be between 1 and 256")
	case c.connectConcurrent < 1 || c.connectConcurrent > 1024:
		return errors.New("-connect-concurrency must be between 1 and 1024")
	case c.connectRate < 0 || c.connectRate > 10000:
		return errors.New("-connect-rate must be between 0 and 10000")
	case c.storm && c.connectRate > 0:
		return errors.New("-storm opens every socket at once: leave out -connect-rate")
	case c.readDelay < 0 || c.readDelay > 10*time.Minute:
		return errors.New("-read-delay must be between 0 and 10m")
	case c.settle < 0 || c.settle > 30*time.Minute:
		return errors.New("-settle must be between 0 and 30m")
	case c.maxTime <= 0 || c.maxTime > 24*time.Hour:
		return errors.New("-max-time must be positive and at most 24h")
	case c.db != "sqlite" && c.db != "postgres":
		return errors.New("-db must be sqlite or postgres")
	case c.spawn && urlSet:
		return errors.New("-spawn starts its own server: leave out -url")
	case c.spawn && len(c.pids) > 0:
		return errors.New("-pid is for a server this tool did not start")
	case len(c.pids) > 0 && len(c.pids) != len(strings.Split(c.url, ",")):
		return errors.New("-pid needs one process id for each URL of -url")
	case !c.spawn && (c.serverBin != "" || c.databaseURL != ""):
		return errors.New("-server-bin and -database-url need -spawn")
	}
	if c.sockets == 0 {
		c.sockets = c.users
	}
	if !c.spawn {
		for raw := range strings.SplitSeq(c.url, ",") {
			if _, err := loopbackURL(raw); err != nil {
				return err
			}
		}
	}
	if c.spawn && c.databaseURL != "" {
		if err := loopbackDatabase(c.db, c.databaseURL); err != nil {
			return err
		}
	}
	return nil
}

// loopbackURL accepts only http URLs of this machine: a load tool must not be pointed at someone
// else's server.
func loopbackURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("-url must be http://, not %q", u.Scheme)
	}
	if !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("-url host %q is not a loopback address: this tool only loads a server on this machine", u.Hostname())
	}
	if u.Path != "" && u.Path != "/" {
		return nil, errors.New("-url must be the server's root, without a path")
	}
	u.Path = ""
	return u, nil
}

func loopbackDatabase(db, raw string) error {
	if db == "sqlite" {
		if !strings.HasPrefix(raw, "sqlite:") {
			return errors.New("-database-url for sqlite must be sqlite:PATH")
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("-database-url for postgres must be a postgres:// URL")
	}
	if h := u.Hostname(); h != "" && !isLoopbackHost(h) {
		return fmt.Errorf("-database-url host %q is not a loopback address", h)
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// randomToken returns n random characters from [a-z0-9].
func randomToken(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

func run(ctx context.Context, cfg config, logw io.Writer) (*report, error) {
	rep := &report{cfg: cfg, SocketsWanted: cfg.sockets}
	e, finish, err := setUp(ctx, cfg, logw, &rep.runInfo)
	defer finish()
	if e == nil {
		return nil, err
	}
	logf, errs, runID := e.logf, e.errs, e.runID
	rep.LoadAvgStart = loadAverage()
	rep.ServerStart = e.probe.sample()

	// Users.
	users := e.registerUsers(ctx, cfg.users)
	var rush *loginRush
	if cfg.mode == modeLoginRush && ctx.Err() == nil {
		if rush, err = e.newLoginRush(ctx); err != nil {
			return rep, err
		}
	}
	rep.ServerRegistered = e.probe.sample()
	if ctx.Err() != nil {
		return rep, fmt.Errorf("stopped while registering: %w", context.Cause(ctx))
	}
	if len(users) < 2*cfg.pairs {
		return rep, fmt.Errorf("only %d of %d users registered; %d pairs need %d", len(users), cfg.users, cfg.pairs, 2*cfg.pairs)
	}

	// Sockets. Each user's first socket, then (once the server has told everyone who came online) the
	// extra ones.
	t := newTracker()
	set := newSocketSet(t, errs, cfg.readDelay)
	counters := set.counters
	defer set.closeAll()
	plan := socketPlan(users, cfg.pairs, cfg.sockets-len(users))
	connect := func(plan []*user, firstID int, perSec float64) {
		logf("opening %d sockets, %d at a time", len(plan), cfg.connectConcurrent)
		start := time.Now()
		set.open(ctx, e, plan, firstID, perSec)
		rep.ConnectTime += time.Since(start)
		if cfg.settle > 0 && ctx.Err() == nil {
			logf("waiting for the sockets to go quiet (at most %s)", cfg.settle)
			d, quiet := waitQuiet(ctx, counters, time.Now(), 2*time.Second, cfg.settle)
			rep.SettleTime += d
			if !quiet {
				rep.NeverQuiet = true
				errs.add(fmt.Sprintf("sockets still receiving frames %s after connecting (-settle); chatting anyway", cfg.settle))
			}
		}
	}
	switch {
	case cfg.storm:
		connect(plan, 0, 0)
	default:
		connect(plan[:len(users)], 0, cfg.connectRate)
	}
	if !cfg.storm && len(plan) > len(users) && ctx.Err() == nil {
		connect(plan[len(users):], len(users), 0)
	}
	all := set.all
	rep.Sockets = len(all)
	rep.ConnectFrames, rep.ConnectBytes = counters.frames.Load(), counters.bytes.Load()
	rep.ClosedBeforeChat = counters.closed.Load()
	rep.ServerConnected = e.probe.sample()
	if ctx.Err() != nil {
		return rep, fmt.Errorf("stopped while connecting: %w", context.Cause(ctx))
	}

	// Chat.
	senders := chatters(users, cfg.pairs, cfg.oneWay)
	rep.Senders = len(senders)
	logf("%d senders chatting at %.3g msg/s each for %s", len(senders), cfg.rate, cfg.duration)
	ownBefore := ownCPU()
	busy0, total0, cpuOK := machineCPU()
	rep.LoadAvgChat = loadAverage()
	framesBefore, bytesBefore := counters.frames.Load(), counters.bytes.Load()
	sampler := e.probe.watch(500 * time.Millisecond)
	chatStart := time.Now()
	chatEnd := chatStart.Add(cfg.duration)
	if rush != nil {
		rush.run(ctx, chatEnd)
	}
	var wg sync.WaitGroup
	for _, sd := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sendLoop(ctx, sd, cfg.rate, runID, chatStart, chatEnd, t, errs)
		}()
	}
	wg.Wait()
	rep.SendTime = time.Since(chatStart)
	t.stopSending()
	drainStart := time.Now()
	select {
	case <-t.allDone:
	case <-time.After(cfg.timeout):
	case <-ctx.Done():
	}
	rep.DrainTime = time.Since(drainStart)
	if rush != nil {
		rep.Rush = rush.wait()
	}
	rep.ServerPeak = sampler.stop()
	rep.ServerAfter = e.probe.sample()
	rep.ChatFrames = counters.frames.Load() - framesBefore
	rep.ChatBytes = counters.bytes.Load() - bytesBefore
	rep.ClosedDuringChat = counters.closed.Load() - rep.ClosedBeforeChat
	rep.LoadCPU = ownCPU() - ownBefore
	if busy1, total1, ok := machineCPU(); ok && cpuOK && total1 > total0 {
		rep.MachineBusy = (busy1 - busy0) / (total1 - total0)
	}
	rep.CPUs = runtime.NumCPU()
	rep.Delivery = t.stats()
	owners := map[int]int{}
	for _, s := range all {
		owners[s.id] = s.owner.index
	}
	rep.ShortSockets, rep.MissedFragments = t.shortSockets(owners)
	if ctx.Err() != nil {
		return rep, fmt.Errorf("stopped while chatting: %w", context.Cause(ctx))
	}
	return rep, nil
}

// socketPlan lists the sockets to open: one per user, then extra ones spread over the users who do not
// chat (or over everyone when all chat).
func socketPlan(users []*user, pairs, extra int) []*user {
	plan := append([]*user(nil), users...)
	spare := users[2*pairs:]
	if len(spare) == 0 {
		spare = users
	}
	for i := range max(0, extra) {
		plan = append(plan, spare[i%len(spare)])
	}
	return plan
}

// waitQuiet waits until no socket has received a frame for quiet (the server has finished telling
// everyone who came online), at most limit. It returns how long after since the last frame came, and
// whether the sockets did go quiet.
func waitQuiet(ctx context.Context, c *socketCounters, since time.Time, quiet, limit time.Duration) (time.Duration, bool) {
	deadline := since.Add(limit)
	for {
		last := time.Unix(0, c.lastFrame.Load())
		if last.Before(since) {
			last = since
		}
		now := time.Now()
		if now.Sub(last) >= quiet {
			return last.Sub(since), true
		}
		if now.After(deadline) {
			return last.Sub(since), false
		}
		select {
		case <-ctx.Done():
			return now.Sub(since), false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// sender is one chatting user and the partner it writes to.
type sender struct {
	from, to *user
}

func chatters(users []*user, pairs int, oneWay bool) []sender {
	var out []sender
	for i := range pairs {
		a, b := users[2*i], users[2*i+1]
		if len(a.sockets) == 0 || len(b.sockets) == 0 {
			continue // its socket did not open; counted as an error already
		}
		out = append(out, sender{a, b})
		if !oneWay {
			out = append(out, sender{b, a})
		}
	}
	return out
}

// outFrame is what htmx-ext-ws sends for the composer.
type outFrame struct {
	To       string `json:"to"`
	Body     string `json:"body"`
	ClientID string `json:"client_id"`
}

// sendLoop sends at a steady pace from a random phase until end. It never catches up in a burst:
// the next send is always at least one interval after the previous one was due.
func sendLoop(ctx context.Context, sd sender, ratePerSec float64, runID string, start, end time.Time, t *tracker, errs *errorCounts) {
	interval := time.Duration(float64(time.Second) / ratePerSec)
	next := start.Add(mrand.N(interval))
	sock := sd.from.sockets[0]
	expected := len(sd.from.sockets) + len(sd.to.sockets)
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for seq := 1; ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-sock.done:
			return
		case <-timer.C:
		}
		now := time.Now()
		if !now.Before(end) {
			return
		}
		id := fmt.Sprintf("%s-%d-%d", runID, sd.from.index, seq)
		t.send(id, sd.from.index, sd.to.index, expected, now)
		err := sock.sendJSON(outFrame{To: sd.to.username, Body: fmt.Sprintf("load message %d from %s", seq, sd.from.username), ClientID: id})
		if err != nil {
			t.unsend(id)
			errs.add("send: " + closeText(err))
			return
		}
		next = next.Add(interval)
		if now := time.Now(); next.Before(now) {
			next = now
		}
		timer.Reset(time.Until(next))
	}
}

func ownCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parsePids reads -pid: process ids separated by commas.
func parsePids(v string) ([]int, error) {
	var pids []int
	for f := range strings.SplitSeq(v, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("%q is not a process id", f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// prober reads the server's /proc entries, summed over its instances; with no pid it reports nothing.
type prober struct{ pids []int }

func newProber(pids ...int) *prober { return &prober{pids: pids} }

func (p *prober) sample() *procSample {
	if len(p.pids) == 0 {
		return nil
	}
	var sum procSample
	for _, pid := range p.pids {
		s, err := readProc(pid)
		if err != nil {
			return nil
		}
		sum.RSSKiB, sum.HWMKiB, sum.CPUSecs, sum.Threads = sum.RSSKiB+s.RSSKiB, sum.HWMKiB+s.HWMKiB, sum.CPUSecs+s.CPUSecs, sum.Threads+s.Threads
	}
	return &sum
}

// watcher samples RSS periodically and keeps the highest.
type watcher struct {
	stopc chan struct{}
	done  chan struct{}
	peak  *procSample
}

func (p *prober) watch(every time.Duration) *watcher {
	w := &watcher{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if s := p.sample(); s != nil && (w.peak == nil || s.RSSKiB > w.peak.RSSKiB) {
				w.peak = s
			}
			select {
			case <-w.stopc:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *watcher) stop() *procSample {
	close(w.stopc)
	<-w.done
	return w.peak
}
