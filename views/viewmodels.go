// Package views renders every page and fragment with templ. The same partials serve full pages, htmx
// fragments and the fragments pushed over the WebSocket.
package views

import (
	"context"
	"io"

	"github.com/a-h/templ"
	"net/url"
	"strconv"
	"time"

	"messenger/models"
)

// Page is what every page's layout needs.
type Page struct {
	Title string
	Me    *models.User // nil when signed out
	CSRF  string
	// Unread is the signed-in user's unread messages over all conversations: the title counts them.
	Unread int64
}

// LoginForm is the sign-in page: what was typed and what went wrong.
type LoginForm struct {
	Page
	Username string
	Error    string
	// Registration is "open", "invite" or "closed": whether and how the page offers to create an account.
	Registration string
}

// RegisterForm is the sign-up page.
type RegisterForm struct {
	Page
	FirstName string
	LastName  string
	Gender    models.Gender
	Username  string
	Errors    models.FieldErrors
	Error     string
	Invite    string // the invitation token the form carries (REGISTRATION=invite)
}

// Shell is the signed-in screen: the users list and, when one is open, a conversation.
type Shell struct {
	Page
	People
	Chat   *Chat
	Search *Search // the message search, when the main area shows it
}

// Search is a message search and a page of what it found.
type Search struct {
	Query string
	Terms []string // the words searched for; none when the query has none
	Hits  []models.SearchHit
	More  bool // older hits exist: the next page starts before the last one
}

// SearchURL is the message search for q, from the newest hit (before 0) or before a message.
func SearchURL(q string, before int64) string {
	v := url.Values{"q": {q}}
	if before > 0 {
		v.Set("before", strconv.FormatInt(before, 10))
	}
	return "/search?" + v.Encode()
}

// ChatAtURL opens a conversation around one of its messages.
func ChatAtURL(username string, messageID int64) string {
	return ChatURL(username) + "?at=" + strconv.FormatInt(messageID, 10)
}

// People is the users list: the contacts shown, the search that narrowed them ("" for none) and
// whether more people exist than it lists.
type People struct {
	Contacts []models.Contact
	Query    string
	More     bool
}

// Chat is one open conversation.
type Chat struct {
	Me       models.User
	Partner  models.Contact
	Messages []models.ExtendedMessage
	HasOlder bool
	LastSeq  int64 // the newest seq shown; the socket catches up from here
	Composer Composer
	// Focus is the message the conversation was opened at (?at=), 0 for none; NewerAfter, when not 0,
	// is the last message shown before newer ones that a loader fetches.
	Focus      int64
	NewerAfter int64
	// LastChange is the conversation's newest edit or deletion the page shows; the socket catches up
	// on changes from here.
	LastChange int64
}

// Composer is the message form: what was typed, the client id that makes a retry idempotent, an error.
type Composer struct {
	Partner  string // username the form posts to
	Body     string
	ClientID string
	Error    string
	CSRF     string
	// ReplyTo is the message the new one answers, nil for none; its quote may be missing when the
	// composer comes back alone after a failed send.
	ReplyTo *models.Quote
}

// EditForm edits one of the user's messages (or asks before deleting it): what was typed, what is wrong.
type EditForm struct {
	Partner   string // the username the message was sent to
	MessageID int64
	Body      string
	Error     string
	CSRF      string
}

// OlderPage is a run of older messages: a fragment for htmx, a page of its own without JavaScript.
type OlderPage struct {
	Page
	Me       models.User
	Partner  models.User
	Messages []models.ExtendedMessage
	HasOlder bool
	// Newer: the messages are the run after a message (a conversation opened at a search hit), and
	// HasNewer says whether more follow.
	Newer    bool
	HasNewer bool
}

// ErrorPage is a page that explains what went wrong.
type ErrorPage struct {
	Page
	Status  int
	Message string
}

// ChatURL is the conversation page of a username.
func ChatURL(username string) string { return "/chat/" + url.PathEscape(username) }

// MessagesURL is where a conversation's messages are posted and paged.
func MessagesURL(username string) string { return ChatURL(username) + "/messages" }

// OlderURL pages back before a message.
func OlderURL(username string, beforeID int64) string {
	return MessagesURL(username) + "?before=" + strconv.FormatInt(beforeID, 10)
}

// NewerURL pages forward after a message.
func NewerURL(username string, afterID int64) string {
	return MessagesURL(username) + "?after=" + strconv.FormatInt(afterID, 10)
}

// NewerID is the newer-messages loader of a conversation.
func NewerID(a, b int64) string { return "newer-" + PairKey(a, b) }

// MessageURL is one message of a conversation.
func MessageURL(username string, id int64) string {
	return MessagesURL(username) + "/" + strconv.FormatInt(id, 10)
}

// EditURL edits a message (GET: the form, POST: the change).
func EditURL(username string, id int64) string { return MessageURL(username, id) + "/edit" }

