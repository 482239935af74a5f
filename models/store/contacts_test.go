package store_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"messenger/models"
	"messenger/models/store"
)

func TestContacts(t *testing.T) {
	type row struct {
		username string
		unread   int64
		lastBody string // "" when the pair never wrote
	}
	eachDialect(t, func(t *testing.T, s *store.Store) {
		users := map[string]models.User{}
		for _, name := range []string{"erin", "alice", "Bob", "carol", "dave", "aaron"} {
			users[name] = createUser(t, s, name)
		}
		sent := map[string]models.ExtendedMessage{}
		for _, m := range []struct{ from, to, body string }{
			{"Bob", "alice", "b1"},
			{"alice", "carol", "a→c"},
			{"carol", "alice", "c1"},
			{"carol", "alice", "<script>c2</script>"},
			{"dave", "Bob", "d→b"},
			{"Bob", "alice", "b2"},
		} {
			sent[m.body] = send(t, s, users[m.from], users[m.to], m.body)
		}
		views := []struct {
			viewer string
			want   []row
		}{
			{"alice", []row{{"Bob", 2, "b2"}, {"carol", 2, "<script>c2</script>"}, {"aaron", 0, ""}, {"dave", 0, ""}, {"erin", 0, ""}}},
			{"Bob", []row{{"alice", 0, "b2"}, {"dave", 1, "d→b"}, {"aaron", 0, ""}, {"carol", 0, ""}, {"erin", 0, ""}}},
			{"carol", []row{{"alice", 1, "<script>c2</script>"}, {"aaron", 0, ""}, {"Bob", 0, ""}, {"dave", 0, ""}, {"erin", 0, ""}}},
			{"erin", []row{{"aaron", 0, ""}, {"alice", 0, ""}, {"Bob", 0, ""}, {"carol", 0, ""}, {"dave", 0, ""}}},
		}
		for _, v := range views {
			t.Run(v.viewer, func(t *testing.T) {
				viewer := users[v.viewer]
				list, err := s.Contacts(t.Context(), viewer.UserID)
				if err != nil {
					t.Fatal(err)
				}
				got := make([]row, len(list))
				for i, c := range list {
					got[i] = row{username: c.Username, unread: c.Unread}
					if c.LastMessage != nil {
						got[i].lastBody = c.LastMessage.MessageBody
					}
				}
				if !reflect.DeepEqual(got, v.want) {
					t.Fatalf("Contacts(%s) =\n%v\nwant\n%v", v.viewer, got, v.want)
				}
				for _, c := range list {
					checkContact(t, s, viewer, c, sent)
					one, err := s.Contact(t.Context(), viewer.UserID, c.UserID)
					if err != nil {
						t.Fatalf("Contact(%s, %s): %v", v.viewer, c.Username, err)
					}
					if a, b := normalizeContact(one), normalizeContact(c); !reflect.DeepEqual(a, b) {
						t.Errorf("Contact(%s, %s) =\n%+v\nthe Contacts row is\n%+v", v.viewer, c.Username, a, b)
					}
				}
				for _, other := range []int64{viewer.UserID, 1 << 40} {
					if _, err := s.Contact(t.Context(), viewer.UserID, other); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("Contact(%s, %d): %v, want ErrNotFound", v.viewer, other, err)
					}
				}
			})
		}

		conv := conversation(t, s, users["alice"], users["Bob"])
		if _, _, err := s.MarkRead(t.Context(), conv.ConversationID, users["alice"].UserID, conv.LastSeq); err != nil {
			t.Fatal(err)
		}
		c, err := s.Contact(t.Context(), users["alice"].UserID, users["Bob"].UserID)
		if err != nil || c.Unread != 0 || c.LastMessage == nil || c.LastMessage.Unread {
			t.Errorf("after alice read Bob's messages: %+v, %v; want unread 0 and the last message read", c, err)
		}
	})
}

// checkContact compares a row's last message with the message as SendMessage returned it.
func checkContact(t *testing.T, s *store.Store, viewer models.User, c models.Contact, sent map[string]models.ExtendedMessage) {
	t.Helper()
	if c.UserID == viewer.UserID {
		t.Errorf("%s sees themself in the list", viewer.Username)
	}
	if c.Username == "" || c.Password == "" {
		t.Errorf("row for user %d lacks its user columns: %+v", c.UserID, c.User)
	}
	if c.LastMessage == nil {
		if c.ConversationID != nil {
			t.Errorf("%s/%s: conversation %d without a last message", viewer.Username, c.Username, *c.ConversationID)
		}
		return
	}
	want := sent[c.LastMessage.MessageBody]
	got := *c.LastMessage
	if c.ConversationID == nil || *c.ConversationID != want.ConversationID || got.ConversationID != want.ConversationID ||
		got.MessageID != want.MessageID || got.SenderUserID != want.SenderUserID ||
		got.RecipientUserID != want.RecipientUserID || got.Unread != want.Unread || !got.MessageDate.Equal(want.MessageDate) {
		t.Errorf("%s/%s: last message %+v, want %+v", viewer.Username, c.Username, got, want.Message)
	}
}

