// Package handlers builds the web application: routes, pages, the socket and the one error handler.
// main and the tests build it with the same constructor.
package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"messenger/handlers/realtime"
	"messenger/handlers/session"
	"messenger/internal/metrics"
	"messenger/models"
	"messenger/models/store"
	"messenger/static"
	"messenger/views"
)

// Deps is everything the application needs from outside.
type Deps struct {
	Store  *store.Store
	Logger *slog.Logger
	// SessionKeys sign the session cookie; the first signs, every one verifies (rotation).
	SessionKeys [][]byte
	// BaseURL is the public origin, e.g. https://chat.example.org; empty: the Host requests come to.
	BaseURL string
	// Broker carries events between instances; nil: in-process (one instance).
	Broker realtime.Broker
	// Timeouts of sessions; a zero field: its value in session.DefaultTimeouts.
	Timeouts session.Timeouts
	// LoginLimit is how many sign-ins may fail per account and client address in 15 minutes (an
	// address may fail ten times as many over all accounts); 0: 10; NoLimit: no limit.
	LoginLimit int
	// RegisterLimit is how many accounts one client address may register in an hour; 0: 10; NoLimit: no
	// limit.
	RegisterLimit int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For (and X-Forwarded-Host and -Proto) is
	// believed; none: the peer is the client.
	TrustedProxies []netip.Prefix
	// HashWorkers bounds concurrent password hashing; 0: one less than the number of CPUs (at least
	// one), so a flood of sign-ins always leaves the chat a core.
	HashWorkers int
	// Passwords hashes and checks passwords (hashproc.Pool: in child processes at low priority);
	// nil: in this process.
	Passwords Passwords
	// HashQueueWait is how long a sign-in or registration waits for a hashing slot before it is
	// answered "busy"; 0: 10 seconds.
	HashQueueWait time.Duration
	// SessionSweep is how often expired sessions are deleted (and their sockets closed); 0: a minute.
	SessionSweep time.Duration
	// Registration says who may create an account; empty: RegistrationOpen.
	Registration Registration
	// OfflineGrace delays "offline" after a user's last socket closes so a reload does not flicker.
	OfflineGrace time.Duration
	// Flow bounds each user's sends and sockets and each address's sockets; zero fields: defaults.
	Flow FlowLimits
	// PingEvery is how often each socket is pinged; 0: 25 seconds.
	PingEvery time.Duration
	// PongWait is how long a socket may stay silent (no pong, no frame) before it counts as dead and
	// is closed, which also notices a connection that died without a FIN; 0: 60 seconds. It must be
	// longer than PingEvery.
	PongWait time.Duration
	// Metrics receive the server's measurements (main serves them on METRICS_ADDR); nil: measured
	// for nobody. One Metrics serves one Server.
	Metrics *metrics.Metrics
	// WriteTimeout is how long one write to a socket may block (a client that stopped reading) before
	// the socket is closed; 0: 10 seconds. A client that falls behind by a whole queue (256 frames) is
	// closed sooner.
	WriteTimeout time.Duration
	// AttachmentsDir is where attachments are kept (ATTACHMENTS_DIR); required.
	AttachmentsDir string
	// Attachments bounds uploads; zero fields: defaults.
	Attachments AttachmentLimits
}

// Server holds what the handlers share.
type Server struct {
	store      *store.Store
	log        *slog.Logger
	sessions   *session.Manager
	hub        *realtime.Hub
	broker     realtime.Broker
	instanceID string
	throttle   *throttle
	hasher     *hasher
	dummyHash  string
	origin     string
	recent     *recentMessages
	items      *views.ItemCache // messages as rendered for their viewers
	users      *userCache
	userFresh  time.Duration // how old a signed-in user's own row may be (the session cache's time)
	presence   *presence
	reads      *readQueue
	announced  announcedUsers
	sweepEvery time.Duration
	regMode    Registration // who may create an account
	pongWait   time.Duration

	// flow paces each user's sends; addrSockets counts each client address's sockets.
	flow        *flowControl
	addrSockets *addressSockets
	// sendsAnnounced: new messages are announced by the transaction that stores them.
	sendsAnnounced bool
	// trustedProxies are the peers whose X-Forwarded-For names the client (clientAddr).
	trustedProxies []netip.Prefix
	// attach keeps attachments' files and limits.
	attach  *attachments
	metrics *metrics.Metrics
}

