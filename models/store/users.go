package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"gorm.io/gorm"

	"messenger/models"
)

// CreateUser inserts u and sets its id. A username whose key or look-alike skeleton is taken yields
// ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u *models.User) error {
	return wrap("create user", createUser(s.q(ctx), u))
}

func createUser(tx *gorm.DB, u *models.User) error {
	u.UsernameKey = models.UsernameKey(u.Username)
	u.UsernameSkeleton = models.UsernameSkeleton(u.Username)
	u.CreatedAt = now()
	return tx.Create(u).Error
}

// UserByUsername finds a user by username, ignoring case and width.
func (s *Store) UserByUsername(ctx context.Context, username string) (models.User, error) {
	var u models.User
	err := s.r(ctx).Where("username_key = ?", models.UsernameKey(username)).Take(&u).Error
	return u, wrap("user by username", err)
}

// UserByID finds a user by id.
func (s *Store) UserByID(ctx context.Context, id int64) (models.User, error) {
	var u models.User
	err := s.r(ctx).Where("user_id = ?", id).Take(&u).Error
	return u, wrap("user by id", err)
}

// TouchUser records activity: last seen now, online without a socket until activeUntil.
func (s *Store) TouchUser(ctx context.Context, userID int64, activeUntil time.Time) error {
	err := s.q(ctx).Model(&models.User{}).Where("user_id = ?", userID).
		Updates(map[string]any{"last_seen_at": now(), "active_until": activeUntil.UTC()}).Error // UTC: see SaveSession
	return wrap("touch user", err)
}

// SignOffUser ends the plain-HTML online window (at logout).
func (s *Store) SignOffUser(ctx context.Context, userID int64) error {
	err := s.q(ctx).Model(&models.User{}).Where("user_id = ?", userID).
		Updates(map[string]any{"last_seen_at": now(), "active_until": nil}).Error
	return wrap("sign off user", err)
}

// contactRow is the flat shape of one users-list row as the query returns it.
type contactRow struct {
	models.User
	Online          bool
	ConversationID  *int64
	LastMessageID   *int64
	LastBody        *string
	LastDate        *time.Time
	LastSenderID    *int64
	LastRecipientID *int64
	LastUnread      *bool
	Unread          int64
}

// contactsSQL selects every other user with the latest message between the pair, the number of their
// messages the viewer has not read and whether they are online, in one statement. The correlated
// count uses the partial index on unread messages.
const contactsSQL = `
SELECT u.*,
       (u.active_until > @now OR EXISTS (
            SELECT 1 FROM presence p JOIN instances i ON i.instance_id = p.instance_id
            WHERE p.user_id = u.user_id AND p.sockets > 0 AND i.heartbeat_at > @fresh)) AS online,
       c.conversation_id,
       m.message_id AS last_message_id, m.message_body AS last_body, m.message_date AS last_date,
       m.sender_user_id AS last_sender_id, m.recipient_user_id AS last_recipient_id, m.unread AS last_unread,
       (SELECT COUNT(*) FROM messages um
         WHERE um.recipient_user_id = @viewer AND um.sender_user_id = u.user_id AND um.unread) AS unread
FROM users u
LEFT JOIN conversations c
       ON (c.user_low_id = @viewer AND c.user_high_id = u.user_id)
       OR (c.user_high_id = @viewer AND c.user_low_id = u.user_id)
LEFT JOIN messages m ON m.message_id = c.last_message_id
WHERE u.user_id <> @viewer %s
ORDER BY c.last_message_id DESC NULLS LAST, u.username_key`

// PresenceFreshness is how recent an instance's heartbeat must be for its sockets to count.
const PresenceFreshness = 45 * time.Second

// Contacts is the users list for viewer: everyone else, latest conversation first, then by name.
func (s *Store) Contacts(ctx context.Context, viewerID int64) ([]models.Contact, error) {
	return s.contacts(ctx, viewerID, 0)
}

// Contact is the users-list row of one other user, as Contacts would show it.
func (s *Store) Contact(ctx context.Context, viewerID, otherID int64) (models.Contact, error) {
	list, err := s.contacts(ctx, viewerID, otherID)
	if err != nil {
		return models.Contact{}, err
	}
	if len(list) == 0 {
		return models.Contact{}, wrap("contact", ErrNotFound)
	}
	return list[0], nil
}

func (s *Store) contacts(ctx context.Context, viewerID, onlyID int64) ([]models.Contact, error) {
	filter := ""
	t := now()
	args := []any{sql.Named("viewer", viewerID), sql.Named("now", t), sql.Named("fresh", t.Add(-PresenceFreshness))}
	if onlyID != 0 {
		filter = "AND u.user_id = @only"
		args = append(args, sql.Named("only", onlyID))
	}
	var rows []contactRow
	if err := s.r(ctx).Raw(fmt.Sprintf(contactsSQL, filter), args...).Scan(&rows).Error; err != nil {
		return nil, wrap("contacts", err)
	}
	out := make([]models.Contact, len(rows))
	last := make([]*models.Message, 0, len(rows))
	for i, r := range rows {
		out[i] = models.Contact{User: r.User, Online: r.Online, ConversationID: r.ConversationID, Unread: r.Unread}
		if r.LastMessageID != nil {
			out[i].LastMessage = &models.Message{
				MessageID: *r.LastMessageID, ConversationID: *r.ConversationID, MessageBody: deref(r.LastBody),
				MessageDate: deref(r.LastDate), SenderUserID: deref(r.LastSenderID),
				RecipientUserID: deref(r.LastRecipientID), Unread: deref(r.LastUnread),
			}
			last = append(last, out[i].LastMessage)
		}
	}
	return out, s.withAttachments(ctx, last...)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
