package handlers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"messenger/handlers/session"
	"messenger/models/store"
	"messenger/views"
)

// contentSecurityPolicy allows only this origin's scripts, styles and sockets; nothing inline.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

func setSecurityHeaders(c *fiber.Ctx) {
	h := &c.Response().Header
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

func (s *Server) securityHeaders(c *fiber.Ctx) error {
	setSecurityHeaders(c)
	if s.origin != "" && s.origin[:6] == "https:" {
		c.Set("Strict-Transport-Security", "max-age=31536000")
	}
	return c.Next()
}

// itemCacheBytes bounds the rendered messages kept for reuse (views.ItemCache): some 25,000 of them
// (about 1.3 KiB each with what their stamps hold).
const itemCacheBytes = 32 << 20

// viewContext gives the request's rendering the server's view caches.
func (s *Server) viewContext(c *fiber.Ctx) error {
	c.SetUserContext(views.WithItemCache(c.UserContext(), s.items))
	return c.Next()
}

// render writes a component as an HTML response. Pages hold private conversations: never cached, and
// the answer depends on whether htmx asked.
func render(c *fiber.Ctx, status int, comp templ.Component) error {
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Vary("HX-Request")
	return comp.Render(c.UserContext(), c.Response().BodyWriter())
}

// isFragmentRequest reports whether htmx asked for a fragment (not a history restore, which needs the
// whole page).
func isFragmentRequest(c *fiber.Ctx) bool {
	return c.Get("HX-Request") == "true" && c.Get("HX-History-Restore-Request") != "true"
}

// redirect answers post/redirect/get; htmx follows HX-Location instead of swapping the page in.
func redirect(c *fiber.Ctx, to string) error {
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", to)
		return c.SendStatus(http.StatusNoContent)
	}
	return c.Redirect(to, http.StatusSeeOther)
}

// userError is an error whose message is written for the person who caused it.
type userError struct {
	status int
	msg    string
}

func (e *userError) Error() string { return e.msg }

func errorf(status int, msg string) error { return &userError{status: status, msg: msg} }

// handleError is the one place errors become responses. A person sees a readable message and the
// right status; only 5xx are logged, with the request; nobody sees err.Error() of an internal error.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	status, msg := http.StatusInternalServerError, "Something went wrong on our side. Please try again."
	var ue *userError
	var fe *fiber.Error
	switch {
	case errors.As(err, &ue):
		status, msg = ue.status, ue.msg
	case errors.Is(err, session.ErrCSRF):
		status, msg = http.StatusForbidden, "This form has expired or did not come from Messenger. Reload the page and try again."
	case errors.Is(err, session.ErrOrigin):
		status, msg = http.StatusForbidden, "This request came from another site and was refused."
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, "There is nothing here."
	case errors.As(err, &fe):
		status, msg = fe.Code, publicMessage(fe)
	case s.databaseDown(c.UserContext()):
		status, msg = http.StatusServiceUnavailable, msgDatabaseDown
	}
	switch {
	case errors.Is(err, fiber.ErrBadGateway):
		// Fiber's name for a connection that failed while the request was read (the peer reset it):
		// the client has gone, which is no fault of ours, and nobody reads this answer.
		s.logFor(c).Debug("request not read", "err", err)
	case status >= 500:
		s.logFor(c).Error("request failed", "method", c.Method(), "route", routeOf(c, err), "status", status, "err", err)
	}
	setSecurityHeaders(c)
	if c.Method() == fiber.MethodPost && sendPath.MatchString(c.Path()) && status != http.StatusForbidden {
		return s.sendFailed(c, status, sendFailureMessage(status, msg))
	}
	if c.Get("HX-Request") == "true" {
		// Replace the page body so the alert is seen wherever the request meant to swap.
		c.Set("HX-Retarget", "body")
		c.Set("HX-Reswap", "innerHTML")
	}
	page := views.ErrorPage{Page: views.Page{Title: http.StatusText(status)}, Status: status, Message: msg}
	if sess := session.From(c); sess != nil && sess.UserID() != 0 {
		page.CSRF = sess.CSRFToken()
	}
	return render(c, status, views.ErrorView(page))
}

func sendFailureMessage(status int, msg string) string {
	if status >= 500 {
		return "Your message was not sent: " + lowerFirst(msgDatabaseDown) + " It is still here; send it again."
	}
	return msg
}

func publicMessage(fe *fiber.Error) string {
	switch fe.Code {
	case http.StatusNotFound:
		return "There is nothing here."
	case http.StatusMethodNotAllowed:
		return "That action is not allowed this way."
	case http.StatusRequestEntityTooLarge:
		return "What you sent is too large."
	case http.StatusRequestHeaderFieldsTooLarge:
		return "The request headers are too large."
	}
	if fe.Code >= 500 {
		return "Something went wrong on our side. Please try again."
	}
	return http.StatusText(fe.Code)
}

const msgDatabaseDown = "Messenger cannot reach its database right now. Please try again in a moment."

// databaseDown tells an outage (a 503 the person can wait out) from a bug (a 500).
func (s *Server) databaseDown(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return s.store.Ping(ctx) != nil
}

func (s *Server) healthz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.SendString("ok")
}

func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	if err := s.store.Ping(ctx); err != nil {
		return c.Status(http.StatusServiceUnavailable).SendString("database unreachable")
	}
	return c.SendString("ready")
}
