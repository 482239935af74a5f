package handlers

import (
	"context"
	"sync"
	"time"

	"messenger/handlers/realtime"
	"messenger/models"
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
	last := int64(-1) // not known yet: the first look, at once, only finds where to start
	tick := time.NewTicker(newUsersPoll)
	defer tick.Stop()
	for {
		var users []models.User
		var err error
		if last < 0 {
			var newest int64
			if newest, err = s.store.NewestUserID(ctx); err == nil {
				last = newest
			}
		} else {
			users, last, err = s.store.UsersAfter(ctx, last, 100) // on error last stays
		}
		if err != nil && ctx.Err() == nil {
			s.log.Warn("look for new users", "err", err)
		}
		for _, u := range users {
			if s.announced.take(u.UserID) {
				continue
			}
			u.Password = ""
			s.deliver(realtime.Event{Kind: realtime.KindUser, ActorID: u.UserID, Actor: &u})
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
