package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
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
	u.NameKey = models.NameKey(u.FirstName, u.LastName)
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

// NewestUserID is the highest user id (0 with no users): where UsersAfter starts.
func (s *Store) NewestUserID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	err := s.r(ctx).Raw(`SELECT MAX(user_id) FROM users`).Scan(&id).Error
	return id.Int64, wrap("newest user id", err)
}

// UsersAfter returns up to limit enabled users whose id is above id, in id order, and the highest id
// it looked at (id when none is newer): an instance learns of the users another process added
// (messenger user create), which could not tell its sockets.
func (s *Store) UsersAfter(ctx context.Context, id int64, limit int) ([]models.User, int64, error) {
	var users []models.User
	err := s.r(ctx).Where("user_id > ?", id).Order("user_id").Limit(limit).Find(&users).Error
	if err != nil {
		return nil, id, wrap("users after", err)
	}
	if n := len(users); n > 0 {
		id = users[n-1].UserID
	}
	return slices.DeleteFunc(users, func(u models.User) bool { return u.DisabledAt != nil }), id, nil
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
	LastDeletedAt   *time.Time
	Unread          int64
}

// contactsSQL selects the users list in one statement: the viewer's conversation partners, then up to
// @others of everyone else by name, each with the latest message between the pair, the number of their
// messages the viewer has not read (the conversation's counter) and whether they are online. The
// others are a range of the unique username_key index cut at the limit, so a directory of a million
// users costs what one of two hundred does; disabled users are not among them. %[1]s narrows both
// halves (a search, or one user).
const contactsSQL = `
WITH mine AS (
    SELECT c.conversation_id, c.last_message_id,
           CASE WHEN c.user_low_id = @viewer THEN c.user_high_id ELSE c.user_low_id END AS partner_id,
           CASE WHEN c.user_low_id = @viewer THEN c.low_unread ELSE c.high_unread END AS unread
    FROM conversations c
    WHERE c.user_low_id = @viewer OR c.user_high_id = @viewer
), listed AS (
    SELECT mine.partner_id AS user_id, mine.conversation_id, mine.last_message_id, mine.unread FROM mine
    UNION ALL
    SELECT * FROM (
        SELECT u.user_id, CAST(NULL AS BIGINT) AS conversation_id, CAST(NULL AS BIGINT) AS last_message_id,
               CAST(0 AS BIGINT) AS unread
        FROM users u
        WHERE u.user_id <> @viewer AND u.disabled_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM mine WHERE mine.partner_id = u.user_id) %[1]s
        ORDER BY u.username_key LIMIT @others) o
)
SELECT u.*,
       (u.active_until > @now OR EXISTS (
            SELECT 1 FROM presence p JOIN instances i ON i.instance_id = p.instance_id
            WHERE p.user_id = u.user_id AND p.sockets > 0 AND i.heartbeat_at > @fresh)) AS online,
       l.conversation_id,
       m.message_id AS last_message_id, m.message_body AS last_body, m.message_date AS last_date,
       m.sender_user_id AS last_sender_id, m.recipient_user_id AS last_recipient_id, m.unread AS last_unread,
       m.deleted_at AS last_deleted_at,
       l.unread
FROM listed l
JOIN users u ON u.user_id = l.user_id
LEFT JOIN messages m ON m.message_id = l.last_message_id
WHERE u.user_id <> @viewer %[1]s
ORDER BY l.last_message_id DESC NULLS LAST, u.username_key`

// MaxListedOthers is how many people the users list shows besides the viewer's conversations; search
// finds the rest.
const MaxListedOthers = 200

// PresenceFreshness is how recent an instance's heartbeat must be for its sockets to count.
const PresenceFreshness = 45 * time.Second

// Contacts is the users list for viewer: their conversations, latest first, then up to
// MaxListedOthers of everyone else by name. A disabled user is listed only to those who have a
// conversation with them (to read it), never offered as someone to start one with.
func (s *Store) Contacts(ctx context.Context, viewerID int64) ([]models.Contact, error) {
	list, _, err := s.FindContacts(ctx, viewerID, "")
	return list, err
}

// FindContacts is the users list narrowed to the people whose username, first or last name contains
// query, ignoring case and width as models.SearchKey folds it ("" narrows nothing): the viewer's conversations with them first, latest
// first, then up to MaxListedOthers of the others by name. more says others were left out.
func (s *Store) FindContacts(ctx context.Context, viewerID int64, query string) (list []models.Contact, more bool, err error) {
	filter, args := "", []any{}
	if key := models.SearchKey(query); key != "" {
		filter = `AND (u.username_key LIKE @pattern ESCAPE '\' OR u.name_key LIKE @pattern ESCAPE '\')`
		args = append(args, sql.Named("pattern", containsPattern(key)))
	}
	list, err = s.contacts(ctx, viewerID, filter, MaxListedOthers+1, args...)
	if err != nil {
		return nil, false, wrap("find contacts", err)
	}
	others := 0
	for i, c := range list {
		if c.ConversationID == nil {
			if others++; others > MaxListedOthers {
				return slices.Delete(list, i, i+1), true, nil
			}
		}
	}
	return list, false, nil
}

// Contact is the users-list row of one other user, as Contacts would show it.
func (s *Store) Contact(ctx context.Context, viewerID, otherID int64) (models.Contact, error) {
	list, err := s.contacts(ctx, viewerID, "AND u.user_id = @only", 1, sql.Named("only", otherID))
	if err != nil {
		return models.Contact{}, wrap("contact", err)
	}
	if len(list) == 0 {
		return models.Contact{}, wrap("contact", ErrNotFound)
	}
	return list[0], nil
}

func (s *Store) contacts(ctx context.Context, viewerID int64, filter string, others int, filterArgs ...any) ([]models.Contact, error) {
	t := now()
	args := append([]any{sql.Named("viewer", viewerID), sql.Named("now", t), sql.Named("fresh", t.Add(-PresenceFreshness)),
		sql.Named("others", others)}, filterArgs...)
	var rows []contactRow
	if err := s.r(ctx).Raw(fmt.Sprintf(contactsSQL, filter), args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("contacts: %w", err)
	}
	out := make([]models.Contact, len(rows))
	last := make([]*models.Message, 0, len(rows))
	for i, r := range rows {
		out[i] = models.Contact{User: r.User, Online: r.Online, ConversationID: r.ConversationID, Unread: r.Unread}
		if r.LastMessageID != nil {
			out[i].LastMessage = &models.Message{
				MessageID: *r.LastMessageID, ConversationID: *r.ConversationID, MessageBody: deref(r.LastBody),
				MessageDate: deref(r.LastDate), SenderUserID: deref(r.LastSenderID),
				RecipientUserID: deref(r.LastRecipientID), Unread: deref(r.LastUnread), DeletedAt: r.LastDeletedAt,
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
