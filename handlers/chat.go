package handlers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"messenger/handlers/realtime"
	"messenger/handlers/session"
	"messenger/models"
	"messenger/models/store"
	"messenger/views"
)

// pageSize is how many messages a conversation shows at first and per older page.
const pageSize = 50

func (s *Server) page(c *fiber.Ctx, title string) views.Page {
	me := currentUser(c)
	unread, err := s.store.UnreadCount(c.UserContext(), me.UserID)
	if err != nil {
		// The page is still worth showing: its title just lacks the count.
		s.log.Warn("unread total for the title", "user_id", me.UserID, "err", err)
	}
	return views.Page{Title: title, Me: &me, CSRF: session.From(c).CSRFToken(), Unread: unread}
}

// history loads the conversation with the {username} of the URL, up to the message before (0: the
// newest page), in one query; yourself and unknown names are 404.
func (s *Server) history(c *fiber.Ctx, before int64) (store.History, error) {
	name := strings.Clone(c.Params("username"))
	if !utf8Valid(name) || len(name) > 4*models.UsernameMaxLen {
		return store.History{}, errorf(http.StatusNotFound, "There is no user by that name.")
	}
	h, err := s.store.History(c.UserContext(), currentUser(c).UserID, name, before, pageSize)
	if errors.Is(err, store.ErrNotFound) && h.Partner.UserID == 0 {
		return h, errorf(http.StatusNotFound, "There is no user by that name.")
	}
	return h, err
}

func (s *Server) chat(c *fiber.Ctx) error {
	return s.renderChat(c, http.StatusOK, views.Composer{ReplyTo: composerReply(c, http.StatusOK)})
}

