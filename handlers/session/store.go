// Package session keeps sessions in the database behind gorilla/sessions, bridges them to Fiber, and
// guards unsafe requests with a CSRF token and an Origin check.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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

// Timeouts of a session; a zero field takes its value from DefaultTimeouts.
type Timeouts struct {
	Idle      time.Duration // a signed-in session unused this long ends
	Absolute  time.Duration // a signed-in session ends this long after sign-in whatever its use
	Anonymous time.Duration // an anonymous visitor's CSRF cookie lasts this long
	// Refresh is how stale last_active may get before a request rewrites the row: often enough for the
	// idle timeout, rarely enough that browsing is not a write per request.
	Refresh time.Duration
	// Cache is how long an instance serves a signed-in session from memory without asking the
	// database; ending a session evicts it on every instance at once, whatever is left of this.
	Cache time.Duration
}

// DefaultTimeouts suit a messenger people keep open for weeks, like WhatsApp Web.
var DefaultTimeouts = Timeouts{
	Idle: 30 * 24 * time.Hour, Absolute: 90 * 24 * time.Hour, Anonymous: 2 * time.Hour,
	Refresh: time.Minute, Cache: 5 * time.Second,
}

// CacheTTL is Cache, or its default when unset.
func (t Timeouts) CacheTTL() time.Duration { return t.withDefaults().Cache }

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts
	for _, f := range []struct{ v, def *time.Duration }{
		{&t.Idle, &d.Idle}, {&t.Absolute, &d.Absolute}, {&t.Anonymous, &d.Anonymous}, {&t.Refresh, &d.Refresh}, {&t.Cache, &d.Cache},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return t
}

// Hash names a session without being able to use it: the hex SHA-256 of its secret id. The database
// stores sessions under it, and sockets and "session ended" events carry it.
func Hash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// cookieValue is what the signed cookie holds: a signed-in session's id, or an anonymous visitor's CSRF
// token (anonymous visitors have no row: a GET of the login page writes nothing to the database).
type cookieValue struct {
	ID   string `json:"i,omitempty"`
	CSRF string `json:"c,omitempty"`
}

// DBStore is a gorilla/sessions Store whose signed-in sessions live in the sessions table, under the hash
// of their id; the cookie carries only the id, signed so a forged or altered cookie reads as no session.
// A row is inserted at sign-in and afterwards only updated: a request that finds its row gone (logout
// while it was in flight) re-creates nothing and sends no cookie.
type DBStore struct {
	db       *store.Store
	codecs   []securecookie.Codec
	options  sessions.Options
	timeouts Timeouts
	cache    *cache
}

// NewDBStore builds the store. hashKeys sign the cookie (the first signs, all verify, for rotation).
func NewDBStore(db *store.Store, hashKeys [][]byte, secure bool, t Timeouts) *DBStore {
	t = t.withDefaults()
	var pairs [][]byte
	for _, k := range hashKeys {
		pairs = append(pairs, k, nil)
	}
	codecs := securecookie.CodecsFromPairs(pairs...)
	for _, c := range codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxAge(int(t.Absolute.Seconds()))
			sc.SetSerializer(securecookie.JSONEncoder{})
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
		cache:    newCache(t.Cache),
	}
}

// Absolute is how long a session lasts after sign-in, whatever its use.
func (s *DBStore) Absolute() time.Duration { return s.timeouts.Absolute }

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
	var v cookieValue
	if securecookie.DecodeMulti(name, cookie.Value, &v, s.codecs...) != nil {
		return sess, nil
	}
	if v.ID == "" {
		if v.CSRF != "" {
			sess.Values[keyCSRF] = v.CSRF
		}
		return sess, nil
	}
	row, err := s.load(r.Context(), Hash(v.ID))
	if errors.Is(err, store.ErrNotFound) {
		return sess, nil
	}
	if err != nil {
		return sess, err
	}
	sess.ID = v.ID
	sess.IsNew = false
	sess.Values[keyUserID] = row.UserID
	sess.Values[keyCSRF] = row.CSRFToken
	sess.Values[keyCreated] = row.CreatedAt
	sess.Values[keyLastActive] = row.LastActiveAt
	return sess, nil
}

// load returns a live session row, from the cache while it is fresh.
func (s *DBStore) load(ctx context.Context, hash string) (models.Session, error) {
	if row, ok := s.cache.get(hash); ok {
		return row, nil
	}
	epoch := s.cache.epoch()
	row, err := s.db.SessionByHash(ctx, hash)
	if err == nil {
		s.cache.put(row, epoch)
	}
	return row, err
}

