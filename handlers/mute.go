package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"messenger/handlers/session"
	"messenger/models"
	"messenger/models/store"
	"messenger/views"
)

func (s *Server) mute(c *fiber.Ctx) error   { return s.setMuted(c, true) }
func (s *Server) unmute(c *fiber.Ctx) error { return s.setMuted(c, false) }

// setMuted mutes or unmutes the signed-in user's conversation with the URL's user, for them alone.
// Without JavaScript the form redirects back to the conversation; htmx gets the toggle and the
// users-list mark in their new state.
func (s *Server) setMuted(c *fiber.Ctx, muted bool) error {
	me := currentUser(c)
	name := strings.Clone(c.Params("username"))
	if !utf8Valid(name) || len(name) > 4*models.UsernameMaxLen {
		return errorf(http.StatusNotFound, "There is no user by that name.")
	}
	partner, err := s.users.byUsername(c.UserContext(), s.store, name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && partner.UserID == me.UserID) {
		return errorf(http.StatusNotFound, "There is no user by that name.")
	}
	if err != nil {
		return err
	}
	if err := s.store.SetMuted(c.UserContext(), me.UserID, partner.UserID, muted); err != nil {
		return err
	}
	if isFragmentRequest(c) {
		return render(c, http.StatusOK, views.MuteChanged(models.Contact{User: partner, Muted: muted}, session.From(c).CSRFToken()))
	}
	return c.Redirect(views.ChatURL(partner.Username), http.StatusSeeOther)
}

// markMuted flags the contacts whose conversation viewer muted.
func (s *Server) markMuted(ctx context.Context, viewerID int64, contacts []models.Contact) error {
	muted, err := s.store.MutedPartners(ctx, viewerID)
	if err != nil {
		return err
	}
	for i := range contacts {
		contacts[i].Muted = muted[contacts[i].UserID]
	}
	return nil
}
