package views

import (
	"bytes"
	"context"
	"io"
	"sync"
	"time"

	"github.com/a-h/templ"

	"messenger/models"
)

// ItemCache keeps the HTML of messages as rendered for one viewer, so that a message shown again (the
// newest page on every visit, an older page read twice, a message delivered live and then paged in) is
// written from bytes instead of rendered again. It is a memo, not a copy of the data: an entry is used
// only when everything its rendering read is the same as in the message at hand (itemStamp), so
// edits, deletions, receipts and renamed users need no invalidation and no messages between instances.
// Its size is bounded: two generations of entries, the older dropped as a whole when the newer is full.
type ItemCache struct {
	mu        sync.Mutex
	cur, prev map[itemKey]*itemEntry
	curBytes  int
	genBytes  int // the bytes one generation holds before it becomes the older one
}

type itemKey struct{ messageID, viewer int64 }

type itemEntry struct {
	stamp itemStamp
	html  []byte
}

// size is about the memory an entry holds: its HTML, the texts its stamp keeps, and the rest.
func (e *itemEntry) size() int {
	return len(e.html) + len(e.stamp.body) + len(e.stamp.quote.Body) + 512
}

// itemStamp is every input of messageItem but the viewer (in the key) and the focus (never cached).
// TestItemStampCoversTheRendering changes each field of a message and checks that the stamp changes
// whenever the HTML does.
type itemStamp struct {
	seq, sender, recipient    int64
	date, edited, deleted     int64 // Unix ns, 0 for nil
	changeSeq, replyTo        int64
	body, clientID            string
	hasClientID, unread       bool
	senderName, recipientName string
	quote                     models.Quote
	hasQuote, hasAttachment   bool
	attachment                models.Attachment // CreatedAt kept as attachmentCreated
	attachmentCreated         int64
	recent                    bool // shortTime shows the day once a message is older than 20 hours
}

// NewItemCache keeps up to about maxBytes of rendered messages (twice maxBytes/2: the current and the
// older generation).
func NewItemCache(maxBytes int) *ItemCache {
	return &ItemCache{cur: map[itemKey]*itemEntry{}, prev: map[itemKey]*itemEntry{}, genBytes: max(maxBytes/2, 1)}
}

func unixOrZero(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.UnixNano()
}

func stampOf(m models.ExtendedMessage, now time.Time) itemStamp {
	s := itemStamp{seq: m.Seq, sender: m.SenderUserID, recipient: m.RecipientUserID,
		date: m.MessageDate.UnixNano(), edited: unixOrZero(m.EditedAt), deleted: unixOrZero(m.DeletedAt),
		changeSeq: m.ChangeSeq, body: m.MessageBody, unread: m.Unread,
		senderName: m.SenderUsername, recipientName: m.RecipientUsername,
		recent: now.Sub(m.MessageDate) < recentTime}
	if m.ClientID != nil {
		s.clientID, s.hasClientID = *m.ClientID, true
	}
	if m.ReplyToID != nil {
		s.replyTo = *m.ReplyToID
	}
	if m.ReplyTo != nil {
		s.quote, s.hasQuote = *m.ReplyTo, true
	}
	if m.Attachment != nil {
		s.attachment, s.hasAttachment = *m.Attachment, true
		s.attachmentCreated, s.attachment.CreatedAt = m.Attachment.CreatedAt.UnixNano(), time.Time{}
	}
	return s
}

func (c *ItemCache) get(k itemKey, s itemStamp) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cur[k]
	if !ok {
		if e, ok = c.prev[k]; ok {
			delete(c.prev, k)
			c.putLocked(k, e)
		}
	}
	if !ok || e.stamp != s {
		return nil, false
	}
	return e.html, true
}

func (c *ItemCache) put(k itemKey, e *itemEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, e)
}

func (c *ItemCache) putLocked(k itemKey, e *itemEntry) {
	if old, ok := c.cur[k]; ok {
		c.curBytes -= old.size()
	}
	c.cur[k] = e
	c.curBytes += e.size()
	if c.curBytes >= c.genBytes {
		c.prev, c.cur, c.curBytes = c.cur, make(map[itemKey]*itemEntry, len(c.cur)), 0
	}
}

type itemCacheKey struct{}

// WithItemCache lets the MessageItems rendered with ctx use c.
func WithItemCache(ctx context.Context, c *ItemCache) context.Context {
	return context.WithValue(ctx, itemCacheKey{}, c)
}

// MessageItem is one message, in pages and pushed over the socket alike: from the context's ItemCache
// when it holds the message as it is now, else rendered (and kept there).
func MessageItem(me int64, m models.ExtendedMessage) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		c, _ := ctx.Value(itemCacheKey{}).(*ItemCache)
		if c == nil || focused(ctx, m.MessageID) {
			return messageItem(me, m).Render(ctx, w)
		}
		k, s := itemKey{m.MessageID, me}, stampOf(m, time.Now())
		if html, ok := c.get(k, s); ok {
			_, err := w.Write(html)
			return err
		}
		var buf bytes.Buffer
		if err := messageItem(me, m).Render(ctx, &buf); err != nil {
			return err
		}
		c.put(k, &itemEntry{stamp: s, html: bytes.Clone(buf.Bytes())}) // its own array: no spare capacity kept
		_, err := w.Write(buf.Bytes())
		return err
	})
}
