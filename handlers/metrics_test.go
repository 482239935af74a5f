package handlers

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"messenger/internal/metrics"
)

// scrape reads the metrics as Prometheus does, into series ("name{labels}") and values.
func scrape(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d", rec.Code)
	}
	series := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: a line without a value: %q", line)
		}
		series[line[:i]] = v
	}
	return series
}

// After a chat, the metrics show it: the sockets open, the message stored, its frames delivered to
// both pages with their latency, the batch that committed it, the send's HTTP duration under its
// route pattern, the hashing waits of the registrations and the database pools; a request that no
// route answers is counted as unmatched, without its path.
func TestMetricsFollowAChat(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		m := metrics.New()
		ts := startServer(t, testOptions{dialect: dialect, pgBroker: dialect == "postgres", metrics: m})
		alice, bob := ts.signedUp("alice"), ts.signedUp("bob")
		aliceSock, bobSock := alice.socket().ready(), bob.socket().ready()
		before := scrape(t, m)
		if got := before["messenger_sockets_open"]; got != 2 {
			t.Fatalf("sockets open: %v, want 2", got)
		}

		if r := alice.send("bob", "hello through the metrics", ""); r.status != http.StatusSeeOther {
			t.Fatalf("send: %d", r.status)
		}
		bobSock.waitFor(0, "hello through the metrics")
		aliceSock.waitFor(0, "hello through the metrics")
		alice.get("/no/such/page/alice")
		// The frames are counted once written, which the client may see first.
		var after map[string]float64
		waitUntil(t, "two message frames counted", func() bool {
			after = scrape(t, m)
			return after["messenger_messages_delivered_total"]-before["messenger_messages_delivered_total"] == 2
		})
		moved := func(series string) float64 { return after[series] - before[series] }
		pool := map[string]string{"sqlite": "writer", "postgres": "main"}[dialect]
		for series, want := range map[string]float64{
			"messenger_messages_stored_total":          1,
			"messenger_delivery_latency_seconds_count": 2,
			"messenger_send_latency_seconds_count":     1,
			"messenger_send_batch_size_count":          1,
			"messenger_send_batch_size_sum":            1,
			`messenger_http_request_duration_seconds_count{method="POST",route="/chat/:username/messages",status="303"}`: 1,
			`messenger_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}`:                 1,
		} {
			if got := moved(series); got != want {
				t.Errorf("%s moved by %v, want %v", series, got, want)
			}
		}
		for series, atLeast := range map[string]float64{
			"messenger_sockets_open":                              2,
			"messenger_password_hash_wait_seconds_count":          2,
			`go_sql_max_open_connections{db_name="` + pool + `"}`: 1,
			"go_goroutines": 1,
		} {
			if got := after[series]; got < atLeast {
				t.Errorf("%s = %v, want at least %v", series, got, atLeast)
			}
		}
		for series := range after {
			if strings.Contains(series, "alice") || strings.Contains(series, "/no/such") {
				t.Errorf("a series names a path or a user: %s", series)
			}
		}
	})
}
