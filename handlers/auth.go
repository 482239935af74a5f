package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/text/unicode/norm"

	"messenger/handlers/realtime"
	"messenger/handlers/session"
	"messenger/models"
	"messenger/models/store"
	"messenger/views"
)

const (
	msgWrongLogin = "Wrong username or password."
	// msgDisabled is shown only to someone who gave the account's right password.
	msgDisabled   = "This account has been disabled. Ask the person who runs this Messenger to enable it."
	msgThrottled  = "Too many failed sign-in attempts. Wait a few minutes, then try again."
	msgBusy       = "Messenger is busy right now. Please try again in a moment."
	msgRegistered = "Too many accounts were created from your network lately. Try again later."
)

// activeWindow is how long a user counts as online after a page request without a socket (plain
// HTML); a socket keeps them online for as long as it is open.
const activeWindow = time.Minute

func (s *Server) loginPage(c *fiber.Ctx) error {
	if session.From(c).UserID() != 0 {
		return c.Redirect("/", http.StatusSeeOther)
	}
	return s.renderLogin(c, http.StatusOK, views.LoginForm{})
}

func (s *Server) renderLogin(c *fiber.Ctx, status int, f views.LoginForm) error {
	f.Title = "Sign in"
	f.Registration = string(s.regMode)
	f.CSRF = session.From(c).CSRFToken()
	return render(c, status, views.LoginPage(f))
}

func (s *Server) login(c *fiber.Ctx) error {
	username := strings.Clone(c.FormValue("username"))
	password := strings.Clone(c.FormValue("password"))
	form := views.LoginForm{Username: username}
	if !validUTF8Form(username, password) {
		form.Username = ""
		form.Error = "The form contains invalid characters."
		return s.renderLogin(c, http.StatusUnprocessableEntity, form)
	}
	if msg := loginTooLong(username, password); msg != "" {
		form.Error = msg
		return s.renderLogin(c, http.StatusUnprocessableEntity, form)
	}
	ctx := c.UserContext()
	client := s.clientAddr(c)
	account, addr := models.UsernameKey(username), addressKey(client)
	if err := s.throttle.loginAttempt(ctx, account, addr); err != nil {
		form.Error = msgThrottled
		return refuseTooMany(c, err, func(status int) error { return s.renderLogin(c, status, form) })
	}
	user, err := s.store.UserByUsername(ctx, username)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// An unknown user costs the same hash as a known one, so timing does not tell which names exist.
	hash := s.dummyHash
	if err == nil {
		hash = user.Password
	}
	var ok bool
	err = s.hasher.do(ctx, func() error {
		var verr error
		ok, verr = s.hasher.Verify(password, hash)
		return verr
	})
	if errors.Is(err, errHasherBusy) {
		if err := s.throttle.loginNotFailed(ctx, account, addr, false); err != nil {
			return err
		}
		form.Error = msgBusy
		return s.renderLogin(c, http.StatusServiceUnavailable, form)
	}
	if err != nil {
		return err
	}
	if !ok || user.UserID == 0 {
		s.logFailedSignIn(c, client, username)
		form.Error = msgWrongLogin
		return s.renderLogin(c, http.StatusUnauthorized, form)
	}
	if err := s.throttle.loginNotFailed(ctx, account, addr, true); err != nil {
		return err
	}
	if user.DisabledAt != nil {
		s.log.Info("sign-in refused: account disabled", "user_id", user.UserID)
		form.Error = msgDisabled
		return s.renderLogin(c, http.StatusForbidden, form)
	}
	return s.signIn(c, user)
}

// loginTooLong refuses what no account can have, a username or password longer than registration
// allows, before anything is counted, stored or hashed.
func loginTooLong(username, password string) string {
	if utf8.RuneCountInString(norm.NFKC.String(strings.TrimSpace(username))) > models.UsernameMaxLen {
		return fmt.Sprintf("Username must be at most %d characters.", models.UsernameMaxLen)
	}
	if utf8.RuneCountInString(password) > models.PasswordMaxLen {
		return fmt.Sprintf("Password must be at most %d characters.", models.PasswordMaxLen)
	}
	return ""
}

// logFailedSignIn writes the one line fail2ban can match: the address first, so nothing typed as a
// username can pose as it; the request id last.
func (s *Server) logFailedSignIn(c *fiber.Ctx, client netip.Addr, username string) {
	s.log.Warn("sign-in failed", "client", client.String(), "username", username, "request_id", c.GetRespHeader(HeaderRequestID))
}

func (s *Server) signIn(c *fiber.Ctx, user models.User) error {
	session.From(c).SignIn(user.UserID)
	until := time.Now().UTC().Add(activeWindow)
	if err := s.store.TouchUser(c.UserContext(), user.UserID, until); err != nil {
		return err
	}
	s.users.active(user.UserID, &until)
	s.publish(c.UserContext(), realtime.Event{Kind: realtime.KindPresence, Up: []int64{user.UserID}})
	s.logFor(c).Info("signed in", "user_id", user.UserID)
	return c.Redirect("/", http.StatusSeeOther)
}

func (s *Server) registerPage(c *fiber.Ctx) error {
	if session.From(c).UserID() != 0 {
		return c.Redirect("/", http.StatusSeeOther)
	}
	invite, err := s.registrationAllowed(c)
	if err != nil {
		return err
	}
	return s.renderRegister(c, http.StatusOK, views.RegisterForm{Invite: invite})
}

func (s *Server) renderRegister(c *fiber.Ctx, status int, f views.RegisterForm) error {
	f.Title = "Create account"
	f.CSRF = session.From(c).CSRFToken()
	return render(c, status, views.RegisterPage(f))
}

