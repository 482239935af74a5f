package store_test

import (
	"errors"
	"sync"
	"testing"

	"messenger/models"
	"messenger/models/store"
)

func TestUserByUsernameIgnoresCaseAndWidth(t *testing.T) {
	tests := []struct {
		stored string
		lookup []string
	}{
		{stored: "Alice", lookup: []string{"Alice", "alice", "ALICE", "ＡＬＩＣＥ", "ａｌｉｃｅ"}},
		{stored: "ＢＯＢ", lookup: []string{"bob", "Bob", "ＢＯＢ", "ｂｏｂ"}},
		{stored: "Straße", lookup: []string{"strasse", "STRASSE", "straße"}},
	}
	eachDialect(t, func(t *testing.T, s *store.Store) {
		for _, tc := range tests {
			u := createUser(t, s, tc.stored)
			if u.UserID == 0 {
				t.Fatalf("CreateUser(%q) left the id unset", tc.stored)
			}
			for _, name := range tc.lookup {
				got, err := s.UserByUsername(t.Context(), name)
				if err != nil {
					t.Errorf("UserByUsername(%q): %v", name, err)
					continue
				}
				if got.UserID != u.UserID || got.Username != tc.stored {
					t.Errorf("UserByUsername(%q) = %d %q, want %d %q", name, got.UserID, got.Username, u.UserID, tc.stored)
				}
			}
		}
		if _, err := s.UserByUsername(t.Context(), "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UserByUsername(unknown): %v, want ErrNotFound", err)
		}
	})
}

func TestCreateUserConflict(t *testing.T) {
	tests := []struct{ first, second string }{
		{"alice", "alice"},
		{"bob", "BOB"},
		{"Carol", "ｃａｒｏｌ"},
		{"Straße", "STRASSE"},
	}
	eachDialect(t, func(t *testing.T, s *store.Store) {
		for _, tc := range tests {
			t.Run(tc.first+"/"+tc.second, func(t *testing.T) {
				createUser(t, s, tc.first)
				dup := models.User{FirstName: "F", LastName: "L", Username: tc.second, Password: "x"}
				if err := s.CreateUser(t.Context(), &dup); !errors.Is(err, store.ErrConflict) {
					t.Errorf("CreateUser(%q) after %q: %v, want ErrConflict", tc.second, tc.first, err)
				}
			})
		}
	})
}

func TestCreateUserConcurrentSameName(t *testing.T) {
	const n = 50
	eachDialect(t, func(t *testing.T, s *store.Store) {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				u := models.User{FirstName: "F", LastName: "L", Username: "Racer", Password: "x"}
				errs[i] = s.CreateUser(t.Context(), &u)
			})
		}
		wg.Wait()
		var ok, conflicts int
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 || conflicts != n-1 {
			t.Errorf("%d succeeded and %d conflicted, want 1 and %d", ok, conflicts, n-1)
		}
		if got := countRows(t, s, rawDB(t, s.URL()), `SELECT COUNT(*) FROM users WHERE username_key = ?`, "racer"); got != 1 {
			t.Errorf("%d rows for the name, want 1", got)
		}
	})
}

func TestUsernamesAreStoredVerbatim(t *testing.T) {
	names := []string{
		`Robert'); DROP TABLE users;--`,
		`x' OR '1'='1`,
		`100%_sure\`,
		`"quoted" name`,
		`semi;colon -- comment /* block */`,
		`$1 ? @viewer :name`,
	}
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ids := make(map[string]int64)
		for _, name := range names {
			ids[name] = createUser(t, s, name).UserID
		}
		for _, name := range names {
			got, err := s.UserByUsername(t.Context(), name)
			if err != nil {
				t.Errorf("UserByUsername(%q): %v", name, err)
				continue
			}
			if got.Username != name || got.UserID != ids[name] {
				t.Errorf("UserByUsername(%q) = %d %q, want %d and the name verbatim", name, got.UserID, got.Username, ids[name])
			}
			byID, err := s.UserByID(t.Context(), ids[name])
			if err != nil || byID.Username != name {
				t.Errorf("UserByID(%d) = %q, %v; want %q", ids[name], byID.Username, err, name)
			}
		}
		// A wildcard must not match like LIKE would.
		if _, err := s.UserByUsername(t.Context(), `100%`); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UserByUsername(%q): %v, want ErrNotFound", `100%`, err)
		}
		if got := countRows(t, s, rawDB(t, s.URL()), `SELECT COUNT(*) FROM users`); got != int64(len(names)) {
			t.Errorf("users table holds %d rows, want %d", got, len(names))
		}
	})
}

func TestUserByIDUnknown(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		u := createUser(t, s, "alice")
		for _, id := range []int64{u.UserID + 1, 0, -1, 1 << 62} {
			if _, err := s.UserByID(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("UserByID(%d): %v, want ErrNotFound", id, err)
			}
		}
	})
}

// UsersAfter gives the users newer than an id in id order, leaves disabled ones out but goes past
// them, and NewestUserID is where it starts.
func TestUsersAfter(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		if id, err := s.NewestUserID(ctx); err != nil || id != 0 {
			t.Fatalf("NewestUserID with no users = %d, %v; want 0", id, err)
		}
		alice := createUser(t, s, "alice")
		start, err := s.NewestUserID(ctx)
		if err != nil || start != alice.UserID {
			t.Fatalf("NewestUserID = %d, %v; want alice's %d", start, err, alice.UserID)
		}
		if users, next, err := s.UsersAfter(ctx, start, 10); err != nil || len(users) != 0 || next != start {
			t.Fatalf("UsersAfter with nothing new = %v, %d, %v", users, next, err)
		}
		bob, carol, dave := createUser(t, s, "bob"), createUser(t, s, "carol"), createUser(t, s, "dave")
		if _, err := s.DisableUser(ctx, carol.UserID, nil); err != nil {
			t.Fatal(err)
		}
		users, next, err := s.UsersAfter(ctx, start, 2)
		if err != nil || len(users) != 1 || users[0].UserID != bob.UserID || next != carol.UserID {
			t.Fatalf("UsersAfter(limit 2) = %v, %d, %v; want bob, and carol's id as the next start", users, next, err)
		}
		users, next, err = s.UsersAfter(ctx, next, 2)
		if err != nil || len(users) != 1 || users[0].UserID != dave.UserID || next != dave.UserID {
			t.Fatalf("UsersAfter(carol) = %v, %d, %v; want dave", users, next, err)
		}
	})
}
