package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// -mode history: signed-in users read their conversations. Each pair's conversation is seeded with
// -seed messages first (over HTTP, as fast as the server answers), then -concurrency clients, each
// sending its next request as soon as the last is answered, ask for pages at random positions: the
// older-messages fragment (htmx's request for "load earlier") or the conversation page.

// conversation is one pair and the ids of its messages, oldest first.
type conversation struct {
	a, b *user
	ids  []int64
}

type historyReport struct {
	cfg config
	runInfo

	Conversations int // seeded
	Seeded        int // messages stored while seeding
	SeedTime      time.Duration
	Requests      requestSummary
	ServerCPU     float64 // seconds the server spent while the clients read; -1 without a pid
}

func runHistory(ctx context.Context, cfg config, logw io.Writer) (*historyReport, error) {
	rep := &historyReport{cfg: cfg, ServerCPU: -1}
	e, users, finish, err := setUpUsers(ctx, cfg, logw, &rep.runInfo, 2*cfg.pairs)
	defer finish()
	if e == nil {
		return nil, err
	}
	if err != nil {
		return rep, err
	}

	e.logf("seeding %d conversations with %d messages each, %d at a time", cfg.pairs, cfg.seed, cfg.concurrency)
	start := time.Now()
	convs := e.seedConversations(ctx, users, cfg.pairs, cfg.seed, cfg.concurrency)
	rep.SeedTime = time.Since(start)
	rep.Conversations = len(convs)
	for _, c := range convs {
		rep.Seeded += len(c.ids)
	}
	if ctx.Err() != nil {
		return rep, fmt.Errorf("stopped while seeding: %w", context.Cause(ctx))
	}
	if len(convs) == 0 {
		return rep, errors.New("no conversation could be seeded")
	}

	e.logf("%d clients reading %s for %s", cfg.concurrency, historyTarget(cfg.historyPage), cfg.duration)
	stats := newRequestStats()
	before := e.probe.sample()
	start = time.Now()
	e.readHistory(ctx, convs, cfg, start.Add(cfg.duration), stats)
	took := time.Since(start)
	if after := e.probe.sample(); before != nil && after != nil {
		rep.ServerCPU = after.CPUSecs - before.CPUSecs
	}
	rep.Requests = stats.summary(took)
	if ctx.Err() != nil {
		return rep, fmt.Errorf("stopped while reading: %w", context.Cause(ctx))
	}
	return rep, nil
}

func historyTarget(page string) string {
	if page == "page" {
		return "the conversation page (GET /chat/{partner})"
	}
	return "the older-messages fragment (GET /chat/{partner}/messages?before=ID, HX-Request)"
}

// seedConversations stores seed messages in the conversation of each of the first pairs pairs of
// users, the two writing in turn, concurrency conversations at a time. It returns the conversations
// that got at least two messages (a page before the newest needs one older message).
func (e *env) seedConversations(ctx context.Context, users []*user, pairs, seed, concurrency int) []*conversation {
	convs := make([]*conversation, pairs)
	forEach(ctx, pairs, concurrency, nil, func(i int) {
		c := &conversation{a: users[2*i], b: users[2*i+1]}
		if err := e.seedConversation(ctx, c, seed); err != nil && ctx.Err() == nil {
			e.errs.add("seed: " + err.Error())
		}
		convs[i] = c
	})
	var out []*conversation
	for _, c := range convs {
		if c != nil && len(c.ids) >= 2 {
			out = append(out, c)
		}
	}
	return out
}

var messageIDRE = regexp.MustCompile(`data-message-id="(\d+)"`)

