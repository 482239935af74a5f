package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"messenger/handlers/realtime"
	"messenger/handlers/session"
	"messenger/models"
	"messenger/views"
)

// settingsPage shows the account settings; ?saved=… names the form that was just saved (the "get" of
// post/redirect/get).
func (s *Server) settingsPage(c *fiber.Ctx) error {
	page, err := s.settings(c)
	if err != nil {
		return err
	}
	switch c.Query("saved") {
	case "profile":
		page.Profile.Saved = true
	case "password":
		page.Password.Saved = true
	case "sessions":
		page.Sessions.Ended = true
	}
	return render(c, http.StatusOK, views.SettingsPage(page))
}

// settings is the page as stored now: the user's profile and how many other sessions they have.
func (s *Server) settings(c *fiber.Ctx) (views.Settings, error) {
	me := currentUser(c)
	sess := session.From(c)
	others, err := s.store.CountOtherSessions(c.UserContext(), me.UserID, sess.Hash())
	if err != nil {
		return views.Settings{}, err
	}
	csrf := sess.CSRFToken()
	return views.Settings{
		Page: views.Page{Title: "Settings", Me: &me, CSRF: csrf},
		Profile: views.ProfileForm{
			CSRF: csrf, FirstName: me.FirstName, LastName: me.LastName, Gender: me.Gender,
		},
		Password: views.PasswordForm{CSRF: csrf},
		Sessions: views.SessionsForm{CSRF: csrf, Others: others},
	}, nil
}

// answerSettings answers a settings form. htmx gets the form's own section back (with its errors or
// its "saved" note); a plain form gets the whole page when something is wrong, or a redirect to
// /settings?saved=name once a change is made.
func (s *Server) answerSettings(c *fiber.Ctx, status int, name string, section templ.Component, page func(*views.Settings)) error {
	if isFragmentRequest(c) {
		return render(c, status, section)
	}
	if status == http.StatusOK {
		return c.Redirect("/settings?saved="+name, http.StatusSeeOther)
	}
	p, err := s.settings(c)
	if err != nil {
		return err
	}
	page(&p)
	return render(c, status, views.SettingsPage(p))
}

func (s *Server) saveProfile(c *fiber.Ctx) error {
	me := currentUser(c)
	raw := map[string]string{}
	form := views.ProfileForm{CSRF: session.From(c).CSRFToken(), Errors: models.FieldErrors{}}
	for _, k := range []string{"first_name", "last_name", "gender"} {
		raw[k] = strings.Clone(c.FormValue(k))
		if !validUTF8Form(raw[k]) {
			raw[k] = ""
			form.Errors[k] = "This field contains invalid characters."
		}
	}
	form.FirstName, form.LastName = raw["first_name"], raw["last_name"]
	p := models.CheckProfile(raw["first_name"], raw["last_name"], raw["gender"], form.Errors)
	form.Gender = p.Gender
	status := http.StatusOK
	if form.Errors.Any() {
		status = http.StatusUnprocessableEntity
		form.Error = "Please correct the fields marked below."
	} else {
		if err := s.store.UpdateProfile(c.UserContext(), me.UserID, p); err != nil {
			return err
		}
		s.users.forget(me.UserID) // this instance's next request reads the new row (the event drops it elsewhere)
		// The new name shows at once wherever a page shows it (users lists, conversation headers).
		s.publish(c.UserContext(), realtime.Event{Kind: realtime.KindProfile, ActorID: me.UserID})
		form.FirstName, form.LastName, form.Saved = p.FirstName, p.LastName, true
	}
	return s.answerSettings(c, status, "profile", views.ProfileSection(form), func(page *views.Settings) { page.Profile = form })
}

// changePassword checks the current password (a wrong one counts as a failed sign-in), sets the new
// one and signs out every other session of the user; this one stays signed in.
func (s *Server) changePassword(c *fiber.Ctx) error {
	me := currentUser(c)
	current := strings.Clone(c.FormValue("current_password"))
	next := strings.Clone(c.FormValue("new_password"))
	form := views.PasswordForm{CSRF: session.From(c).CSRFToken(), Errors: models.FieldErrors{}}
	answer := func(status int) error {
		if status != http.StatusOK && form.Error == "" {
			form.Error = "Your password was not changed."
		}
		return s.answerSettings(c, status, "password", views.PasswordSection(form), func(page *views.Settings) { page.Password = form })
	}
	if current == "" {
		form.Errors.Set("current_password", "Enter your current password.")
	} else if !validUTF8Form(current) || loginTooLong("", current) != "" {
		form.Errors.Set("current_password", "That is not your current password.")
	}
	if msg := models.CheckPassword(next, me.Username); msg != "" {
		form.Errors.Set("new_password", msg)
	}
	if form.Errors.Any() {
		return answer(http.StatusUnprocessableEntity)
	}
	// The same budget as signing in to the account from this address, counted before hashing.
	ctx := c.UserContext()
	account, addr := models.UsernameKey(me.Username), addressKey(s.clientAddr(c))
	if err := s.throttle.loginAttempt(ctx, account, addr); err != nil {
		form.Error = msgThrottled
		return refuseTooMany(c, err, answer)
	}
	// The stored hash, read now: the request's row (requireUser) comes from memory without it.
	stored, err := s.store.UserByID(ctx, me.UserID)
	if err != nil {
		return err
	}
	var ok bool
	var hash string
	err = s.hasher.do(ctx, func() error {
		var err error
		if ok, err = s.hasher.Verify(current, stored.Password); err != nil || !ok {
			return err
		}
		hash, err = s.hasher.Hash(next)
		return err
	})
	if errors.Is(err, errHasherBusy) {
		if err := s.throttle.loginNotFailed(ctx, account, addr, false); err != nil {
			return err
		}
		form.Error = msgBusy
		return answer(http.StatusServiceUnavailable)
	}
	if err != nil {
		return err
	}
	if !ok {
		// The line fail2ban matches for a failed sign-in: a wrong password for this account all the same.
		s.logFailedSignIn(c, s.clientAddr(c), me.Username)
		form.Errors.Set("current_password", "That is not your current password.")
		return answer(http.StatusUnprocessableEntity)
	}
	if err := s.throttle.loginNotFailed(ctx, account, addr, true); err != nil {
		return err
	}
	if err := s.store.SetPassword(c.UserContext(), me.UserID, hash); err != nil {
		return err
	}
	if err := s.sessions.EndUserSessions(c.UserContext(), me.UserID, session.From(c).Hash()); err != nil {
		return err
	}
	s.logFor(c).Info("password changed; other sessions ended", "user_id", me.UserID)
	form.Saved = true
	return answer(http.StatusOK)
}

// endOtherSessions signs out every other session of the user ("sign out everywhere else"); their
// sockets close with 1008 on every instance.
func (s *Server) endOtherSessions(c *fiber.Ctx) error {
	me := currentUser(c)
	if err := s.sessions.EndUserSessions(c.UserContext(), me.UserID, session.From(c).Hash()); err != nil {
		return err
	}
	s.logFor(c).Info("other sessions ended", "user_id", me.UserID)
	form := views.SessionsForm{CSRF: session.From(c).CSRFToken(), Ended: true}
	return s.answerSettings(c, http.StatusOK, "sessions", views.SessionsSection(form), nil)
}
