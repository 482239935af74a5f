package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var liveMessagePattern = regexp.MustCompile(`data-message-id="(\d+)" data-seq="(\d+)" data-sender="([^"]+)"[^>]*>[\s\S]*?class="message-body">([^<]*)<`)

// A and B each send 1,000 messages at once while both have the conversation open: all 2,000 are
// stored, each sender's order is kept, and what each page was shown live equals the stored history.
func TestBurstFromBothSides(t *testing.T) {
	eachDialect(t, testBurst)
}

func testBurst(t *testing.T, dialect string) {
	const perSender = 1000
	// Flow control is lifted: this test is about storage and order, TestFlowControl about pace.
	ts := startServer(t, testOptions{dialect: dialect, flow: FlowLimits{SendRate: NoLimit}})
	a, b := ts.signedUp("alice"), ts.signedUp("bob")
	aSock, bSock := a.socket(), b.socket()
	aSock.sendJSON(`{"kind":"open","to":"bob","after":"0"}`)
	bSock.sendJSON(`{"kind":"open","to":"alice","after":"0"}`)
	aSock.waitFor(0, `id="live-`)
	bSock.waitFor(0, `id="live-`)

	var wg sync.WaitGroup
	for _, side := range []struct {
		who *browser
		to  string
	}{{a, "bob"}, {b, "alice"}} {
		tok := side.who.token("/chat/" + side.to)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perSender; i++ {
				form := url.Values{"_csrf": {tok}, "body": {fmt.Sprintf("%s-%04d", side.to, i)}, "client_id": {fmt.Sprintf("burst-%d", i)}}
				if r := side.who.do(http.MethodPost, "/chat/"+side.to+"/messages", form, nil); r.status != http.StatusSeeOther {
					t.Errorf("send %d to %s: %d", i, side.to, r.status)
					return
				}
			}
		}()
	}
	wg.Wait()

	conv, err := ts.store.ConversationBetween(t.Context(), 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	history, err := ts.store.MessagesAfter(t.Context(), conv.ConversationID, 0, 3*perSender)
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 2*perSender {
		t.Fatalf("stored %d messages, want %d", len(history), 2*perSender)
	}
	next := map[string]int{}
	for i, m := range history {
		if m.Seq != int64(i+1) {
			t.Fatalf("seq %d at position %d", m.Seq, i)
		}
		to, n, _ := strings.Cut(m.MessageBody, "-")
		if want := fmt.Sprintf("%04d", next[to]); n != want {
			t.Fatalf("messages to %s out of order: got %s, want %s", to, n, want)
		}
		next[to]++
	}
	for name, s := range map[string]*liveSocket{"alice": aSock, "bob": bSock} {
		deadline := time.Now().Add(60 * time.Second)
		for {
			shown := liveShown(s)
			if len(shown) == len(history) {
				for i, m := range history {
					if shown[i] != m.MessageID {
						t.Fatalf("%s's page shows message %d at %d, history has %d", name, shown[i], i, m.MessageID)
					}
				}
				break
			}
			if len(shown) > len(history) || time.Now().After(deadline) {
				t.Fatalf("%s's page was shown %d messages live, history has %d", name, len(shown), len(history))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// liveShown lists, in order, the message ids a page appended from its socket's live fragments.
func liveShown(s *liveSocket) []int64 {
	var ids []int64
	for _, frame := range s.snapshot() {
		if !strings.Contains(frame, `hx-swap-oob="beforeend:#live-`) {
			continue
		}
		for _, m := range liveMessagePattern.FindAllStringSubmatch(frame, -1) {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			ids = append(ids, id)
		}
	}
	return ids
}
