package store_test

import (
	"fmt"
	"reflect"
	"testing"

	"messenger/models"
	"messenger/models/store"
)

func TestFindContacts(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		users := map[string]models.User{}
		for _, u := range []struct{ username, first, last string }{
			{"viewer", "Vera", "View"},
			{"Annabel", "Anna", "Bell"},
			{"bob", "Robert", "Annan"},
			{"carol", "Carol", "Smith"},
			{"dan_50", "Dan", "Fifty%"},
			{"danx50", "Daniel", "Plain"},
			{"zoe", "Zoë", "Ünal"},
		} {
			nu := models.User{FirstName: u.first, LastName: u.last, Username: u.username, Password: "argon2id-hash"}
			if err := s.CreateUser(t.Context(), &nu); err != nil {
				t.Fatal(err)
			}
			users[u.username] = nu
		}
		send(t, s, users["carol"], users["viewer"], "first")
		send(t, s, users["viewer"], users["zoe"], "second")
		send(t, s, users["bob"], users["Annabel"], "another pair's")

		for _, c := range []struct {
			query string
			want  []string
		}{
			// Conversations first, newest first, then everyone else by name.
			{"", []string{"zoe", "carol", "Annabel", "bob", "dan_50", "danx50"}},
			{"ANN", []string{"Annabel", "bob"}}, // username, first name; bob by his last name
			{"smith", []string{"carol"}},
			{"zo", []string{"zoe"}},
			{"ünal", []string{"zoe"}},
			{"ÜNAL", []string{"zoe"}},
			{"ＺＯＥ", []string{"zoe"}},  // full width
			{"_", []string{"dan_50"}}, // LIKE's wildcards are literal
			{"%", []string{"dan_50"}},
			{`\`, nil},
			{"n_5", []string{"dan_50"}}, // not danx50
			{"l\nb", nil},               // never across the first and last name
			{"viewer", nil},             // never yourself
			{"'; DROP TABLE users; --", nil},
		} {
			list, more, err := s.FindContacts(t.Context(), users["viewer"].UserID, c.query)
			if err != nil {
				t.Fatalf("FindContacts(%q): %v", c.query, err)
			}
			var got []string
			for _, ct := range list {
				got = append(got, ct.Username)
			}
			if !reflect.DeepEqual(got, c.want) || more {
				t.Errorf("FindContacts(%q) = %v, more=%v; want %v", c.query, got, more, c.want)
			}
		}
		list, _, err := s.FindContacts(t.Context(), users["viewer"].UserID, "car")
		if err != nil || len(list) != 1 || list[0].LastMessage == nil || list[0].LastMessage.MessageBody != "first" || list[0].Unread != 1 {
			t.Errorf("FindContacts(car) = %+v, %v; want carol with her message, unread 1", list, err)
		}
	})
}

// TestFindContactsCap: beyond MaxListedOthers people without a conversation, the list stops and says
// so; the viewer's conversations are all there, and search finds the rest.
func TestFindContactsCap(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		viewer := createUser(t, s, "viewer")
		var last models.User
		for i := range store.MaxListedOthers + 2 {
			last = createUser(t, s, fmt.Sprintf("p%04d", i))
		}
		friend := createUser(t, s, "zz-friend")
		send(t, s, friend, viewer, "hi")
		list, more, err := s.FindContacts(t.Context(), viewer.UserID, "")
		if err != nil || !more || len(list) != store.MaxListedOthers+1 || list[0].UserID != friend.UserID ||
			list[len(list)-1].Username != fmt.Sprintf("p%04d", store.MaxListedOthers-1) {
			t.Fatalf("FindContacts = %d rows (first %v), more=%v, %v; want the friend then %d others and more",
				len(list), list[0].Username, more, err, store.MaxListedOthers)
		}
		if all, err := s.Contacts(t.Context(), viewer.UserID); err != nil || len(all) != len(list) {
			t.Errorf("Contacts = %d rows, %v; want %d", len(all), err, len(list))
		}
		found, more, err := s.FindContacts(t.Context(), viewer.UserID, last.Username)
		if err != nil || more || len(found) != 1 || found[0].UserID != last.UserID {
			t.Errorf("FindContacts(%s) = %v, more=%v, %v", last.Username, found, more, err)
		}
	})
}
