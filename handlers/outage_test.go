package handlers

import (
	"database/sql"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"messenger/models/store/storetest"
)

// PostgreSQL going away mid-traffic: sends fail visibly with the text kept, /readyz fails, and when the
// database is back everything recovers without a restart; a retried send is stored once and the
// recipient's live socket still gets it.
func TestPostgresOutageRecovers(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	ts := startServer(t, testOptions{databaseURL: dbURL, pgBroker: true})
	alice, bob := ts.signedUp("alice"), ts.signedUp("bob")
	bobSock := bob.socket().ready()
	alice.send("bob", "before the outage", "k1")
	bobSock.waitFor(0, "before the outage")

	tok := alice.token("/chat/bob") // the composer's token, from the page open before the outage
	u, _ := url.Parse(dbURL)
	name := strings.TrimPrefix(u.Path, "/")
	admin, err := sql.Open("pgx", os.Getenv("TEST_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false")
	exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + name + "' AND pid <> pg_backend_pid()")

	headers := map[string]string{"HX-Request": "true", "X-CSRF-Token": tok}
	form := url.Values{"body": {"during the outage"}, "client_id": {"k2"}, "_csrf": {tok}}
	r := alice.do(http.MethodPost, "/chat/bob/messages", form, headers)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, ">during the outage</textarea>") || alertText(r.body) == "" {
		t.Fatalf("send during the outage: %d\n%s", r.status, r.body)
	}
	if r := alice.get("/readyz"); r.status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz during the outage: %d", r.status)
	}

	exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true")
	deadline := time.Now().Add(20 * time.Second)
	for {
		r = alice.do(http.MethodPost, "/chat/bob/messages", form, headers)
		if r.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("send did not recover: %d", r.status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	alice.do(http.MethodPost, "/chat/bob/messages", form, headers) // a second retry of the same send
	bobSock.waitFor(0, "during the outage", `data-client-id="k2"`)
	if ids := messageIDs(bob.get("/chat/alice").body); len(ids) != 2 {
		t.Fatalf("after recovery the conversation holds %d messages, want 2", len(ids))
	}
	if r := alice.get("/readyz"); r.status != http.StatusOK {
		t.Fatalf("/readyz after recovery: %d", r.status)
	}
}
