package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"
)

// A fan-out probe times one fragment that every open socket should receive (a new user's row, a
// user's dot going green): it starts a clock, makes the change happen, and records when each socket
// got a frame holding the pattern.

// fanOutWatch is the pattern the socket readers are looking for, and when each socket saw it.
type fanOutWatch struct {
	pattern []byte
	start   time.Time

	mu    sync.Mutex
	after map[int]time.Duration // socket id -> arrival, measured from start
	frame []byte                // the first frame that held the pattern
}

// saw records data's arrival on socket id when it holds the pattern; readers call it for every frame.
func (w *fanOutWatch) saw(id int, data []byte, at time.Time) {
	if !bytes.Contains(data, w.pattern) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.after[id]; ok {
		return
	}
	w.after[id] = at.Sub(w.start)
	if w.frame == nil {
		w.frame = slices.Clone(data)
	}
}

// fanOut is what one probe found.
type fanOut struct {
	Sockets int           // sockets that should have received the fragment
	Reached int           // those that did within the wait
	P50     time.Duration // arrival times after the change was started, over the sockets reached
	Last    time.Duration
}

// probeFanOut watches set's sockets for pattern, runs change, and waits until every socket saw the
// pattern or wait is over. It returns what it found and the first matching frame.
func probeFanOut(ctx context.Context, set *socketSet, pattern string, wait time.Duration, change func() error) (fanOut, []byte, error) {
	set.mu.Lock()
	sockets := len(set.all)
	set.mu.Unlock()
	w := &fanOutWatch{pattern: []byte(pattern), after: make(map[int]time.Duration, sockets), start: time.Now()}
	set.counters.watch.Store(w)
	defer set.counters.watch.Store(nil)
	err := change()
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for err == nil && time.Now().Before(deadline) {
		w.mu.Lock()
		n := len(w.after)
		w.mu.Unlock()
		if n >= sockets {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			err = context.Cause(ctx)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	lat := summarize(slices.Collect(maps.Values(w.after)))
	return fanOut{Sockets: sockets, Reached: lat.Count, P50: lat.P50, Last: lat.Max}, w.frame, err
}

// fanOutWait bounds how long a probe waits for the last socket.
const fanOutWait = 10 * time.Second

// probeIdleFanOuts times two fragments that reach every open socket of set: a new user registers (their
// row appears in every users list), then opens a page (their dot turns green everywhere).
func probeIdleFanOuts(ctx context.Context, e *env, set *socketSet) (newUser, presence fanOut, err error) {
	name := fmt.Sprintf("ld%s_probe", e.runID)
	var jar http.CookieJar
	newUser, frame, err := probeFanOut(ctx, set, `data-user="`+name+`"`, fanOutWait, func() error {
		var err error
		jar, err = e.reg.register(ctx, name)
		return err
	})
	if err != nil {
		return newUser, presence, fmt.Errorf("new user probe: %w", err)
	}
	row := regexp.MustCompile(`id="user-(\d+)"\s+data-user="` + regexp.QuoteMeta(name) + `"`).FindSubmatch(frame)
	if row == nil {
		return newUser, presence, errors.New("new user probe: no socket got the new user's row")
	}
	probes := newSocketSet(newTracker(), e.errs, 0)
	defer probes.closeAll()
	presence, _, err = probeFanOut(ctx, set, `data-dot="`+string(row[1])+`" data-online="true"`, fanOutWait, func() error {
		s, err := dialSocket(ctx, e.wsURL, e.origin, &user{index: -1, username: name, jar: jar}, -1)
		if err == nil {
			probes.add(s)
		}
		return err
	})
	if err != nil {
		return newUser, presence, fmt.Errorf("presence probe: %w", err)
	}
	return newUser, presence, nil
}