// DeleteURL deletes a message (GET: the confirmation, POST: the deletion).
func DeleteURL(username string, id int64) string { return MessageURL(username, id) + "/delete" }

// ReplyURL opens a conversation with the composer answering a message (without JavaScript).
func ReplyURL(username string, id int64) string {
	return ChatURL(username) + "?reply_to=" + strconv.FormatInt(id, 10) + "#composer"
}

// PairKey names a conversation the same way from both sides, so out-of-band targets of one
// conversation can never match another.
func PairKey(a, b int64) string {
	if a > b {
		a, b = b, a
	}
	return strconv.FormatInt(a, 10) + "-" + strconv.FormatInt(b, 10)
}

// LiveID is the element live messages of a conversation are appended to.
func LiveID(a, b int64) string { return "live-" + PairKey(a, b) }

// MessageDOMID is a message element's id.
func MessageDOMID(id int64) string { return "m-" + strconv.FormatInt(id, 10) }

// UserRowID is a users-list row's id.
func UserRowID(id int64) string { return "user-" + strconv.FormatInt(id, 10) }

// UnreadID is the unread badge of a users-list row.
func UnreadID(id int64) string { return "unread-" + strconv.FormatInt(id, 10) }

// DotSelector is the out-of-band target of every presence dot of a user.
func DotSelector(id int64) string { return "outerHTML:[data-dot='" + strconv.FormatInt(id, 10) + "']" }

// OlderID is the older-messages loader of a conversation.
func OlderID(a, b int64) string { return "older-" + PairKey(a, b) }

func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// recentTime is how long shortTime leaves out the day.
const recentTime = 20 * time.Hour

// shortTime is shown before the browser's script (if any) rewrites it in local time.
func shortTime(t time.Time) string {
	t = t.UTC()
	if time.Since(t) < recentTime {
		return t.Format("15:04") + " UTC"
	}
	return t.Format("2 Jan 15:04") + " UTC"
}

func preview(c models.Contact, me int64) string {
	if c.LastMessage == nil {
		return "No messages yet"
	}
	if c.LastMessage.DeletedAt != nil {
		return "Message deleted"
	}
	body := cutRunes(attachmentPreview(c.LastMessage), 80)
	if c.LastMessage.SenderUserID == me {
		return "You: " + body
	}
	return body
}

// cutRunes is s cut after n characters, with "…" when something was cut.
func cutRunes(s string, n int) string {
	i := 0
	for at := range s {
		if i == n {
			return s[:at] + "…"
		}
		i++
	}
	return s
}

func initials(u models.User) string {
	var out []rune
	for _, s := range []string{u.FirstName, u.LastName} {
		if r := []rune(s); len(r) > 0 {
			out = append(out, r[0])
		}
	}
	if len(out) == 0 {
		out = []rune(u.Username)[:1]
	}
	return string(out)
}

func unreadText(n int64) string {
	if n > 99 {
		return "99+"
	}
	return strconv.FormatInt(n, 10)
}

// Settings is the account page: one form per section, each with its own outcome.
type Settings struct {
	Page
	Profile  ProfileForm
	Password PasswordForm
	Sessions SessionsForm
}

// ProfileForm holds the names and gender as typed, what is wrong with them, or that they were saved.
type ProfileForm struct {
	CSRF      string
	FirstName string
	LastName  string
	Gender    models.Gender
	Errors    models.FieldErrors
	Error     string
	Saved     bool
}

// PasswordForm is the change-password form; passwords are never sent back into it.
type PasswordForm struct {
	CSRF   string
	Errors models.FieldErrors
	Error  string
	Saved  bool
}

// SessionsForm offers to sign out everywhere else.
type SessionsForm struct {
	CSRF   string
	Others int64 // live sessions of the user besides this one
	Ended  bool  // the others were just signed out
}

func otherSessionsText(n int64) string {
	switch n {
	case 0:
		return "You are signed in only here."
	case 1:
		return "You are also signed in on 1 other browser or device."
	}
	return "You are also signed in on " + strconv.FormatInt(n, 10) + " other browsers or devices."
}

type focusKey struct{}

// focusOn renders its children with one message marked as the one a conversation was opened at
// (data-focus), so that MessageItem keeps one signature for every page and fragment.
func focusOn(messageID int64) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		children := templ.GetChildren(ctx)
		return children.Render(context.WithValue(templ.ClearChildren(ctx), focusKey{}, messageID), w)
	})
}

func focused(ctx context.Context, messageID int64) bool {
	id, _ := ctx.Value(focusKey{}).(int64)
	return id != 0 && id == messageID
}

// unreadPrefix starts the title of a page while messages are unread: "(3) ".
func unreadPrefix(n int64) string {
	if n <= 0 {
		return ""
	}
	return "(" + strconv.FormatInt(n, 10) + ") "
}