// Save writes the session and its cookie. A session with MaxAge < 0 is deleted and its cookie cleared;
// an anonymous one becomes a signed cookie holding its CSRF token; a new signed-in one (sign-in) is
// inserted; an existing one is only updated, and if its row is gone it stays gone and no cookie is sent.
func (s *DBStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	ctx := r.Context()
	if sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := s.End(ctx, Hash(sess.ID)); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	uid, _ := sess.Values[keyUserID].(int64)
	if uid == 0 {
		opts := *sess.Options
		opts.MaxAge = int(s.timeouts.Anonymous.Seconds())
		csrf, _ := sess.Values[keyCSRF].(string)
		return s.setCookie(w, sess.Name(), cookieValue{CSRF: csrf}, &opts)
	}
	t := time.Now().UTC()
	created, ok := sess.Values[keyCreated].(time.Time)
	if !ok {
		created = t
	}
	row := models.Session{
		UserID: uid, CreatedAt: created, LastActiveAt: t,
		ExpiresAt: minTime(t.Add(s.timeouts.Idle), created.Add(s.timeouts.Absolute)),
	}
	row.CSRFToken, _ = sess.Values[keyCSRF].(string)
	epoch := s.cache.epoch()
	if !sess.IsNew {
		row.IDHash = Hash(sess.ID)
		live, err := s.db.TouchSession(ctx, row.IDHash, row.LastActiveAt, row.ExpiresAt)
		if err != nil {
			return err
		}
		if !live {
			s.cache.evict(row.IDHash)
			return nil
		}
		s.cache.put(row, epoch)
		return nil
	}
	id, err := randomToken(32)
	if err != nil {
		return err
	}
	row.IDHash = Hash(id)
	if err := s.db.CreateSession(ctx, &row); err != nil {
		return err
	}
	s.cache.put(row, epoch)
	sess.ID, sess.IsNew = id, false
	return s.setCookie(w, sess.Name(), cookieValue{ID: id}, sess.Options)
}

func (s *DBStore) setCookie(w http.ResponseWriter, name string, v cookieValue, opts *sessions.Options) error {
	encoded, err := securecookie.EncodeMulti(name, v, s.codecs...)
	if err != nil {
		return fmt.Errorf("session: sign cookie: %w", err)
	}
	http.SetCookie(w, sessions.NewCookie(name, encoded, opts))
	return nil
}

// End deletes sessions by hash and forgets them here; other instances learn it from the "session
// ended" event, which the caller publishes after this returns.
func (s *DBStore) End(ctx context.Context, hashes ...string) error {
	for _, h := range hashes {
		if err := s.db.DeleteSession(ctx, h); err != nil {
			return err
		}
	}
	s.Forget(hashes...)
	return nil
}

// EndUserSessions deletes every session of a user but exceptHash ("" ends them all), forgets them here
// and returns their hashes.
func (s *DBStore) EndUserSessions(ctx context.Context, userID int64, exceptHash string) ([]string, error) {
	ended, err := s.db.DeleteUserSessions(ctx, userID, exceptHash)
	s.Forget(ended...)
	return ended, err
}

// Forget drops sessions from this instance's cache: their rows are gone (the "session ended" event
// of another instance, or a deletion here).
func (s *DBStore) Forget(hashes ...string) { s.cache.evict(hashes...) }

// expiredPoll is how often the sweeper looks whether a session has expired.
const expiredPoll = time.Second

// Sweep deletes expired sessions until ctx ends, and reports those it deleted: every so often, and
// within expiredPoll of a session expiring. An administration command (messenger user disable, from
// another process) ends sessions by expiring them, and their sockets must close at once.
func (s *DBStore) Sweep(ctx context.Context, every time.Duration, ended func([]string), onErr func(error)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	poll := time.NewTicker(expiredPoll)
	defer poll.Stop()
	for {
		s.cache.prune()
		hashes, err := s.db.DeleteExpiredSessions(ctx)
		if err != nil && ctx.Err() == nil {
			onErr(err)
		}
		if len(hashes) > 0 {
			s.Forget(hashes...)
			ended(hashes)
		}
		for wait := true; wait; {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				wait = false
			case <-poll.C:
				expired, err := s.db.SessionsExpired(ctx)
				if err != nil && ctx.Err() == nil {
					onErr(err)
				}
				wait = !expired
			}
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
