// Package session keeps sessions in the database behind gorilla/sessions, bridges them to Fiber, and
// guards unsafe requests with a CSRF token and an Origin check.
package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"messenger/models"
	"messenger/models/store"
)

// CookieName is the session cookie's name.
const CookieName = "messenger_session"

// Keys of Session.Values.
const (
	keyUserID     = "user_id"
	keyCSRF       = "csrf"
	keyCreated    = "created"
	keyLastActive = "last_active"
)

// Timeouts of a session.
type Timeouts struct {
	Idle      time.Duration // a signed-in session unused this long ends
	Absolute  time.Duration // a signed-in session ends this long after sign-in whatever its use
	Anonymous time.Duration // a session without a user (it only holds a CSRF token) ends this long after last use
}

// DefaultTimeouts suit a messenger people keep open for weeks, like WhatsApp Web.
var DefaultTimeouts = Timeouts{Idle: 30 * 24 * time.Hour, Absolute: 90 * 24 * time.Hour, Anonymous: 2 * time.Hour}

// DBStore is a gorilla/sessions Store whose data lives in the sessions table; the cookie carries only
// the session id, signed so a forged or altered cookie reads as no session.
type DBStore struct {
	db       *store.Store
	codecs   []securecookie.Codec
	options  sessions.Options
	timeouts Timeouts
}

// NewDBStore builds the store. hashKeys sign the cookie (the first signs, all verify, for rotation).
func NewDBStore(db *store.Store, hashKeys [][]byte, secure bool, t Timeouts) *DBStore {
	var pairs [][]byte
	for _, k := range hashKeys {
		pairs = append(pairs, k, nil)
	}
	codecs := securecookie.CodecsFromPairs(pairs...)
	for _, c := range codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxAge(int(t.Absolute.Seconds()))
		}
	}
	return &DBStore{
		db:     db,
		codecs: codecs,
		options: sessions.Options{
			Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
			MaxAge: int(t.Absolute.Seconds()),
		},
		timeouts: t,
	}
}

// Get returns the request's session through gorilla's per-request registry.
func (s *DBStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the session named by the request's cookie. A missing, forged or expired cookie yields a
// new empty session and no error; only a database failure is an error.
func (s *DBStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(s, name)
	opts := s.options
	sess.Options = &opts
	sess.IsNew = true
	cookie, err := r.Cookie(name)
	if err != nil {
		return sess, nil
	}
	var id string
	if securecookie.DecodeMulti(name, cookie.Value, &id, s.codecs...) != nil {
		return sess, nil
	}
	row, err := s.db.SessionByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return sess, nil
	}
	if err != nil {
		return sess, err
	}
	sess.ID = row.SessionID
	sess.IsNew = false
	if row.UserID != nil {
		sess.Values[keyUserID] = *row.UserID
	}
	sess.Values[keyCSRF] = row.CSRFToken
	sess.Values[keyCreated] = row.CreatedAt
	sess.Values[keyLastActive] = row.LastActiveAt
	return sess, nil
}

// Save writes the session row and its cookie; a session with MaxAge < 0 is deleted and its cookie
// cleared.
func (s *DBStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	ctx := r.Context()
	if sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := s.db.DeleteSession(ctx, sess.ID); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	if sess.ID == "" {
		id, err := randomToken(32)
		if err != nil {
			return err
		}
		sess.ID = id
	}
	row := s.row(sess)
	if err := s.db.SaveSession(ctx, &row); err != nil {
		return err
	}
	encoded, err := securecookie.EncodeMulti(sess.Name(), sess.ID, s.codecs...)
	if err != nil {
		return fmt.Errorf("session: sign cookie: %w", err)
	}
	http.SetCookie(w, sessions.NewCookie(sess.Name(), encoded, sess.Options))
	return nil
}

func (s *DBStore) row(sess *sessions.Session) models.Session {
	t := time.Now().UTC()
	created, ok := sess.Values[keyCreated].(time.Time)
	if !ok {
		created = t
	}
	row := models.Session{SessionID: sess.ID, CreatedAt: created, LastActiveAt: t}
	row.CSRFToken, _ = sess.Values[keyCSRF].(string)
	if uid, ok := sess.Values[keyUserID].(int64); ok && uid != 0 {
		row.UserID = &uid
		row.ExpiresAt = minTime(t.Add(s.timeouts.Idle), created.Add(s.timeouts.Absolute))
	} else {
		row.ExpiresAt = t.Add(s.timeouts.Anonymous)
	}
	return row
}

// Sweep deletes expired sessions until ctx ends.
func (s *DBStore) Sweep(ctx context.Context, every time.Duration, onErr func(error)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if _, err := s.db.DeleteExpiredSessions(ctx); err != nil && ctx.Err() == nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
