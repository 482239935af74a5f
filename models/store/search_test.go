package store_test

import (
	"fmt"
	"reflect"
	"testing"

	"messenger/models"
	"messenger/models/store"
)

func TestSearchMessages(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		alice, bob, carol := createUser(t, s, "alice"), createUser(t, s, "bob"), createUser(t, s, "carol")
		ids := map[string]int64{}
		for _, m := range []struct {
			from, to models.User
			body     string
		}{
			{alice, bob, "Lunch tomorrow at noon?"},
			{bob, alice, "Yes! The usual place, \"Chez Paul\"."},
			{carol, bob, "secret lunch plans between bob and carol"},
			{alice, carol, "Привет, как дела?"},
			{carol, alice, "東京 trip next week, AND NEAR(lunch) OR *"},
			{alice, bob, "it's 50% off: a*b (c|d) & !e"},
		} {
			ids[m.body] = send(t, s, m.from, m.to, m.body).MessageID
		}
		search := func(viewer models.User, query string) []string {
			t.Helper()
			page, err := s.SearchMessages(t.Context(), viewer.UserID, models.SearchTerms(query), 0, 50)
			if err != nil {
				t.Fatalf("search %q as %s: %v", query, viewer.Username, err)
			}
			var got []string
			for _, h := range page.Hits {
				got = append(got, h.MessageBody)
				if h.SenderUserID != viewer.UserID && h.RecipientUserID != viewer.UserID {
					t.Errorf("search %q as %s found another pair's message %q", query, viewer.Username, h.MessageBody)
				}
				other := h.SenderUserID
				if other == viewer.UserID {
					other = h.RecipientUserID
				}
				if h.Partner.UserID != other || h.Partner.Username == "" {
					t.Errorf("search %q: partner %+v, want user %d", query, h.Partner, other)
				}
			}
			return got
		}
		for _, c := range []struct {
			viewer models.User
			query  string
			want   []string
		}{
			{alice, "lunch", []string{"東京 trip next week, AND NEAR(lunch) OR *", "Lunch tomorrow at noon?"}}, // newest first; never carol and bob's
			{bob, "LUNCH", []string{"secret lunch plans between bob and carol", "Lunch tomorrow at noon?"}},
			{alice, "lun noon", []string{"Lunch tomorrow at noon?"}}, // prefixes, every word
			{alice, "secret", nil},
			{alice, "Привет", []string{"Привет, как дела?"}}, // PostgreSQL folds the case of non-ASCII letters as its LC_CTYPE does (none in C)
			{alice, "дела", []string{"Привет, как дела?"}},
			{alice, "東京", []string{"東京 trip next week, AND NEAR(lunch) OR *"}},
			{alice, `"chez`, []string{"Yes! The usual place, \"Chez Paul\"."}},
			{alice, `chez" OR "lunch`, nil}, // quotes and operators are only separators: chez AND or AND lunch
			{alice, "NEAR(lunch)", []string{"東京 trip next week, AND NEAR(lunch) OR *"}},
			{alice, "50% a* (c|d) & !e", []string{"it's 50% off: a*b (c|d) & !e"}},
			{alice, `it's`, []string{"it's 50% off: a*b (c|d) & !e"}},
			{alice, `'\:*`, nil}, // nothing but punctuation: no words, nothing found
			{alice, "", nil},
		} {
			if got := search(c.viewer, c.query); !reflect.DeepEqual(got, c.want) {
				t.Errorf("search %q as %s = %q, want %q", c.query, c.viewer.Username, got, c.want)
			}
		}

		// The index follows a body changed or cleared (an edit, a deletion) and a row removed.
		db := rawDB(t, s.URL())
		exec(t, s, db, `UPDATE messages SET message_body = ? WHERE message_id = ?`, "dinner instead", ids["Lunch tomorrow at noon?"])
		exec(t, s, db, `UPDATE messages SET message_body = '' WHERE message_id = ?`, ids["東京 trip next week, AND NEAR(lunch) OR *"])
		if got := search(alice, "lunch"); got != nil {
			t.Errorf("after the edits, lunch = %q", got)
		}
		if got := search(alice, "dinner"); !reflect.DeepEqual(got, []string{"dinner instead"}) {
			t.Errorf("after the edit, dinner = %q", got)
		}
		exec(t, s, db, `UPDATE messages SET unread = ? WHERE message_id = ?`, false, ids["Lunch tomorrow at noon?"])
		if got := search(bob, "dinner"); len(got) != 1 {
			t.Errorf("after a read mark, dinner = %q", got)
		}
	})
}

// Pages of results: keyset on the message id, each message once, newest first.
func TestSearchMessagesPaging(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		alice, bob := createUser(t, s, "alice"), createUser(t, s, "bob")
		var want []int64
		for i := range 7 {
			m := send(t, s, alice, bob, fmt.Sprintf("needle %d", i))
			want = append([]int64{m.MessageID}, want...)
			send(t, s, bob, alice, "hay")
		}
		var got []int64
		before := int64(0)
		for pages := 0; ; pages++ {
			page, err := s.SearchMessages(t.Context(), bob.UserID, []string{"needle"}, before, 3)
			if err != nil || pages > 3 {
				t.Fatalf("page %d: %v", pages, err)
			}
			for _, h := range page.Hits {
				got = append(got, h.MessageID)
			}
			if !page.HasMore {
				break
			}
			before = page.Hits[len(page.Hits)-1].MessageID
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("paged ids %v, want %v", got, want)
		}
	})
}
