package session

import (
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

// activeRefresh is how stale last_active may get before a request rewrites the row: often enough for
// the idle timeout, rarely enough that browsing is not a write per request.
const activeRefresh = time.Minute

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

// ID is the session id ("" before the first save).
func (s *Session) ID() string { return s.raw.ID }

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

// SignOut deletes the session and clears its cookie.
func (s *Session) SignOut() {
	s.raw.Options.MaxAge = -1
	s.raw.Values = map[any]any{}
	s.dirty = true
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
	if last, ok := raw.Values[keyLastActive].(time.Time); ok && time.Since(last) > activeRefresh {
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
		if err := m.Store.db.DeleteSession(req.Context(), sess.previous); err != nil {
			return err
		}
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
