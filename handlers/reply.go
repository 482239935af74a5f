package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"messenger/models"
	"messenger/models/store"
)

// Replies: a send (form field or frame field reply_to) may name a message of the same conversation
// it answers; the new message quotes its start. Anything else is refused with nothing stored.

var errBadReply = errorf(http.StatusBadRequest, "The message you are replying to is not in this conversation. Pick it again, or send without the reply.")

// replyTarget checks what a send between users a and b answers: "" is nothing; anything else must
// be the id of a message between the two (either way, deleted or not).
func (s *Server) replyTarget(ctx context.Context, a, b int64, raw string) (*models.Quote, error) {
	id, ok := replyID(raw)
	if !ok {
		return nil, errBadReply
	}
	if id == 0 {
		return nil, nil
	}
	q, err := s.store.QuoteInConversation(ctx, a, b, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errBadReply
	}
	if err != nil {
		return nil, err
	}
	return &q, nil
}

// replyID reads a reply_to value: 0 for none, false when it is no message id at all.
func replyID(raw string) (int64, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return 0, true
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	return id, err == nil && id > 0
}

// composerReply is the reply a composer shown again keeps: the one its form (or the page's
// reply_to query, without JavaScript) named, unless that was what went wrong. The conversation
// page checks it and fills in its quote.
func composerReply(c *fiber.Ctx, status int) *models.Quote {
	raw := c.FormValue("reply_to")
	if c.Method() == fiber.MethodGet {
		raw = c.Query("reply_to")
	}
	id, ok := replyID(raw)
	if !ok || id == 0 || status == http.StatusBadRequest {
		return nil
	}
	return &models.Quote{MessageID: id}
}

// quoteForComposer fills in the quote of the reply a composer holds, or drops a reply to anything
// but a message of this conversation.
func (s *Server) quoteForComposer(ctx context.Context, me, partner int64, reply *models.Quote) (*models.Quote, error) {
	if reply == nil {
		return nil, nil
	}
	q, err := s.store.QuoteInConversation(ctx, me, partner, reply.MessageID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &q, nil
}
