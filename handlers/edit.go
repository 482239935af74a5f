package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"messenger/handlers/session"
	"messenger/models"
	"messenger/models/store"
	"messenger/views"
)

// Edits and deletions of a user's own messages. A message that is not the user's, not to the partner
// of the URL, or not there at all is the same 404: nobody learns whether someone else's message
// exists. Editing a deleted message is 409; deleting it again shows it as it is.

var errNoSuchMessage = errorf(http.StatusNotFound, "There is no such message of yours in this conversation.")

// messageTarget reads the partner and the message id of /chat/:username/messages/:id.
func (s *Server) messageTarget(c *fiber.Ctx) (models.User, int64, error) {
	me := currentUser(c)
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	name := strings.Clone(c.Params("username"))
	if err != nil || id <= 0 || !utf8Valid(name) || len(name) > 4*models.UsernameMaxLen {
		return models.User{}, 0, errNoSuchMessage
	}
	partner, err := s.users.byUsername(c.UserContext(), s.store, name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && partner.UserID == me.UserID) {
		return models.User{}, 0, errNoSuchMessage
	}
	return partner, id, err
}

// changeTarget is messageTarget for an edit or a deletion, which wait for the user's send budget
// like a send: each is a write and a live event.
func (s *Server) changeTarget(c *fiber.Ctx) (models.User, models.User, int64, error) {
	me := currentUser(c)
	if err := s.flow.waitSend(c, me.UserID); err != nil {
		return me, models.User{}, 0, err
	}
	partner, id, err := s.messageTarget(c)
	return me, partner, id, err
}

// conversationMessage is a message of the conversation between the user and the URL's partner; when
// own is set, one the user sent.
func (s *Server) conversationMessage(c *fiber.Ctx, own bool) (models.User, models.ExtendedMessage, error) {
	partner, id, err := s.messageTarget(c)
	if err != nil {
		return partner, models.ExtendedMessage{}, err
	}
	me := currentUser(c).UserID
	m, err := s.store.MessageByID(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		return partner, m, errNoSuchMessage
	}
	if err != nil {
		return partner, m, err
	}
	mine := m.SenderUserID == me && m.RecipientUserID == partner.UserID
	theirs := m.SenderUserID == partner.UserID && m.RecipientUserID == me
	if !mine && (own || !theirs) {
		return partner, models.ExtendedMessage{}, errNoSuchMessage
	}
	return partner, m, nil
}

// showMessage answers one message: the fragment for htmx (an edit cancelled), else the conversation
// at that message.
func (s *Server) showMessage(c *fiber.Ctx) error {
	partner, m, err := s.conversationMessage(c, false)
	if err != nil {
		return err
	}
	if isFragmentRequest(c) {
		return render(c, http.StatusOK, views.MessageItem(currentUser(c).UserID, m))
	}
	return c.Redirect(views.ChatURL(partner.Username)+"#"+views.MessageDOMID(m.MessageID), http.StatusSeeOther)
}

func (s *Server) editForm(c *fiber.Ctx, partner models.User, m models.ExtendedMessage) views.EditForm {
	return views.EditForm{Partner: partner.Username, MessageID: m.MessageID, Body: m.MessageBody, CSRF: session.From(c).CSRFToken()}
}

// editPage shows the edit form: in place for htmx, a page without JavaScript.
func (s *Server) editPage(c *fiber.Ctx) error {
	partner, m, err := s.conversationMessage(c, true)
	if err != nil {
		return err
	}
	if m.DeletedAt != nil {
		return errMessageDeleted
	}
	return s.renderEditForm(c, http.StatusOK, s.editForm(c, partner, m))
}

var errMessageDeleted = errorf(http.StatusConflict, "This message was deleted, so it can no longer be edited.")

func (s *Server) renderEditForm(c *fiber.Ctx, status int, f views.EditForm) error {
	if isFragmentRequest(c) {
		return render(c, status, views.EditMessageForm(f))
	}
	return render(c, status, views.EditMessagePage(s.page(c, "Edit message"), f))
}

// editMessage changes a message's text, validated like a send; a refused text comes back in the form.
func (s *Server) editMessage(c *fiber.Ctx) error {
	me, partner, id, err := s.changeTarget(c)
	if err != nil {
		return err
	}
	raw := strings.Clone(c.FormValue("body"))
	body, reason := models.CleanBody(raw)
	if reason != "" {
		if !utf8Valid(raw) {
			raw = ""
		}
		f := views.EditForm{Partner: partner.Username, MessageID: id, Body: raw, Error: reason, CSRF: session.From(c).CSRFToken()}
		return s.renderEditForm(c, http.StatusUnprocessableEntity, f)
	}
	ch, err := s.store.EditMessage(c.UserContext(), me.UserID, partner.UserID, id, body)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNoSuchMessage
	case errors.Is(err, store.ErrConflict):
		return errMessageDeleted
	case err != nil:
		return err
	}
	s.publishChange(c.UserContext(), ch, me, partner)
	return s.changed(c, partner, ch.Message)
}

// deletePage asks before deleting, for browsers without JavaScript.
func (s *Server) deletePage(c *fiber.Ctx) error {
	partner, m, err := s.conversationMessage(c, true)
	if err != nil {
		return err
	}
	if m.DeletedAt != nil {
		return c.Redirect(views.ChatURL(partner.Username)+"#"+views.MessageDOMID(m.MessageID), http.StatusSeeOther)
	}
	return render(c, http.StatusOK, views.DeleteMessagePage(s.page(c, "Delete message"), s.editForm(c, partner, m)))
}

// deleteMessage deletes a message; a second delete (a form sent twice) shows it deleted, as the first.
func (s *Server) deleteMessage(c *fiber.Ctx) error {
	me, partner, id, err := s.changeTarget(c)
	if err != nil {
		return err
	}
	ch, err := s.store.DeleteMessage(c.UserContext(), me.UserID, partner.UserID, id)
	if errors.Is(err, store.ErrConflict) {
		var m models.ExtendedMessage
		if partner, m, err = s.conversationMessage(c, true); err != nil {
			return err
		}
		return s.changed(c, partner, m)
	}
	if errors.Is(err, store.ErrNotFound) {
		return errNoSuchMessage
	}
	if err != nil {
		return err
	}
	s.publishChange(c.UserContext(), ch, me, partner)
	// The message is deleted whatever happens to its file; a failure here keeps the file for the two people
	// and is logged.
	if err := s.removeAttachment(c.UserContext(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.logFor(c).Warn("deleting a message's attachment", "message_id", id, "error", err)
	}
	return s.changed(c, partner, ch.Message)
}

// changed answers an edit or a deletion: the message as it is now for htmx, else back to it.
func (s *Server) changed(c *fiber.Ctx, partner models.User, m models.ExtendedMessage) error {
	if isFragmentRequest(c) {
		return render(c, http.StatusOK, views.MessageItem(currentUser(c).UserID, m))
	}
	return c.Redirect(views.ChatURL(partner.Username)+"#"+views.MessageDOMID(m.MessageID), http.StatusSeeOther)
}