func normalizeContact(c models.Contact) models.Contact {
	c.CreatedAt = c.CreatedAt.UTC()
	c.LastSeenAt = utcPtr(c.LastSeenAt)
	c.ActiveUntil = utcPtr(c.ActiveUntil)
	if c.LastMessage != nil {
		m := *c.LastMessage
		m.MessageDate = m.MessageDate.UTC()
		c.LastMessage = &m
	}
	return c
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func TestOnline(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice, bob := createUser(t, s, "alice"), createUser(t, s, "bob")
		db := rawDB(t, s.URL())
		east, west := time.FixedZone("UTC+5", 5*60*60), time.FixedZone("UTC-7", -7*60*60)
		age := func(instance string) {
			exec(t, s, db, `UPDATE instances SET heartbeat_at = ? WHERE instance_id = ?`,
				time.Now().UTC().Add(-2*store.PresenceFreshness), instance)
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		steps := []struct {
			name string
			act  func()
			want bool
		}{
			{"never seen", func() {}, false},
			{"active window in the future", func() { must(s.TouchUser(ctx, bob.UserID, time.Now().UTC().Add(time.Minute))) }, true},
			{"signed off", func() { must(s.SignOffUser(ctx, bob.UserID)) }, false},
			{"active window over", func() { must(s.TouchUser(ctx, bob.UserID, time.Now().UTC().Add(-time.Second))) }, false},
			// The instant counts, not the zone it was written in.
			{"active window over, written east of UTC", func() { must(s.TouchUser(ctx, bob.UserID, time.Now().Add(-time.Minute).In(east))) }, false},
			{"active window open, written west of UTC", func() { must(s.TouchUser(ctx, bob.UserID, time.Now().Add(time.Minute).In(west))) }, true},
			{"active window over again", func() { must(s.TouchUser(ctx, bob.UserID, time.Now().UTC().Add(-time.Second))) }, false},
			{"socket on a live instance", func() {
				must(s.Heartbeat(ctx, "i1"))
				must(s.SetPresence(ctx, "i1", bob.UserID, 2))
			}, true},
			{"last socket closed", func() { must(s.SetPresence(ctx, "i1", bob.UserID, 0)) }, false},
			{"socket again", func() { must(s.SetPresence(ctx, "i1", bob.UserID, 1)) }, true},
			{"instance heartbeat stale", func() { age("i1") }, false},
			{"instance beats again", func() { must(s.Heartbeat(ctx, "i1")) }, true},
			{"another instance sweeps the stale one", func() {
				age("i1")
				must(s.Heartbeat(ctx, "i2"))
				must(s.RemoveInstance(ctx, "gone", store.PresenceFreshness))
				if n := countRows(t, s, db, `SELECT COUNT(*) FROM presence`); n != 0 {
					t.Errorf("%d presence rows left after the sweep, want 0", n)
				}
			}, false},
			{"socket on the second instance", func() { must(s.SetPresence(ctx, "i2", bob.UserID, 1)) }, true},
			{"second instance shuts down", func() { must(s.RemoveInstance(ctx, "i2", store.PresenceFreshness)) }, false},
			{"both presence and an active window", func() {
				must(s.Heartbeat(ctx, "i3"))
				must(s.SetPresence(ctx, "i3", bob.UserID, 1))
				must(s.TouchUser(ctx, bob.UserID, time.Now().UTC().Add(time.Minute)))
				must(s.SetPresence(ctx, "i3", bob.UserID, 0))
			}, true},
		}
		for _, st := range steps {
			st.act()
			online, err := s.Online(ctx, bob.UserID)
			if err != nil || online != st.want {
				t.Errorf("%s: Online = %v, %v; want %v", st.name, online, err, st.want)
			}
			list, err := s.Contacts(ctx, alice.UserID)
			if err != nil || len(list) != 1 || list[0].Online != st.want {
				t.Errorf("%s: Contacts = %+v, %v; want bob with Online=%v", st.name, list, err, st.want)
			}
			one, err := s.Contact(ctx, alice.UserID, bob.UserID)
			if err != nil || one.Online != st.want {
				t.Errorf("%s: Contact = %v, %v; want Online=%v", st.name, one.Online, err, st.want)
			}
		}
		if online, err := s.Online(ctx, alice.UserID); err != nil || online {
			t.Errorf("alice, never active: Online = %v, %v", online, err)
		}
	})
}
