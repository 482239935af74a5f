package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gofiber/fiber/v2"

	"messenger/handlers/session"
)

const (
	// HeaderRequestID names a request in the logs of the proxy, this server and the answer.
	HeaderRequestID = "X-Request-Id"
	localsLogger    = "messenger.logger"
	// maxRequestID bounds a request id a proxy sends; a longer one is replaced, not cut.
	maxRequestID = 128
	// routeUnmatched is the route of a request no route matched: its path is the client's to choose,
	// so it must not become a log field or a metric label.
	routeUnmatched = "unmatched"
)

// accessLog runs first: it names the request (X-Request-Id, on the request's logger and the answer),
// runs the rest of the chain, turns its error into the answer, then writes one line: method, route
// pattern (never the path, which holds usernames), status, duration, bytes, request id and user id.
// The same observation feeds the request duration metric.
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	id := s.requestID(c)
	c.Set(HeaderRequestID, id)
	log := s.log.With("request_id", id)
	c.Locals(localsLogger, log)
	err := c.Next()
	if err != nil {
		if herr := s.handleError(c, err); herr != nil {
			log.Error("error page not written", "err", herr)
			c.Status(http.StatusInternalServerError)
		}
	}
	elapsed := time.Since(start)
	method, route, status := methodName(c.Method()), routeOf(c, err), c.Response().StatusCode()
	s.metrics.ObserveRequest(method, route, status, elapsed)
	if !log.Enabled(c.UserContext(), slog.LevelInfo) {
		return nil
	}
	attrs := []slog.Attr{
		slog.String("method", method), slog.String("route", route), slog.Int("status", status),
		slog.Duration("duration", elapsed), slog.Int("bytes", responseBytes(c)),
	}
	if user := requestUser(c); user != 0 {
		attrs = append(attrs, slog.Int64("user_id", user))
	}
	log.LogAttrs(c.UserContext(), slog.LevelInfo, "request", attrs...)
	return nil
}

// logFor is the request's logger: its lines carry the request id.
func (s *Server) logFor(c *fiber.Ctx) *slog.Logger {
	if log, ok := c.Locals(localsLogger).(*slog.Logger); ok {
		return log
	}
	return s.log
}

// requestID is the id a trusted proxy gave the request, or a new one. From anyone else the header is
// ignored: a client could otherwise write what it likes into the log, or pose as another request.
func (s *Server) requestID(c *fiber.Ctx) string {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	if s.trustedProxy(peer.Unmap()) {
		if id := c.Get(HeaderRequestID); validRequestID(id) {
			return string([]byte(id)) // Fiber's strings live only as long as the request
		}
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// validRequestID admits what proxies send (UUIDs, hex, Heroku's and Envoy's ids) and nothing that
// could split a log line or smuggle markup into it.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch ch := id[i]; {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9':
		case ch == '-', ch == '_', ch == '.', ch == ':', ch == '+', ch == '/', ch == '=':
		default:
			return false
		}
	}
	return true
}

// routeOf is the pattern of the route that answered (/chat/:username), or routeUnmatched when none
// did: Fiber's last matched route is then a middleware's, and its own answer a 404 or 405 error.
func routeOf(c *fiber.Ctx, err error) string {
	var fe *fiber.Error
	if errors.As(err, &fe) && (fe.Code == http.StatusNotFound || fe.Code == http.StatusMethodNotAllowed) {
		return routeUnmatched
	}
	return c.Route().Path
}

// methodName returns the method as a constant: Fiber's string points into the request's buffer,
// which is reused, and the name outlives the request as a metric label.
func methodName(m string) string {
	for _, known := range knownMethods {
		if m == known {
			return known
		}
	}
	return "other"
}

var knownMethods = []string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch,
	fiber.MethodDelete, fiber.MethodOptions}

// responseBytes is the size of the answer's body. A streamed body (a static file) is not read for it:
// its length is in the header.
func responseBytes(c *fiber.Ctx) int {
	if resp := c.Response(); resp.IsBodyStream() {
		return max(0, resp.Header.ContentLength())
	}
	return len(c.Response().Body())
}

// requestUser is who the request acted as: the signed-in user a route required (still known after a
// logout), else the session's user (after a sign-in, the new one).
func requestUser(c *fiber.Ctx) int64 {
	if id := currentUser(c).UserID; id != 0 {
		return id
	}
	if sess := session.From(c); sess != nil {
		return sess.UserID()
	}
	return 0
}
