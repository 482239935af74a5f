// Package realtime pushes live updates to open WebSockets: a Hub per process
// owns the sockets, and a Broker carries events between instances. What a
// socket shows is decided by its Renderer, so nothing here knows about HTML,
// Fiber or the database schema.
package realtime

import (
	"sync"

	"messenger/models"
)

// Kind says what happened.
type Kind string

const (
	// KindMessage: MessageID, ConversationID, Seq, ActorID = sender; Users = [sender, recipient];
	// SenderUnread and RecipientUnread are each one's unread count in that conversation after it.
	KindMessage Kind = "message"
	// KindChange: a message was edited or deleted. MessageID, ConversationID, Seq (the message's),
	// Change (its change number), Last (it is the conversation's newest), ActorID = sender; Users =
	// [sender, recipient]; SenderUnread and RecipientUnread as for KindMessage.
	KindChange Kind = "change"
	// KindRead: ConversationID, ActorID = reader, MessageID = newest read id; Users = [reader, partner].
	KindRead Kind = "read"
	// KindPresence: Instance's sockets of the users in Up opened, of those in Down closed; Users
	// empty = every connected user.
	KindPresence Kind = "presence"
	// KindTyping: ActorID = typist, ConversationID; Users = [partner].
	KindTyping Kind = "typing"
	// KindUser: ActorID = a user who just registered; Users empty = every connected user.
	KindUser Kind = "user"
	// KindProfile: ActorID = a user whose names changed; Users empty = every connected user.
	KindProfile Kind = "profile"
	// KindSessionEnded: SessionID (the session's hash, never its secret id); every socket of that
	// session is closed (logout, sessions ended by the user, expiry).
	KindSessionEnded Kind = "session_ended"
	// KindResync is never published: the broker delivers it locally when it
	// may have missed events, so every socket should catch up.
	KindResync Kind = "resync"
)

// Event is what crosses instances. The JSON names are short because a
// PostgreSQL notification payload is limited to 8,000 bytes. A new message
// travels with its event when it fits (Carried); otherwise, and for everything
// else an event's fragments show, the ids travel and each instance loads the
// rest once.
type Event struct {
	Kind           Kind    `json:"k"`
	Users          []int64 `json:"u,omitempty"`
	MessageID      int64   `json:"m,omitempty"`
	ConversationID int64   `json:"c,omitempty"`
	// Seq is a message's place in its conversation: a page that already holds it skips the event,
	// a page that holds seq-1 appends it, any other page catches up.
	Seq             int64   `json:"q,omitempty"`
	ActorID         int64   `json:"a,omitempty"`
	SenderUnread    int64   `json:"su,omitempty"`
	RecipientUnread int64   `json:"ru,omitempty"`
	Instance        string  `json:"i,omitempty"`
	Up              []int64 `json:"up,omitempty"`
	Down            []int64 `json:"dn,omitempty"`
	SessionID       string  `json:"s,omitempty"`
	Change          int64   `json:"ch,omitempty"` // KindChange: the change number in its conversation
	Last            bool    `json:"l,omitempty"`  // KindChange: the message is its conversation's newest
	// Carried is a KindMessage event's Message on its way to the other instances, when the payload
	// has room for it (encodeEvent sets it; the receiving broker moves it to Message): they then
	// deliver it without reading it back from the database.
	Carried *models.ExtendedMessage `json:"msg,omitempty"`

	// Filled in by the instance that delivers the event, never published: what its fragments show,
	// loaded once per instance so that no socket has to ask the database.
	Message  *models.ExtendedMessage `json:"-"`
	Sender   *models.User            `json:"-"`
	Receiver *models.User            `json:"-"`
	Actor    *models.User            `json:"-"`
	// ReadIDs are the partner's messages a KindRead event made read (the newest page of them).
	ReadIDs []int64 `json:"-"`
	// Frames is set by Hub.Deliver: every socket of one delivery shares it.
	Frames *Frames `json:"-"`
}

// Frames holds what one delivered event rendered to, by variant (say, the message as its sender
// sees it beside as its recipient sees it): each variant is rendered once, by the first socket that
// needs it, and every other socket writes the same bytes.
type Frames struct {
	mu    sync.Mutex
	byKey map[int][]byte
}

// Get returns the frame of variant key, rendering it first if no socket has yet. The bytes are
// shared: nobody may change them.
func (f *Frames) Get(key int, render func() ([]byte, error)) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.byKey[key]; ok {
		return b, nil
	}
	b, err := render()
	if err != nil {
		return nil, err
	}
	if f.byKey == nil {
		f.byKey = make(map[int][]byte, 4)
	}
	f.byKey[key] = b
	return b, nil
}
