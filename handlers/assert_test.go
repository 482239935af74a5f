package handlers

import "testing"

// unreadFor is the number of unread messages stored for each named user, together; a query error fails
// the test, so "nothing stored" cannot pass because the count could not be read.
func unreadFor(t *testing.T, ts *testServer, usernames ...string) int64 {
	t.Helper()
	var total int64
	for _, name := range usernames {
		u, err := ts.store.UserByUsername(t.Context(), name)
		if err != nil {
			t.Fatalf("user %s: %v", name, err)
		}
		n, err := ts.store.UnreadCount(t.Context(), u.UserID)
		if err != nil {
			t.Fatalf("unread count of %s: %v", name, err)
		}
		total += n
	}
	return total
}
