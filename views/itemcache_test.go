package views

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"

	"messenger/models"
)

// fullMessage has every field of a message set, so that each can be changed on its own.
func fullMessage() models.ExtendedMessage {
	now := time.Now().Add(-time.Hour).Truncate(time.Second)
	edited, deleted := now.Add(time.Minute), now.Add(2*time.Minute)
	clientID, replyTo := "c-1", int64(40)
	return models.ExtendedMessage{
		Message: models.Message{MessageID: 41, ConversationID: 7, Seq: 12, MessageDate: now, MessageBody: "hello <b>there</b> https://example.org",
			SenderUserID: 1, RecipientUserID: 2, Unread: true, ClientID: &clientID, EditedAt: &edited, DeletedAt: &deleted,
			ChangeSeq: 3, ReplyToID: &replyTo,
			Attachment: &models.Attachment{AttachmentID: 5, MessageID: 41, UploaderID: 1, SHA256: "ab", Name: "cat.png", Size: 1234,
				ContentType: "image/png", Width: 640, Height: 480, ThumbWidth: 320, ThumbHeight: 240, CreatedAt: now}},
		SenderUsername: "alice", RecipientUsername: "bob", SenderUnread: 1, RecipientUnread: 2,
		ReplyTo: &models.Quote{MessageID: 40, SenderUsername: "bob", Body: "a question?", Deleted: false},
	}
}

// clone copies a message and everything its pointers hold.
func clone(m models.ExtendedMessage) models.ExtendedMessage {
	c := m
	cp := func(p any) any {
		v := reflect.ValueOf(p)
		if v.IsNil() {
			return p
		}
		n := reflect.New(v.Elem().Type())
		n.Elem().Set(v.Elem())
		return n.Interface()
	}
	c.ClientID, c.EditedAt, c.DeletedAt = cp(m.ClientID).(*string), cp(m.EditedAt).(*time.Time), cp(m.DeletedAt).(*time.Time)
	c.ReplyToID, c.Attachment, c.ReplyTo = cp(m.ReplyToID).(*int64), cp(m.Attachment).(*models.Attachment), cp(m.ReplyTo).(*models.Quote)
	return c
}

// change is one way to alter a message: a field changed, or a pointer cleared.
type change struct {
	name string
	do   func(v reflect.Value) // v: the message (addressable)
}

// changes lists a change of every field of t, reached from the message by path, and the clearing of
// every pointer.
func changes(t reflect.Type, path []int, name string) []change {
	at := func(v reflect.Value) reflect.Value {
		for _, i := range path {
			if v.Kind() == reflect.Pointer {
				if v.IsNil() { // changing a field of nothing: it is there from now on
					v.Set(reflect.New(v.Type().Elem()))
				}
				v = v.Elem()
			}
			v = v.Field(i)
		}
		return v
	}
	var out []change
	switch {
	case t.Kind() == reflect.Pointer:
		out = append(out, change{name + "=nil", func(v reflect.Value) { f := at(v); f.Set(reflect.Zero(f.Type())) }})
		if e := t.Elem(); e.Kind() == reflect.Struct && e != reflect.TypeOf(time.Time{}) {
			for i := range e.NumField() {
				out = append(out, changes(e.Field(i).Type, append(append([]int{}, path...), i), name+"."+e.Field(i).Name)...)
			}
		} else {
			out = append(out, change{name + "*", func(v reflect.Value) {
				f := at(v)
				if f.IsNil() {
					f.Set(reflect.New(e))
				}
				alter(f.Elem())
			}})
		}
	case t.Kind() == reflect.Struct && t != reflect.TypeOf(time.Time{}):
		for i := range t.NumField() {
			out = append(out, changes(t.Field(i).Type, append(append([]int{}, path...), i), strings.TrimPrefix(name+"."+t.Field(i).Name, "."))...)
		}
	default:
		out = append(out, change{name, func(v reflect.Value) { alter(at(v)) }})
	}
	return out
}

func alter(f reflect.Value) {
	switch f.Kind() {
	case reflect.Int, reflect.Int64:
		f.SetInt(f.Int() + 1)
	case reflect.String:
		f.SetString(f.String() + "x")
	case reflect.Bool:
		f.SetBool(!f.Bool())
	case reflect.Struct: // time.Time
		f.Set(reflect.ValueOf(f.Interface().(time.Time).Add(-90 * time.Minute)))
	default:
		panic(fmt.Sprintf("alter: a field of kind %s: teach the test to change it", f.Kind()))
	}
}

