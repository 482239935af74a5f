package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"messenger/models"
)

// Why an invitation cannot be used (an unknown token is ErrNotFound).
var (
	ErrInviteUsed    = errors.New("invitation already used")
	ErrInviteExpired = errors.New("invitation expired")
)

// invite is a row of the invites table; the token itself is never stored.
type invite struct {
	TokenHash string `gorm:"primaryKey"`
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
	UsedBy    *int64
}

func (invite) TableName() string { return "invites" }

// inviteHash is how an invitation token is stored and looked up: its SHA-256, in hex.
func inviteHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateInvite makes a single-use invitation valid for ttl and returns its token, which exists only in
// the link given to the invited person.
func (s *Store) CreateInvite(ctx context.Context, ttl time.Duration) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("store: create invite: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	t := now()
	row := invite{TokenHash: inviteHash(token), CreatedAt: t, ExpiresAt: t.Add(ttl)}
	if err := s.q(ctx).Create(&row).Error; err != nil {
		return "", wrap("create invite", err)
	}
	return token, nil
}

// InviteKeep is how long an invitation's row outlives its expiry, so that a late click is still told
// "expired" (or "already used") rather than "not valid".
const InviteKeep = 30 * 24 * time.Hour

// DeleteOldInvites removes invitations that expired more than InviteKeep ago, used or not, and
// returns how many.
func (s *Store) DeleteOldInvites(ctx context.Context) (int64, error) {
	res := s.q(ctx).Exec(`DELETE FROM invites WHERE expires_at < ?`, now().Add(-InviteKeep))
	return res.RowsAffected, wrap("delete old invites", res.Error)
}

// CheckInvite reports whether a token can still be used: nil, ErrNotFound, ErrInviteUsed or
// ErrInviteExpired. Only CreateUserWithInvite spends it.
func (s *Store) CheckInvite(ctx context.Context, token string) error {
	return wrap("check invite", checkInvite(s.r(ctx), token))
}

func checkInvite(tx *gorm.DB, token string) error {
	var row invite
	if err := tx.Where("token_hash = ?", inviteHash(token)).Take(&row).Error; err != nil {
		return err
	}
	switch {
	case row.UsedAt != nil:
		return ErrInviteUsed
	case !row.ExpiresAt.After(now()):
		return ErrInviteExpired
	}
	return nil
}

// CreateUserWithInvite creates u and spends the invitation in one transaction: of two registrations
// with one token exactly one succeeds. Errors: those of CheckInvite for a token that cannot be used,
// ErrConflict for a taken username (the invitation is then left unused).
func (s *Store) CreateUserWithInvite(ctx context.Context, u *models.User, token string) error {
	err := s.q(ctx).Transaction(func(tx *gorm.DB) error {
		if err := createUser(tx, u); err != nil {
			return err
		}
		// The conditional update is the single use: a concurrent transaction that spent the token first
		// leaves nothing to update here (PostgreSQL re-checks the row after waiting for its lock; SQLite
		// runs one writer at a time).
		res := tx.Model(&invite{}).Where("token_hash = ? AND used_at IS NULL AND expires_at > ?", inviteHash(token), now()).
			Updates(map[string]any{"used_at": now(), "used_by": u.UserID})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			if err := checkInvite(tx, token); err != nil {
				return err
			}
			return ErrInviteUsed
		}
		return nil
	})
	if err != nil {
		u.UserID = 0
	}
	return wrap("create user with invite", err)
}