func (s *Server) register(c *fiber.Ctx) error {
	invite, err := s.registrationAllowed(c)
	if err != nil {
		return err
	}
	raw := map[string]string{}
	for _, k := range []string{"first_name", "last_name", "gender", "username", "password"} {
		raw[k] = strings.Clone(c.FormValue(k))
	}
	form := views.RegisterForm{Errors: models.FieldErrors{}, Invite: invite}
	// What the user typed goes back into the form, minus anything that cannot be shown.
	for k, v := range raw {
		if !validUTF8Form(v) {
			raw[k] = ""
			if k != "password" {
				form.Errors[k] = "This field contains invalid characters."
			}
		}
	}
	form.FirstName, form.LastName, form.Username = raw["first_name"], raw["last_name"], raw["username"]
	p := models.CheckProfile(raw["first_name"], raw["last_name"], raw["gender"], form.Errors)
	user := models.User{FirstName: p.FirstName, LastName: p.LastName, Gender: p.Gender}
	form.Gender = p.Gender
	var msg string
	if user.Username, msg = models.NormalizeUsername(raw["username"]); msg != "" {
		form.Errors.Set("username", msg)
	}
	if msg = models.CheckPassword(raw["password"], user.Username); msg != "" {
		form.Errors.Set("password", msg)
	}
	if form.Errors.Any() {
		form.Error = "Please correct the fields marked below."
		return s.renderRegister(c, http.StatusUnprocessableEntity, form)
	}
	// Counted before the costly hash; a registration that does not happen is taken back below.
	addr := addressKey(s.clientAddr(c))
	if err := s.throttle.hit(c.UserContext(), s.throttle.registers, addr); err != nil {
		form.Error = msgRegistered
		return refuseTooMany(c, err, func(status int) error { return s.renderRegister(c, status, form) })
	}
	err = s.hasher.do(c.UserContext(), func() error {
		// A name taken while this request queued for a slot is refused without the costly hash.
		if taken, err := s.store.UsernameTaken(c.UserContext(), user.Username); err != nil {
			return err
		} else if taken {
			return store.ErrConflict
		}
		var herr error
		user.Password, herr = s.hasher.Hash(raw["password"])
		return herr
	})
	if err == nil {
		err = s.createUser(c.UserContext(), &user, invite)
	}
	if err != nil {
		err = errors.Join(err, s.throttle.undo(c.UserContext(), s.throttle.registers, addr))
	}
	if errors.Is(err, errHasherBusy) {
		form.Error = msgBusy
		return s.renderRegister(c, http.StatusServiceUnavailable, form)
	}
	if errors.Is(err, store.ErrConflict) {
		form.Errors.Set("username", "That username is taken. Try another.")
		form.Error = "Please correct the fields marked below."
		return s.renderRegister(c, http.StatusConflict, form)
	} else if err != nil {
		return err
	}
	s.logFor(c).Info("registered", "user_id", user.UserID)
	// Everyone signed in sees the newcomer's row appear.
	newcomer := user
	newcomer.Password = ""
	s.publish(c.UserContext(), realtime.Event{Kind: realtime.KindUser, ActorID: user.UserID, Actor: &newcomer})
	return s.signIn(c, user)
}

// sessionsEnded tells every instance that sessions ended (their rows are already deleted): each
// forgets them from its session cache and closes their sockets with 1008.
func (s *Server) sessionsEnded(ctx context.Context, hashes []string) {
	for _, h := range hashes {
		s.publish(ctx, realtime.Event{Kind: realtime.KindSessionEnded, SessionID: h})
	}
}

func (s *Server) logout(c *fiber.Ctx) error {
	me := currentUser(c)
	// The row goes before the announcement: a socket closed by it that reconnects at once finds no session.
	if err := s.sessions.SignOut(c); err != nil {
		return err
	}
	if err := s.store.SignOffUser(c.UserContext(), me.UserID); err != nil {
		return err
	}
	s.users.active(me.UserID, nil)
	s.logFor(c).Info("signed out", "user_id", me.UserID)
	return redirect(c, "/login")
}

const localsUser = "messenger.user"

// requireUser lets signed-in users through with their row in Locals; others go to the login page
// (the socket gets 401).
func (s *Server) requireUser(c *fiber.Ctx) error {
	id := session.From(c).UserID()
	var user models.User
	var err error
	if id != 0 {
		user, err = s.users.signedIn(c.UserContext(), s.store, id, s.userFresh)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	// A disabled user's sessions end when they are disabled; this refuses one still cached here.
	if id == 0 || err != nil || user.DisabledAt != nil {
		if c.Path() == "/ws" {
			return errorf(http.StatusUnauthorized, "Sign in first.")
		}
		if c.Method() != fiber.MethodGet {
			return errorf(http.StatusUnauthorized, "Your session has ended. Sign in again.")
		}
		return redirect(c, "/login")
	}
	now := time.Now().UTC()
	if user.ActiveUntil == nil || user.ActiveUntil.Sub(now) < activeWindow/2 {
		until := now.Add(activeWindow)
		if err := s.store.TouchUser(c.UserContext(), user.UserID, until); err != nil {
			return err
		}
		user.ActiveUntil = &until
		s.users.active(user.UserID, &until)
	}
	c.Locals(localsUser, user)
	return c.Next()
}

func currentUser(c *fiber.Ctx) models.User {
	u, _ := c.Locals(localsUser).(models.User)
	return u
}

func validUTF8Form(values ...string) bool {
	for _, v := range values {
		if !utf8Valid(v) {
			return false
		}
	}
	return true
}
