package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"messenger/models"
	"messenger/models/store"
)

// Registration says who may create an account (REGISTRATION).
type Registration string

const (
	// RegistrationOpen lets anyone register (the default).
	RegistrationOpen Registration = "open"
	// RegistrationInvite lets in only holders of an unused, unexpired invitation (`messenger invite`).
	RegistrationInvite Registration = "invite"
	// RegistrationClosed lets nobody register.
	RegistrationClosed Registration = "closed"
)

// ParseRegistration reads REGISTRATION; empty means open.
func ParseRegistration(raw string) (Registration, error) {
	switch r := Registration(strings.ToLower(strings.TrimSpace(raw))); r {
	case "":
		return RegistrationOpen, nil
	case RegistrationOpen, RegistrationInvite, RegistrationClosed:
		return r, nil
	}
	return "", fmt.Errorf("REGISTRATION must be open, invite or closed, not %q", raw)
}

const (
	msgRegistrationClosed = "Registration is closed on this Messenger. Ask whoever runs it to create an account for you."
	msgInviteMissing      = "Registration is by invitation only. Open the invitation link you were sent, or ask whoever runs this Messenger for one."
	msgInviteUnknown      = "This invitation link is not valid. Check that you copied all of it, or ask for a new one."
	msgInviteUsed         = "This invitation link has already been used. Ask for a new one."
	msgInviteExpired      = "This invitation link has expired. Ask for a new one."
)

// registrationAllowed checks the registration mode before a registration form is shown or taken. It
// returns the invitation token the form must carry ("" unless REGISTRATION=invite), or a 403 that
// says why registration is refused.
func (s *Server) registrationAllowed(c *fiber.Ctx) (string, error) {
	switch s.regMode {
	case RegistrationClosed:
		return "", errorf(http.StatusForbidden, msgRegistrationClosed)
	case RegistrationInvite:
		token := strings.Clone(c.FormValue("invite"))
		if token == "" {
			return "", errorf(http.StatusForbidden, msgInviteMissing)
		}
		if err := s.store.CheckInvite(c.UserContext(), token); err != nil {
			return "", inviteError(err)
		}
		return token, nil
	}
	return "", nil
}

// inviteError turns the store's reason an invitation cannot be used into words for its holder.
func inviteError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusForbidden, msgInviteUnknown)
	case errors.Is(err, store.ErrInviteUsed):
		return errorf(http.StatusForbidden, msgInviteUsed)
	case errors.Is(err, store.ErrInviteExpired):
		return errorf(http.StatusForbidden, msgInviteExpired)
	}
	return err
}

// createUser stores a new account, spending the invitation in the same transaction when there is one.
func (s *Server) createUser(ctx context.Context, u *models.User, invite string) error {
	if invite == "" {
		return s.store.CreateUser(ctx, u)
	}
	return inviteError(s.store.CreateUserWithInvite(ctx, u, invite))
}