// seedConversation sends n messages between c.a and c.b as the composer does with htmx, and keeps
// the id of each (from the fragment the server answers). It stops at the first failure.
func (e *env) seedConversation(ctx context.Context, c *conversation, n int) error {
	tokenA, err := e.reg.formToken(ctx, c.a.jar, "/chat/"+c.b.username)
	if err != nil {
		return err
	}
	tokenB, err := e.reg.formToken(ctx, c.b.jar, "/chat/"+c.a.username)
	if err != nil {
		return err
	}
	hx := http.Header{"Hx-Request": {"true"}}
	for k := range n {
		from, to, token := c.a, c.b, tokenA
		if k%2 == 1 {
			from, to, token = c.b, c.a, tokenB
		}
		form := url.Values{
			"_csrf":     {token},
			"body":      {fmt.Sprintf("history message %d from %s", k, from.username)},
			"client_id": {fmt.Sprintf("%s-seed-%d-%d", e.runID, from.index, k)},
		}
		resp, body, err := e.reg.fetch(ctx, from.jar, http.MethodPost, "/chat/"+to.username+"/messages", form, hx)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("POST /chat/{partner}/messages: status %d (a server with SEND_RATE=0 seeds fastest)", resp.StatusCode)
		}
		m := messageIDRE.FindSubmatch(body)
		if m == nil {
			return errors.New("POST /chat/{partner}/messages: no data-message-id in the answer")
		}
		id, _ := strconv.ParseInt(string(m[1]), 10, 64)
		c.ids = append(c.ids, id)
	}
	return nil
}

// historyRequest picks a random conversation, a random one of its two users as the reader and, for
// the older-messages fragment, a random message other than the oldest as the cursor. It returns the
// reader, the path (with its query) and the headers to send.
func historyRequest(convs []*conversation, page string) (*user, string, http.Header) {
	c := convs[mrand.IntN(len(convs))]
	reader, partner := c.a, c.b
	if mrand.IntN(2) == 1 {
		reader, partner = c.b, c.a
	}
	if page == "page" {
		return reader, "/chat/" + partner.username, nil
	}
	before := c.ids[1+mrand.IntN(len(c.ids)-1)]
	return reader, fmt.Sprintf("/chat/%s/messages?before=%d", partner.username, before), http.Header{"Hx-Request": {"true"}}
}

// readHistory runs cfg.concurrency closed-loop clients until end, on the keep-alive connections of
// the shared transport.
func (e *env) readHistory(ctx context.Context, convs []*conversation, cfg config, end time.Time, stats *requestStats) {
	var wg sync.WaitGroup
	for range cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(end) {
				reader, path, header := historyRequest(convs, cfg.historyPage)
				start := time.Now()
				resp, body, err := e.reg.fetch(ctx, reader.jar, http.MethodGet, path, nil, header)
				if err != nil {
					if ctx.Err() == nil {
						stats.unanswered()
						e.errs.add(err.Error())
					}
					continue
				}
				stats.answered(resp.StatusCode, time.Since(start), len(body))
			}
		}()
	}
	wg.Wait()
}

func (r *historyReport) complete() bool {
	return r.Requests.Answered > 0 && r.Requests.failed(http.StatusOK) == 0
}

func (r *historyReport) cpuPerRequest() float64 {
	if r.ServerCPU < 0 || r.Requests.Answered == 0 {
		return -1
	}
	return 1e6 * r.ServerCPU / float64(r.Requests.Answered)
}

func (r *historyReport) write(w io.Writer) {
	p := newPrinter(w)
	r.writeHead(p)
	p("seeded", "%d conversations, %d messages in %s (%.1f msg/s)", r.Conversations, r.Seeded, fmtDur(r.SeedTime), rate(r.Seeded, r.SeedTime))
	p("reading", "%s, %d clients for %s", historyTarget(r.cfg.historyPage), r.cfg.concurrency, r.cfg.duration)
	r.Requests.write(p, "requests")
	if us := r.cpuPerRequest(); us >= 0 {
		p("server CPU", "%.1fs while reading (%.2f cores), %.0f µs per request", r.ServerCPU, r.ServerCPU/r.Requests.Time.Seconds(), us)
	}
	r.writeTail(p)
}

func (r *historyReport) json() any {
	return r.addJSON(map[string]any{
		"mode":                      modeHistory,
		"history_page":              r.cfg.historyPage,
		"pairs":                     r.cfg.pairs,
		"seed":                      r.cfg.seed,
		"concurrency":               r.cfg.concurrency,
		"duration_seconds":          r.cfg.duration.Seconds(),
		"conversations":             r.Conversations,
		"seeded":                    r.Seeded,
		"seed_seconds":              r.SeedTime.Seconds(),
		"requests":                  r.Requests.json(),
		"server_cpu_seconds":        r.ServerCPU,
		"server_cpu_us_per_request": r.cpuPerRequest(),
	})
}
