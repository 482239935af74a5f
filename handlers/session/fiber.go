package session

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gorilla/sessions"
)

// Errors the request guards return; the application's error handler turns them into pages.
var (
	ErrCSRF   = errors.New("session: missing or wrong CSRF token")
	ErrOrigin = errors.New("session: request from a foreign origin")
)

// CSRFField and CSRFHeader carry the token: a hidden field in plain forms, a header from htmx.
const (
	CSRFField  = "_csrf"
	CSRFHeader = "X-CSRF-Token"
)

const localsKey = "messenger.session"

// Session is the request's view of its gorilla session.
type Session struct {
	raw      *sessions.Session
	dirty    bool
	previous string // id to delete after a rotation
}

// UserID is the signed-in user, 0 when anonymous.
func (s *Session) UserID() int64 {
	id, _ := s.raw.Values[keyUserID].(int64)
	return id
}

// Hash names the signed-in session in the database, on sockets and in "session ended" events; ""
// when anonymous.
func (s *Session) Hash() string {
	if s.raw.ID == "" {
		return ""
	}
	return Hash(s.raw.ID)
}

// Created is when the session signed in (zero when anonymous).
func (s *Session) Created() time.Time {
	t, _ := s.raw.Values[keyCreated].(time.Time)
	return t
}

// CSRFToken returns the session's token, creating it (and the session) when there is none yet.
func (s *Session) CSRFToken() string {
	if tok, _ := s.raw.Values[keyCSRF].(string); tok != "" {
		return tok
	}
	tok, err := randomToken(32)
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	s.raw.Values[keyCSRF] = tok
	s.dirty = true
	return tok
}

// SignIn makes the session belong to userID under a new id and a new CSRF token, so an id planted
// before login is worthless after it.
func (s *Session) SignIn(userID int64) {
	if !s.raw.IsNew {
		s.previous = s.raw.ID
	}
	s.raw.ID = ""
	s.raw.IsNew = true
	s.raw.Values = map[any]any{keyUserID: userID, keyCreated: time.Now().UTC()}
	s.dirty = true
	s.CSRFToken()
}

// From returns the request's session; the middleware must have run.
func From(c *fiber.Ctx) *Session {
	s, _ := c.Locals(localsKey).(*Session)
	return s
}

// Manager holds the store and the expected origin.
type Manager struct {
	Store *DBStore
	// Origin is the public origin (scheme://host[:port]) from BASE_URL; empty means "the Host the
	// request came to".
	Origin string
	// Ended announces sessions whose rows are gone (to every instance: their sockets close, their cache
	// entries go); it runs after the deletion, never before.
	Ended func(ctx context.Context, hashes []string)
}

// SignOut ends the request's session now: the row is deleted, then the end announced, and the cookie
// is cleared when the response is written.
func (m *Manager) SignOut(c *fiber.Ctx) error {
	sess := From(c)
	if hash := sess.Hash(); hash != "" {
		if err := m.Store.End(c.UserContext(), hash); err != nil {
			return err
		}
		m.announce(c.UserContext(), []string{hash})
	}
	sess.raw.ID = ""
	sess.raw.Options.MaxAge = -1
	sess.raw.Values = map[any]any{}
	sess.dirty = true
	return nil
}

// EndUserSessions ends every session of a user except exceptHash ("" ends them all): the rows are
// deleted, then the end announced.
func (m *Manager) EndUserSessions(ctx context.Context, userID int64, exceptHash string) error {
	ended, err := m.Store.EndUserSessions(ctx, userID, exceptHash)
	m.announce(ctx, ended)
	return err
}

// Sweep deletes expired sessions every so often until ctx ends and announces each.
func (m *Manager) Sweep(ctx context.Context, every time.Duration, onErr func(error)) {
	m.Store.Sweep(ctx, every, func(hashes []string) { m.announce(ctx, hashes) }, onErr)
}

func (m *Manager) announce(ctx context.Context, hashes []string) {
	if m.Ended != nil && len(hashes) > 0 {
		m.Ended(ctx, hashes)
	}
}

// Middleware loads the session before the chain and saves it after, only if it changed. gorilla
// speaks net/http, so the request is converted once (just its cookie and context) and the Set-Cookie
// headers gorilla writes are copied onto Fiber's response.
func (m *Manager) Middleware(c *fiber.Ctx) error {
	req, err := http.NewRequestWithContext(c.UserContext(), http.MethodGet, "/", nil)
	if err != nil {
		return err
	}
	if v := c.Cookies(CookieName); v != "" {
		req.AddCookie(&http.Cookie{Name: CookieName, Value: v})
	}
	raw, err := m.Store.New(req, CookieName)
	if err != nil {
		return err
	}
	sess := &Session{raw: raw}
	if last, ok := raw.Values[keyLastActive].(time.Time); ok && time.Since(last) > m.Store.timeouts.Refresh {
		sess.dirty = true
	}
	c.Locals(localsKey, sess)
	chainErr := c.Next()
	if err := m.save(c, req, sess); err != nil {
		return err
	}
	return chainErr
}

func (m *Manager) save(c *fiber.Ctx, req *http.Request, sess *Session) error {
	if !sess.dirty {
		return nil
	}
	if sess.previous != "" {
		// A sign-in over a signed-in session replaces it: the old one ends.
		ended := Hash(sess.previous)
		if err := m.Store.End(req.Context(), ended); err != nil {
			return err
		}
		m.announce(req.Context(), []string{ended})
	}
	w := headerWriter{header: http.Header{}}
	if err := m.Store.Save(req, w, sess.raw); err != nil {
		return err
	}
	for _, v := range w.header.Values("Set-Cookie") {
		c.Response().Header.Add(fiber.HeaderSetCookie, v)
	}
	return nil
}

// headerWriter is the ResponseWriter gorilla writes its cookie into; only the headers are kept.
type headerWriter struct{ header http.Header }

func (w headerWriter) Header() http.Header         { return w.header }
func (w headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w headerWriter) WriteHeader(int)             {}

// CheckOrigin reports whether the request's Origin (or, lacking one, Referer) is this site's.
// Requests with neither come from non-browser clients, which carry no ambient cookies to abuse.
func (m *Manager) CheckOrigin(c *fiber.Ctx) bool {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" {
		ref := c.Get(fiber.HeaderReferer)
		if ref == "" {
			return c.Get("Sec-Fetch-Site") != "cross-site"
		}
		u, err := url.Parse(ref)
		if err != nil {
			return false
		}
		origin = u.Scheme + "://" + u.Host
	}
	return strings.EqualFold(origin, m.expectedOrigin(c))
}

func (m *Manager) expectedOrigin(c *fiber.Ctx) string {
	if m.Origin != "" {
		return m.Origin
	}
	return c.Protocol() + "://" + c.Hostname()
}

// RequireCSRF refuses unsafe requests without this session's token or from another origin.
func (m *Manager) RequireCSRF(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	if !m.CheckOrigin(c) {
		return ErrOrigin
	}
	sent := c.Get(CSRFHeader)
	if sent == "" {
		sent = c.FormValue(CSRFField)
	}
	want, _ := From(c).raw.Values[keyCSRF].(string)
	if want == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(want)) != 1 {
		return ErrCSRF
	}
	return c.Next()
}
