package handlers

import (
	"context"
	"sync"
	"time"

	"messenger/handlers/realtime"
)

// newUsersPoll is how often an instance looks for users nobody announced: those an administration
// command (messenger user create) added from another process, which cannot reach the sockets.
// Registrations through any instance are announced at once by the broker.
const newUsersPoll = time.Second

// announcedUsers are the new users the broker announced that watchNewUsers has not passed yet: it
// skips them, so a page gets each newcomer's row once.
type announcedUsers struct {
	mu  sync.Mutex
	ids map[int64]struct{}
}

func (a *announcedUsers) add(id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ids == nil {
		a.ids = make(map[int64]struct{})
	}
	a.ids[id] = struct{}{}
}

// take reports whether id was announced, and forgets every id up to it: the watcher goes in order.
func (a *announcedUsers) take(id int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.ids[id]
	for other := range a.ids {
		if other <= id {
			delete(a.ids, other)
		}
	}
	return ok
}

// watchNewUsers shows every signed-in page the users created from the shell, as a registration
// would, until ctx ends. A registration whose announcement is still on its way when the watcher
// reads its row arrives twice; the row replaces itself, so the page shows it once.
func (s *Server) watchNewUsers(ctx context.Context) {
	last, err := s.store.NewestUserID(ctx)
	for err != nil {
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("newest user id", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(newUsersPoll):
		}
		last, err = s.store.NewestUserID(ctx)
	}
	tick := time.NewTicker(newUsersPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		users, newest, err := s.store.UsersAfter(ctx, last, 100)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("users after", "err", err)
			}
			continue
		}
		last = newest
		for _, u := range users {
			if s.announced.take(u.UserID) {
				continue
			}
			u.Password = ""
			s.deliver(realtime.Event{Kind: realtime.KindUser, ActorID: u.UserID, Actor: &u})
		}
	}
}