func renderRaw(t *testing.T, me int64, m models.ExtendedMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := messageItem(me, m).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Whatever a change to a message alters in its HTML must alter its cache key or stamp too, or a page
// would be served the message as it was. A field added to models.Message later is checked the same way.
func TestItemStampCoversTheRendering(t *testing.T) {
	bases := map[string]models.ExtendedMessage{"full": fullMessage()}
	plain := fullMessage()
	plain.EditedAt, plain.DeletedAt = nil, nil // the body, edit mark and actions show only then
	bases["not deleted"] = plain
	noAttachment := clone(plain)
	noAttachment.Attachment = nil
	bases["text only"] = noAttachment
	checked, differing := 0, 0
	for baseName, base := range bases {
		for _, ch := range changes(reflect.TypeOf(base), nil, "") {
			changed := clone(base)
			ch.do(reflect.ValueOf(&changed).Elem())
			for _, me := range []int64{base.SenderUserID, base.RecipientUserID} {
				now := time.Now()
				same := itemKey{base.MessageID, me} == itemKey{changed.MessageID, me} && stampOf(base, now) == stampOf(changed, now)
				checked++
				if renderRaw(t, me, base) != renderRaw(t, me, changed) {
					differing++
					if same {
						t.Errorf("%s, %s changed, viewer %d: the HTML differs but the cache key and stamp do not", baseName, ch.name, me)
					}
				}
			}
		}
	}
	if differing < checked/3 { // the check itself must see changes: most fields are shown
		t.Fatalf("only %d of %d changes altered the HTML: the changes do not reach the rendering", differing, checked)
	}

	// The time shown leaves out the day for 20 hours only: the same message then renders otherwise.
	m := fullMessage()
	m.MessageDate = time.Now().Add(-recentTime + time.Minute)
	later := time.Now().Add(2 * time.Minute)
	if stampOf(m, time.Now()) == stampOf(m, later) {
		t.Fatal("a message turning 20 hours old keeps its stamp, but its time is then shown with the day")
	}
}

func TestItemCacheServesTheMessageAsItIsNow(t *testing.T) {
	c := NewItemCache(1 << 20)
	ctx := WithItemCache(context.Background(), c)
	render := func(ctx context.Context, me int64, m models.ExtendedMessage) string {
		t.Helper()
		var b bytes.Buffer
		if err := MessageItem(me, m).Render(ctx, &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	m := fullMessage()
	m.DeletedAt = nil
	for _, me := range []int64{1, 2} {
		want := renderRaw(t, me, m)
		if got := render(ctx, me, m); got != want {
			t.Fatalf("first render for %d:\n%s\nwant\n%s", me, got, want)
		}
		if got := render(ctx, me, m); got != want {
			t.Fatalf("cached render for %d:\n%s\nwant\n%s", me, got, want)
		}
	}
	if len(c.cur) != 2 {
		t.Fatalf("%d entries kept for one message seen by its two users, want 2", len(c.cur))
	}
	// The partner reads it: the sender's copy shows the new receipt.
	m.Unread = false
	if got := render(ctx, 1, m); got != renderRaw(t, 1, m) || !strings.Contains(got, `data-read="true"`) {
		t.Fatalf("after the message was read, the sender is shown:\n%s", got)
	}
	// A page opened at the message marks it; that rendering is neither taken from nor kept in the cache.
	var b bytes.Buffer
	if err := focusOn(m.MessageID).Render(templ.WithChildren(ctx, MessageItem(1, m)), &b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `data-focus="true"`) {
		t.Fatalf("the message a page is opened at lost its mark:\n%s", b.String())
	}
	if got := render(ctx, 1, m); strings.Contains(got, "data-focus") {
		t.Fatalf("a focused rendering was kept for later pages:\n%s", got)
	}
}

func TestItemCacheStaysWithinItsBound(t *testing.T) {
	const bound = 64 << 10
	c := NewItemCache(bound)
	ctx := WithItemCache(context.Background(), c)
	m := fullMessage()
	size := len(renderRaw(t, 1, m))
	for id := range int64(1000) {
		m.MessageID = id + 1
		if err := MessageItem(1, m).Render(ctx, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	}
	kept := 0
	for _, gen := range []map[itemKey]*itemEntry{c.cur, c.prev} {
		for _, e := range gen {
			kept += e.size()
		}
	}
	if kept > bound || kept < bound/4 {
		t.Fatalf("%d bytes kept of 1,000 messages of %d bytes with a bound of %d", kept, size, bound)
	}
	// The newest are the ones kept.
	if _, ok := c.get(itemKey{1000, 1}, stampOf(m, time.Now())); !ok {
		t.Fatal("the message rendered last is not in the cache")
	}
}