// renderChat shows the conversation with the URL's partner; composer carries what the user typed and
// an error when a send failed.
func (s *Server) renderChat(c *fiber.Ctx, status int, composer views.Composer) error {
	h, err := s.chatHistory(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	me, partner := currentUser(c), h.Partner
	chat := views.Chat{Me: me, Messages: h.Messages, HasOlder: h.HasOlder, Focus: h.focus, NewerAfter: h.newerAfter, LastChange: h.LastChange}
	if n := len(h.Messages); n > 0 {
		chat.LastSeq = h.Messages[n-1].Seq
	}
	if h.lastSeq != 0 { // opened at a message: the newer ones are paged in, only what is new comes live
		chat.LastSeq = h.lastSeq
	}
	// A link on another site must not mark a conversation read: only a navigation from this site
	// (or from a browser that does not say) counts as the user viewing it.
	if h.ConversationID != 0 && c.Get("Sec-Fetch-Site") != "cross-site" {
		if err := s.markRead(ctx, h.ConversationID, me.UserID, partner.UserID, chat.LastSeq); err != nil {
			return err
		}
	}
	contacts, err := s.store.Contacts(ctx, me.UserID)
	if err != nil {
		return err
	}
	if err := s.markMuted(ctx, me.UserID, contacts); err != nil {
		return err
	}
	for _, ct := range contacts {
		if ct.UserID == partner.UserID {
			chat.Partner = ct
		}
	}
	if composer.ReplyTo, err = s.quoteForComposer(ctx, me.UserID, partner.UserID, composer.ReplyTo); err != nil {
		return err
	}
	composer.Partner, composer.CSRF = partner.Username, session.From(c).CSRFToken()
	if composer.ClientID == "" {
		composer.ClientID = newClientID()
	}
	chat.Composer = composer
	shell := views.Shell{Page: s.page(c, partner.FullName()), People: views.People{Contacts: contacts}, Chat: &chat}
	if isFragmentRequest(c) {
		return render(c, status, views.ShellView(shell))
	}
	return render(c, status, views.ShellPage(shell))
}

// markRead clears the unread messages partner sent to reader up to seq shown, the newest the reader's
// page or socket was given, and tells both of them. Anything newer stays unread: the reader has not
// seen it, even if it committed before this call.
func (s *Server) markRead(ctx context.Context, conversationID, readerID, partnerID, shown int64) error {
	n, newest, err := s.store.MarkRead(ctx, conversationID, readerID, shown)
	if err != nil || n == 0 {
		return err
	}
	s.publish(ctx, realtime.Event{Kind: realtime.KindRead, Users: []int64{readerID, partnerID},
		ConversationID: conversationID, ActorID: readerID, MessageID: newest})
	return nil
}

func (s *Server) older(c *fiber.Ctx) error {
	if c.Query("after") != "" {
		return s.newer(c)
	}
	before, err := strconv.ParseInt(c.Query("before"), 10, 64)
	if err != nil || before <= 0 {
		if _, err := s.history(c, 0); err != nil {
			return err // an unknown partner is 404 whatever the cursor
		}
		return errorf(http.StatusBadRequest, "That link to older messages is not valid.")
	}
	// The cursor must belong to this pair's conversation: another pair's id is simply not found.
	h, err := s.history(c, before)
	if err != nil {
		return err
	}
	older := views.OlderPage{Me: currentUser(c), Partner: h.Partner, Messages: h.Messages, HasOlder: h.HasOlder}
	if isFragmentRequest(c) {
		return render(c, http.StatusOK, views.OlderFragment(older)) // messages only: no title to count for
	}
	older.Page = s.page(c, "Earlier messages")
	return render(c, http.StatusOK, views.OlderMessagesPage(older))
}

func (s *Server) sendMessage(c *fiber.Ctx) error {
	me := currentUser(c)
	if err := s.flow.waitSend(c, me.UserID); err != nil {
		return err
	}
	to := strings.Clone(c.Params("username"))
	att, release, err := s.receiveAttachment(c, me)
	if err != nil {
		return err
	}
	msg, err := s.sendWith(c.UserContext(), me, to, strings.Clone(c.FormValue("body")), strings.Clone(c.FormValue("client_id")), strings.Clone(c.FormValue("reply_to")), att)
	release(err == nil)
	if err != nil {
		return err // handleError answers with the composer, still holding the text
	}
	if isFragmentRequest(c) {
		composer := views.Composer{Partner: to, ClientID: newClientID(), CSRF: session.From(c).CSRFToken()}
		return render(c, http.StatusOK, views.SentFragment(composer, me.UserID, msg))
	}
	return c.Redirect(views.ChatURL(to), http.StatusSeeOther)
}

var sendPath = regexp.MustCompile(`^/chat/[^/]+/messages$`)

// sendFailed answers a send that did not happen: the composer comes back with the typed text, the
// same client id (a retry cannot store it twice; a new one after a 409) and the reason. Without
// JavaScript the whole conversation is shown around it when the database allows, else a page with just
// the composer.
func (s *Server) sendFailed(c *fiber.Ctx, status int, msg string) error {
	body := c.FormValue("body")
	if !utf8Valid(body) {
		body = ""
	}
	clientID, ok := models.CleanClientID(c.FormValue("client_id"))
	// 409: the id belongs to another message, so sending again needs a new one.
	if !ok || clientID == "" || status == http.StatusConflict {
		clientID = newClientID()
	}
	csrf := c.FormValue(session.CSRFField)
	if sess := session.From(c); sess != nil {
		csrf = sess.CSRFToken()
	}
	composer := views.Composer{Body: strings.Clone(body), ClientID: clientID, Error: msg, CSRF: strings.Clone(csrf),
		ReplyTo: composerReply(c, status)}
	// A body refused before routing (too large) has no route, so no parameters: read the path.
	if len(c.Route().Params) > 0 {
		composer.Partner = strings.Clone(c.Params("username"))
	}
	if composer.Partner == "" {
		composer.Partner = strings.TrimSuffix(strings.TrimPrefix(c.Path(), "/chat/"), "/messages")
		if p, err := url.PathUnescape(composer.Partner); err == nil {
			composer.Partner = p
		}
	}
	if isFragmentRequest(c) {
		return render(c, status, views.ComposerForm(composer))
	}
	if currentUser(c).UserID != 0 && status != http.StatusServiceUnavailable {
		if err := s.renderChat(c, status, composer); err == nil {
			return nil
		}
	}
	c.Response().ResetBody()
	return render(c, status, views.SendFailedPage(views.Page{Title: "Message not sent", CSRF: composer.CSRF}, composer))
}

// send is the one way a message enters Messenger, from the composer and from a socket frame alike:
// validate, store (commit), then announce. The sender is always the signed-in user.
func (s *Server) send(ctx context.Context, sender models.User, to, rawBody, rawClientID, rawReplyTo string) (models.ExtendedMessage, error) {
	return s.sendWith(ctx, sender, to, rawBody, rawClientID, rawReplyTo, nil)
}

// sendWith is send with an attachment (nil: none), whose file is stored already; a message with a
// file may have no text.
func (s *Server) sendWith(ctx context.Context, sender models.User, to, rawBody, rawClientID, rawReplyTo string, att *models.Attachment) (models.ExtendedMessage, error) {
	start := time.Now()
	body, reason := models.CleanBody(rawBody)
	if reason != "" && !(att != nil && utf8Valid(rawBody) && strings.TrimSpace(rawBody) == "") {
		return models.ExtendedMessage{}, errorf(http.StatusUnprocessableEntity, reason)
	}
	clientID, ok := models.CleanClientID(rawClientID)
	if !ok {
		return models.ExtendedMessage{}, errorf(http.StatusUnprocessableEntity, "The message's client id is not valid.")
	}
	if !utf8Valid(to) {
		return models.ExtendedMessage{}, errorf(http.StatusNotFound, "There is no user by that name.")
	}
	recipient, err := s.users.byUsername(ctx, s.store, to)
	if errors.Is(err, store.ErrNotFound) {
		return models.ExtendedMessage{}, errorf(http.StatusNotFound, "There is no user by that name.")
	}
	if err != nil {
		return models.ExtendedMessage{}, err
	}
	if recipient.UserID == sender.UserID {
		return models.ExtendedMessage{}, errorf(http.StatusUnprocessableEntity, "You cannot send a message to yourself.")
	}
	quote, err := s.replyTarget(ctx, sender.UserID, recipient.UserID, rawReplyTo)
	if err != nil {
		return models.ExtendedMessage{}, err
	}
	in := store.SendInput{SenderID: sender.UserID, RecipientID: recipient.UserID, Body: body, ClientID: clientID, Attachment: att}
	if quote != nil {
		in.ReplyToID, in.Quote = quote.MessageID, quote
	}
	msg, created, err := s.store.SendMessage(ctx, in)
	if errors.Is(err, store.ErrConflict) {
		return msg, errorf(http.StatusConflict, "This message could not be sent because its id was already used for another message. Send it again.")
	}
	if err != nil {
		return msg, err
	}
	if quote != nil && msg.ReplyToID != nil && *msg.ReplyToID == quote.MessageID {
		msg.ReplyTo = quote
	}
	s.metrics.SendLatency.Observe(time.Since(start).Seconds())
	s.recent.put(msg)
	// On PostgreSQL a new message was announced by its own transaction (Store.AnnounceSends). A repeated
	// client id announces the stored message again: pages catch up by sequence, so a second
	// announcement shows nothing twice and covers a first one lost in a crash.
	if !created || !s.sendsAnnounced {
		s.publish(ctx, s.liveMessageEvent(ctx, msg, created, sender, recipient))
	}
	return msg, nil
}

// messageEvent announces a stored message to its own pair, never to whoever a request named, with the
// unread counts its send returned.
func messageEvent(msg models.ExtendedMessage) realtime.Event {
	return realtime.Event{Kind: realtime.KindMessage, Users: []int64{msg.SenderUserID, msg.RecipientUserID},
		MessageID: msg.MessageID, ConversationID: msg.ConversationID, Seq: msg.Seq, ActorID: msg.SenderUserID,
		SenderUnread: msg.SenderUnread, RecipientUnread: msg.RecipientUnread}
}

// liveMessageEvent is messageEvent with everything the message's fragments show, so that no socket asks
// the database: the message, both users and each one's unread count in the conversation. What crosses
// instances is the ids, the counts and the message when it fits the notification; an instance loads
// what did not come (a long message, the users) once (deliver).
// A new message's counts come from its send; a repeated one (not created) reads the current ones.
func (s *Server) liveMessageEvent(ctx context.Context, msg models.ExtendedMessage, created bool, sender, recipient models.User) realtime.Event {
	ev := messageEvent(msg)
	ev.Message, ev.Sender, ev.Receiver = &msg, &sender, &recipient
	if created {
		return ev
	}
	var err error
	ev.SenderUnread, ev.RecipientUnread, err = s.store.UnreadBetween(ctx, msg.SenderUserID, msg.RecipientUserID)
	if err != nil {
		// The message is stored: announce it; the counts are right again at the next page load.
		s.log.Warn("unread counts for a live row", "user_id", sender.UserID, "err", err)
	}
	return ev
}

// publish hands an event to the broker. The data is committed already; a lost event costs liveness,
// not messages (pages catch up on reconnect), so it is logged, not returned.
func (s *Server) publish(ctx context.Context, ev realtime.Event) {
	if err := s.broker.Publish(context.WithoutCancel(ctx), ev); err != nil {
		s.log.Warn("publish event", "kind", string(ev.Kind), "err", err)
	}
}

func newClientID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func utf8Valid(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
