package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"messenger/models"
	"messenger/models/store"
	"messenger/views"
)

// maxSearchLen bounds a search as typed, in bytes.
const maxSearchLen = 200

// searchQuery is the q of the URL, copied; invalid text is a 400.
func searchQuery(c *fiber.Ctx) (string, error) {
	q := strings.TrimSpace(c.Query("q"))
	if !utf8Valid(q) {
		return "", errorf(http.StatusBadRequest, "The search is not valid text.")
	}
	if len(q) > maxSearchLen {
		return "", errorf(http.StatusBadRequest, "The search is too long.")
	}
	return strings.Clone(q), nil
}

// people is the users list of the signed-in user narrowed by q.
func (s *Server) people(c *fiber.Ctx, q string) (views.People, error) {
	me := currentUser(c).UserID
	list, more, err := s.store.FindContacts(c.UserContext(), me, q)
	if err == nil {
		err = s.markMuted(c.UserContext(), me, list)
	}
	return views.People{Contacts: list, Query: q, More: more}, err
}

// index is the users list, narrowed by ?q= when given. The search field asks for the list alone
// (HX-Target user-list) and tells the page's socket the new filter (the user-search event), so that
// lists pushed over the socket keep it.
func (s *Server) index(c *fiber.Ctx) error {
	q, err := searchQuery(c)
	if err != nil {
		return err
	}
	people, err := s.people(c, q)
	if err != nil {
		return err
	}
	if isFragmentRequest(c) && c.Get("HX-Target") == "user-list" {
		c.Set("HX-Trigger", "user-search")
		return render(c, http.StatusOK, views.PeopleList(currentUser(c).UserID, people, 0, false))
	}
	shell := views.Shell{Page: s.page(c, "Chats"), People: people}
	if isFragmentRequest(c) {
		return render(c, http.StatusOK, views.ShellView(shell))
	}
	return render(c, http.StatusOK, views.ShellPage(shell))
}

// listFilter is the search of a users list as a socket keeps it: what the page sent, trimmed; nothing
// when it is not valid text.
func listFilter(q string) string {
	if q = strings.TrimSpace(q); !utf8Valid(q) || len(q) > maxSearchLen {
		return ""
	}
	return q
}

// search is the message search: the signed-in user's messages containing every word of ?q=, newest
// first, a page at a time (?before= the last one shown). The users list beside it is narrowed by the
// same search.
func (s *Server) search(c *fiber.Ctx) error {
	q, err := searchQuery(c)
	if err != nil {
		return err
	}
	before, err := optionalID(c, "before")
	if err != nil {
		return errorf(http.StatusBadRequest, "That link to more results is not valid.")
	}
	found := views.Search{Query: q, Terms: models.SearchTerms(q)}
	page, err := s.store.SearchMessages(c.UserContext(), currentUser(c).UserID, found.Terms, before, pageSize)
	if err != nil {
		return err
	}
	found.Hits, found.More = page.Hits, page.HasMore
	people, err := s.people(c, q)
	if err != nil {
		return err
	}
	shell := views.Shell{Page: s.page(c, "Search"), People: people, Search: &found}
	if isFragmentRequest(c) {
		return render(c, http.StatusOK, views.ShellView(shell))
	}
	return render(c, http.StatusOK, views.ShellPage(shell))
}

// optionalID reads a positive message id from the query string; absent is 0.
func optionalID(c *fiber.Ctx, key string) (int64, error) {
	raw := c.Query(key)
	if raw == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, errors.New("not a message id")
	}
	return id, nil
}

// newerAfterFocus is how many messages a conversation opened at a message shows after it; older ones
// are a page before it.
const (
	olderBeforeFocus = 40
	newerAfterFocus  = 10
)

// chatWindow is what a conversation page shows: its newest page, or (?at=) a window around a message.
type chatWindow struct {
	store.History
	focus      int64 // the message opened at
	newerAfter int64 // the last message shown when newer ones follow
	lastSeq    int64 // the conversation's newest seq, where the socket catches up from
}

// chatHistory loads the conversation page of the URL: the newest messages, or with ?at={id} the
// messages around that one (which must be this pair's: another pair's id is not found).
func (s *Server) chatHistory(c *fiber.Ctx) (chatWindow, error) {
	at, err := optionalID(c, "at")
	if err != nil || at == 0 {
		h, herr := s.history(c, 0)
		if herr == nil && err != nil {
			herr = errorf(http.StatusBadRequest, "That link to a message is not valid.")
		}
		return chatWindow{History: h}, herr
	}
	h, err := s.history(c, at)
	if err != nil {
		return chatWindow{}, err
	}
	ctx := c.UserContext()
	focus, err := s.store.MessageInConversation(ctx, h.ConversationID, at)
	if err != nil {
		return chatWindow{}, err
	}
	conv, err := s.store.ConversationBetween(ctx, currentUser(c).UserID, h.Partner.UserID)
	if err != nil {
		return chatWindow{}, err
	}
	newer, err := s.store.MessagesAfter(ctx, h.ConversationID, focus.Seq-1, newerAfterFocus+2)
	if err != nil {
		return chatWindow{}, err
	}
	w := chatWindow{History: h, focus: at, lastSeq: conv.LastSeq}
	if len(newer) > newerAfterFocus+1 {
		newer = newer[:newerAfterFocus+1]
		w.newerAfter = newer[len(newer)-1].MessageID
	}
	w.Messages = append(w.Messages[max(0, len(w.Messages)-olderBeforeFocus):], newer...)
	w.HasOlder = w.HasOlder || len(h.Messages) > olderBeforeFocus
	return w, nil
}

// newer is the page of a conversation after a message (?after=), for a conversation opened at a
// message: a fragment for htmx, a page of its own without JavaScript.
func (s *Server) newer(c *fiber.Ctx) error {
	after, err := optionalID(c, "after")
	h, herr := s.history(c, 0)
	if herr != nil {
		return herr // an unknown partner is 404 whatever the cursor
	}
	if err != nil {
		return errorf(http.StatusBadRequest, "That link to newer messages is not valid.")
	}
	ctx := c.UserContext()
	cursor, err := s.store.MessageInConversation(ctx, h.ConversationID, after)
	if err != nil {
		return err
	}
	msgs, err := s.store.MessagesAfter(ctx, h.ConversationID, cursor.Seq, pageSize+1)
	if err != nil {
		return err
	}
	p := views.OlderPage{Page: s.page(c, "Later messages"), Me: currentUser(c), Partner: h.Partner, Messages: msgs, Newer: true}
	if p.HasNewer = len(msgs) > pageSize; p.HasNewer {
		p.Messages = msgs[:pageSize]
	}
	if isFragmentRequest(c) {
		return render(c, http.StatusOK, views.NewerFragment(p))
	}
	return render(c, http.StatusOK, views.OlderMessagesPage(p))
}
