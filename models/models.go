// Package models holds the data shapes of the original design (User, Message, ExtendedMessage) and the
// plain rules that apply to them. It does no I/O.
package models

import "time"

// Gender values as the registration form sends them.
type Gender int16

const (
	GenderUnspecified Gender = 0
	GenderFemale      Gender = 1
	GenderMale        Gender = 2
	GenderOther       Gender = 3
)

// Valid reports whether g is one of the four known values.
func (g Gender) Valid() bool { return g >= GenderUnspecified && g <= GenderOther }

// Label is how the gender reads in the interface.
func (g Gender) Label() string {
	switch g {
	case GenderFemale:
		return "Female"
	case GenderMale:
		return "Male"
	case GenderOther:
		return "Other"
	default:
		return "Prefer not to say"
	}
}

// User is a registered person. Password holds an argon2id hash, never the password itself.
type User struct {
	UserID      int64 `gorm:"primaryKey"`
	FirstName   string
	LastName    string
	Gender      Gender
	Username    string
	UsernameKey string // NFKC + case fold of Username: what uniqueness and look-ups compare
	// UsernameSkeleton is the confusables skeleton of UsernameKey: look-alike names share it.
	UsernameSkeleton string
	// NameKey is the first and last name folded like UsernameKey, a line apart: what people search
	// compares.
	NameKey     string
	Password    string
	CreatedAt   time.Time
	LastSeenAt  *time.Time
	ActiveUntil *time.Time // online without a socket (plain-HTML use) until this instant
	DisabledAt  *time.Time // set while an administrator has disabled the account
}

// FullName is the name shown next to the username.
func (u User) FullName() string {
	switch {
	case u.FirstName == "":
		return u.LastName
	case u.LastName == "":
		return u.FirstName
	}
	return u.FirstName + " " + u.LastName
}

// Conversation is the pair of users who talk; Seq numbers its messages in commit order.
type Conversation struct {
	ConversationID int64 `gorm:"primaryKey"`
	UserLowID      int64
	UserHighID     int64
	LastSeq        int64
	LastMessageID  *int64
	LastMessageAt  *time.Time
}

// Message is one message of the original design. Seq orders it within its conversation: it is assigned
// under the conversation's row lock, so a later Seq always committed later.
type Message struct {
	MessageID       int64 `gorm:"primaryKey"`
	ConversationID  int64
	Seq             int64
	MessageDate     time.Time
	MessageBody     string
	SenderUserID    int64
	RecipientUserID int64
	Unread          bool
	ClientID        *string
	EditedAt        *time.Time // the latest edit, nil when never edited
	DeletedAt       *time.Time // when deleted; the body is empty from then on
	// ChangeSeq is the conversation's change number of the latest edit or deletion (0: none): pages
	// catch up on changes by it, as on new messages by Seq.
	ChangeSeq int64
	ReplyToID *int64 // the message of the same conversation this one answers
	// Attachment is the message's file, if any: a row of its own, loaded with the message.
	Attachment *Attachment `gorm:"-"`
}

// ExtendedMessage is a message joined with both usernames, as the original design names it.
type ExtendedMessage struct {
	Message
	SenderUsername    string
	RecipientUsername string
	// SenderUnread and RecipientUnread are each one's unread count in the conversation right after the
	// message was stored: set by Store.SendMessage from the counters its transaction keeps, zero when
	// the message was read back from the database.
	SenderUnread    int64 `gorm:"-"`
	RecipientUnread int64 `gorm:"-"`
	// ReplyTo quotes the message this one answers (ReplyToID), when loaded.
	ReplyTo *Quote `gorm:"-"`
}

// QuoteLen is how many characters of a message a reply quotes.
const QuoteLen = 100

// Quote is the start of a message that another one answers: who wrote it and its first QuoteLen
// characters (Body may hold one more, to tell that it goes on), or that it was deleted.
type Quote struct {
	MessageID      int64
	SenderUsername string
	Body           string
	Deleted        bool
}

// ClientIDValue is the client id or "" when none was given.
func (m Message) ClientIDValue() string {
	if m.ClientID == nil {
		return ""
	}
	return *m.ClientID
}

// Session is a signed-in server-side session. The cookie carries its signed id; the row is stored
// under the id's SHA-256 (IDHash), which is also the name sockets and events use for it.
type Session struct {
	IDHash       string `gorm:"primaryKey"`
	UserID       int64
	CSRFToken    string `gorm:"column:csrf_token"`
	CreatedAt    time.Time
	LastActiveAt time.Time
	ExpiresAt    time.Time
}

// Contact is one row of the users list: another user, the latest message between the two and how many
// of their messages the viewer has not read.
type Contact struct {
	User
	Online         bool
	ConversationID *int64
	LastMessage    *Message
	Unread         int64
	Muted          bool // the viewer muted this conversation: no notification, no sound
}
