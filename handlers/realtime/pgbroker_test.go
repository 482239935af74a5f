package realtime

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func testDatabaseURL(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("TEST_DATABASE_URL")
	if dsn != "" {
		return dsn
	}
	if os.Getenv("CI") != "" {
		t.Fatal("TEST_DATABASE_URL is not set: CI must run the PostgreSQL broker tests (use .ci/with-postgres.sh)")
	}
	t.Skip("TEST_DATABASE_URL is not set: skipping the PostgreSQL broker tests")
	return ""
}

// pgInstance is one broker as an app instance would run it; its connections
// carry their own application_name so the test can find and kill them.
type pgInstance struct {
	broker  Broker
	stop    func()
	appName string
	events  chan Event
	resyncs chan Event
}

// startInstance starts a broker that keeps only this test's events: other
// packages' tests may share the database and the channel.
func startInstance(t *testing.T, dsn, appName string, conversation int64) *pgInstance {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", appName)
	u.RawQuery = q.Encode()
	logger := slog.New(slog.NewTextHandler(t.Output(), nil)).With("instance", appName)
	b, err := NewPGBroker(u.String(), logger)
	if err != nil {
		t.Fatal(err)
	}
	in := &pgInstance{broker: b, appName: appName, events: make(chan Event, 10_000), resyncs: make(chan Event, 100)}
	in.stop = runBroker(t, b, func(ev Event) {
		switch {
		case ev.Kind == KindResync:
			in.resyncs <- ev
		case ev.ConversationID == conversation:
			in.events <- ev
		}
	})
	return in
}

// waitListening waits until the instance's LISTEN has completed: a
// notification sent before that would not reach it.
func waitListening(t *testing.T, admin *pgx.Conn, appName string) {
	t.Helper()
	eventually(t, appName+" listening", func() bool {
		var n int
		err := admin.QueryRow(context.Background(),
			`SELECT count(*) FROM pg_stat_activity
			 WHERE application_name = $1 AND query LIKE 'LISTEN%' AND state = 'idle'`, appName).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	})
}

func TestPGBrokerAcrossInstances(t *testing.T) {
	dsn := testDatabaseURL(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(ctx) })

	conversation := rand.Int64()
	prefix := fmt.Sprintf("realtime_test_%d", conversation)
	a := startInstance(t, dsn, prefix+"_a", conversation)
	b := startInstance(t, dsn, prefix+"_b", conversation)
	instances := []*pgInstance{a, b}
	for _, in := range instances {
		waitListening(t, admin, in.appName)
	}

	expect := func(t *testing.T, want []int64) {
		t.Helper()
		for _, in := range instances {
			var got []int64
			for len(got) < len(want) {
				got = append(got, receive(t, in.events, fmt.Sprintf("%d events on %s", len(want), in.appName)).MessageID)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s received %v, want %v", in.appName, got, want)
			}
		}
	}
	publish := func(t *testing.T, from *pgInstance, ids ...int64) {
		t.Helper()
		for _, id := range ids {
			ev := Event{Kind: KindMessage, MessageID: id, ConversationID: conversation, ActorID: 1, Users: []int64{1, 2}}
			if err := from.broker.Publish(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("one event reaches both instances", func(t *testing.T) {
		publish(t, a, 1)
		expect(t, []int64{1})
	})

	t.Run("500 quick events arrive all and in order", func(t *testing.T) {
		ids := make([]int64, 500)
		for i := range ids {
			ids[i] = int64(1000 + i)
		}
		start := time.Now()
		publish(t, b, ids...)
		expect(t, ids)
		t.Logf("500 events delivered to both instances in %v", time.Since(start))
	})

	t.Run("an event too big for one notification arrives split", func(t *testing.T) {
		users := make([]int64, 3000)
		for i := range users {
			users[i] = int64(i + 1)
		}
		ev := Event{Kind: KindPresence, ActorID: 9, Up: []int64{9}, ConversationID: conversation, Users: users}
		if err := a.broker.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
		for _, in := range instances {
			var got []int64
			for len(got) < len(users) {
				part := receive(t, in.events, "the parts of a split event")
				if part.ActorID != 9 || len(part.Up) != 1 {
					t.Fatalf("part lost fields: %+v", part)
				}
				got = append(got, part.Users...)
			}
			if !slices.Equal(got, users) {
				t.Fatalf("%s: split event delivered to the wrong users", in.appName)
			}
		}
	})

	t.Run("a dropped connection is followed by a resync", func(t *testing.T) {
		// Kill both of a's connections, listening and publishing.
		var killed int
		err := admin.QueryRow(ctx,
			`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
			a.appName).Scan(&killed)
		if err != nil {
			t.Fatal(err)
		}
		if killed < 2 {
			t.Fatalf("terminated %d backends of %s, want its listener and publisher", killed, a.appName)
		}
		receive(t, a.resyncs, "a resync after the drop")
		waitListening(t, admin, a.appName)

		// One at a time: order holds per publisher, not across instances.
		publish(t, a, 2001)
		expect(t, []int64{2001})
		publish(t, b, 2002)
		expect(t, []int64{2002})
		if len(b.resyncs) != 0 {
			t.Fatal("the instance that kept its connection was told to resync")
		}
	})

	t.Run("events published just before shutdown still leave", func(t *testing.T) {
		publish(t, a, 3001, 3002, 3003)
		a.stop()
		instances = []*pgInstance{b}
		expect(t, []int64{3001, 3002, 3003})
	})
}