// New builds the Fiber application and the server behind it. Call Server.Run to start its background
// work (event delivery, presence heartbeat, session sweeping) and Server.Shutdown before exit.
func New(d Deps) (*fiber.App, *Server, error) {
	if d.Store == nil || d.Logger == nil || len(d.SessionKeys) == 0 {
		return nil, nil, errors.New("handlers: Store, Logger and SessionKeys are required")
	}
	origin, secure, err := parseBaseURL(d.BaseURL)
	if err != nil {
		return nil, nil, err
	}
	if d.HashWorkers <= 0 {
		d.HashWorkers = max(1, runtime.NumCPU()-1)
	}
	if d.Passwords == nil {
		d.Passwords = inProcess{}
	}
	if d.HashQueueWait <= 0 {
		d.HashQueueWait = 10 * time.Second
	}
	if d.SessionSweep <= 0 {
		d.SessionSweep = time.Minute
	}
	if d.OfflineGrace == 0 {
		d.OfflineGrace = 4 * time.Second
	}
	if d.PingEvery <= 0 {
		d.PingEvery = defaultPingEvery
	}
	if d.PongWait <= 0 {
		d.PongWait = defaultPongWait
	}
	if d.PongWait <= d.PingEvery {
		return nil, nil, errors.New("handlers: PongWait must be longer than PingEvery, or live sockets would time out between pings")
	}
	if d.Broker == nil {
		d.Broker = realtime.NewLocalBroker()
	}
	if d.Registration, err = ParseRegistration(string(d.Registration)); err != nil {
		return nil, nil, err
	}
	d.Flow = d.Flow.withDefaults()
	attach, err := newAttachments(d.AttachmentsDir, d.Attachments)
	if err != nil {
		return nil, nil, err
	}
	if d.Metrics == nil {
		d.Metrics = metrics.New()
	}
	s := &Server{
		attach:         attach,
		store:          d.Store,
		log:            d.Logger,
		sessions:       &session.Manager{Store: session.NewDBStore(d.Store, d.SessionKeys, secure, d.Timeouts), Origin: origin},
		broker:         d.Broker,
		instanceID:     newInstanceID(),
		throttle:       newThrottle(d.Store, d.LoginLimit, d.RegisterLimit),
		hasher:         newHasher(d.HashWorkers, d.HashQueueWait, d.Metrics.HashWait, d.Passwords),
		origin:         origin,
		recent:         newRecentMessages(1024),
		items:          views.NewItemCache(itemCacheBytes),
		users:          newUserCache(),
		userFresh:      d.Timeouts.CacheTTL(),
		presence:       newPresence(),
		reads:          newReadQueue(),
		sweepEvery:     d.SessionSweep,
		regMode:        d.Registration,
		trustedProxies: d.TrustedProxies,
		pongWait:       d.PongWait,
		metrics:        d.Metrics,

		flow:        newFlowControl(d.Flow),
		addrSockets: newAddressSockets(d.Flow.SocketsPerAddress),
	}
	s.sessions.Ended = s.sessionsEnded
	if n, ok := d.Broker.(realtime.TxNotifier); ok {
		s.sendsAnnounced = d.Store.AnnounceSends(func(msgs []models.ExtendedMessage) (string, []string) {
			events := make([]realtime.Event, len(msgs))
			for i := range msgs {
				events[i] = messageEvent(msgs[i])
				events[i].Message = &msgs[i] // crosses with the event when it fits
			}
			return n.Notifications(events)
		})
	}
	s.dummyHash, err = models.HashPassword("not a password: equalises the time of unknown users")
	if err != nil {
		return nil, nil, err
	}
	s.hub = realtime.NewHub(realtime.HubConfig{
		Logger:        d.Logger,
		Render:        s.renderEvent,
		Context:       views.WithItemCache(context.Background(), s.items),
		QueueSize:     256,
		OnPresence:    s.presenceChanged,
		OfflineGrace:  d.OfflineGrace,
		MaxPerUser:    capOf(d.Flow.SocketsPerUser),
		MaxPerSession: capOf(d.Flow.SocketsPerSession),
		PingInterval:  d.PingEvery,
		WriteTimeout:  d.WriteTimeout,
		Observer:      d.Metrics,
	})
	if err := d.Metrics.Watch(s.hub.Count, d.Store.Pools()); err != nil {
		return nil, nil, err
	}
	d.Store.ObserveBatches(d.Metrics.ObserveBatch)

	app := fiber.New(fiber.Config{
		AppName:        "messenger",
		BodyLimit:      64 * 1024,
		ReadBufferSize: 16 * 1024,
		// A connection holds its read and write buffers only while a request is read or answered, not
		// while it idles between requests or carries a socket (after the upgrade the socket reads the
		// connection itself): 16 KiB less for each of thousands of idle sockets.
		ReduceMemoryUsage:     true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
		// Fiber reads X-Forwarded-Host and -Proto (the expected Origin without BASE_URL) only from these;
		// the client address is ours to read (clientAddr): Fiber's would take the leftmost, forgeable one.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          prefixStrings(d.TrustedProxies),
	})
	app.Server().HeaderReceived = attach.allowUploads
	// A hijacked connection (a WebSocket) is ours to close: the upgrade's handler returns at once and a
	// goroutine of our own reads the socket (see socket). fasthttp then releases the request's context
	// and the upgrade's goroutine, with its deep stack, instead of holding both while the socket lives.
	app.Server().KeepHijackedConns = true
	app.Use(s.accessLog)
	app.Use(recover.New())
	app.Use(s.securityHeaders)
	app.Use(s.viewContext)
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/manifest.webmanifest", s.manifest)
	app.Get("/favicon.ico", s.favicon)
	app.Use("/static", staticCharset, filesystem.New(filesystem.Config{Root: http.FS(static.Files)}))

	app.Use(s.sessions.Middleware, s.sessions.RequireCSRF)
	app.Get("/login", s.loginPage)
	app.Post("/login", s.login)
	app.Get("/register", s.registerPage)
	app.Post("/register", s.register)

	app.Post("/logout", s.requireUser, s.logout)
	app.Get("/", s.requireUser, s.index)
	app.Get("/search", s.requireUser, s.search)
	app.Get("/settings", s.requireUser, s.settingsPage)
	app.Post("/settings", s.requireUser, s.saveProfile)
	app.Post("/settings/password", s.requireUser, s.changePassword)
	app.Post("/settings/sessions/end-others", s.requireUser, s.endOtherSessions)
	app.Get("/ws", s.requireUser, s.upgrade, websocket.New(s.socket, websocket.Config{
		Origins: []string{"*"}, // checked in s.upgrade against BASE_URL or the Host, before the upgrade
		// Every open socket keeps its read buffer. What a page sends (a message, a typing note) is a few
		// hundred bytes; a larger frame is read past the buffer, so a small one costs a read, not data.
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		// A socket holds a write buffer only while it writes: most sockets are idle most of the time.
		WriteBufferPool: &sync.Pool{},
	}))
	app.Get("/chat/:username", s.requireUser, s.chat)
	app.Get("/chat/:username/messages", s.requireUser, s.older)
	app.Post("/chat/:username/messages", s.requireUser, s.sendMessage)
	app.Get("/attachments/:id", s.requireUser, s.serveAttachment(false))
	app.Get("/attachments/:id/thumb", s.requireUser, s.serveAttachment(true))
	app.Get("/chat/:username/messages/:id", s.requireUser, s.showMessage)
	app.Get("/chat/:username/messages/:id/edit", s.requireUser, s.editPage)
	app.Post("/chat/:username/messages/:id/edit", s.requireUser, s.editMessage)
	app.Get("/chat/:username/messages/:id/delete", s.requireUser, s.deletePage)
	app.Post("/chat/:username/messages/:id/delete", s.requireUser, s.deleteMessage)
	app.Post("/chat/:username/mute", s.requireUser, s.mute)
	app.Post("/chat/:username/unmute", s.requireUser, s.unmute)
	return app, s, nil
}

