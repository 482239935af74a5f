// Package realtime pushes live updates to open WebSockets: a Hub per process
// owns the sockets, and a Broker carries events between instances. Events
// carry ids only; what a socket shows is decided by its Renderer, so nothing
// here knows about HTML, Fiber or the database schema.
package realtime

// Kind says what happened.
type Kind string

const (
	// KindMessage: MessageID, ConversationID, ActorID = sender; Users = [sender, recipient].
	KindMessage Kind = "message"
	// KindRead: ConversationID, ActorID = reader, MessageID = newest read id; Users = [reader, partner].
	KindRead Kind = "read"
	// KindPresence: ActorID = user whose presence changed, Online; Users empty = every connected user.
	KindPresence Kind = "presence"
	// KindTyping: ActorID = typist, ConversationID; Users = [partner].
	KindTyping Kind = "typing"
	// KindSessionEnded: SessionID (the session's hash, never its secret id); every socket of that
	// session is closed (logout, sessions ended by the user, expiry).
	KindSessionEnded Kind = "session_ended"
	// KindResync is never published: the broker delivers it locally when it
	// may have missed events, so every socket should catch up.
	KindResync Kind = "resync"
)

// Event is what crosses instances. The JSON names are short because a
// PostgreSQL notification payload is limited to 8,000 bytes.
type Event struct {
	Kind           Kind    `json:"k"`
	Users          []int64 `json:"u,omitempty"`
	MessageID      int64   `json:"m,omitempty"`
	ConversationID int64   `json:"c,omitempty"`
	// Seq is a message's place in its conversation: a page that already holds it skips the event
	// without a query.
	Seq       int64  `json:"q,omitempty"`
	ActorID   int64  `json:"a,omitempty"`
	Online    bool   `json:"o,omitempty"`
	SessionID string `json:"s,omitempty"`
}