// staticCharset serves embedded files for a year (their URLs carry a content hash) and names the
// charset of text ones.
func staticCharset(c *fiber.Ctx) error {
	if err := c.Next(); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	ct := string(c.Response().Header.ContentType())
	if (strings.HasPrefix(ct, "text/") || strings.Contains(ct, "javascript")) && !strings.Contains(ct, "charset") {
		c.Set(fiber.HeaderContentType, ct+"; charset=utf-8")
	}
	return nil
}

func parseBaseURL(raw string) (origin string, secure bool, err error) {
	if raw == "" {
		return "", false, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false, errors.New("BASE_URL must look like https://chat.example.org")
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), u.Scheme == "https", nil
}

func prefixStrings(prefixes []netip.Prefix) []string {
	out := make([]string, len(prefixes))
	for i, p := range prefixes {
		out[i] = p.String()
	}
	return out
}

func newInstanceID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Run delivers events from the broker to this instance's sockets and keeps presence and sessions tidy
// until ctx ends.
func (s *Server) Run(ctx context.Context) {
	go s.sessions.Sweep(ctx, s.sweepEvery, func(err error) { s.log.Error("sweep sessions", "err", err) })
	go s.sweepThrottles(ctx)
	go s.heartbeat(ctx)
	go s.publishPresence(ctx)
	go s.markReads(ctx)
	go s.watchNewUsers(ctx)
	for ctx.Err() == nil {
		if err := s.broker.Run(ctx, s.deliver); err != nil && ctx.Err() == nil {
			s.log.Error("event broker stopped; restarting", "err", err)
			time.Sleep(time.Second)
		}
	}
}

// Shutdown closes every socket with 1012 (clients reconnect, to this instance once it is back or to
// another) and forgets this instance's presence.
func (s *Server) Shutdown(ctx context.Context) {
	s.hub.Shutdown(ctx)
	if err := s.store.RemoveInstance(ctx, s.instanceID, 2*store.PresenceFreshness); err != nil {
		s.log.Warn("remove instance presence", "err", err)
	}
}

// Hub exposes the socket hub (tests count sockets with it).
func (s *Server) Hub() *realtime.Hub { return s.hub }
