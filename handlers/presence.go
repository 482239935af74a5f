package handlers

import (
	"context"
	"sync"
	"time"

	"messenger/handlers/realtime"
	"messenger/models"
	"messenger/models/store"
)

// presenceWindow coalesces presence changes: a storm of connections is published, recorded and
// rendered as one event per window, not one per user.
const presenceWindow = 150 * time.Millisecond

// presenceIDsPerEvent keeps a presence event inside one PostgreSQL notification.
const presenceIDsPerEvent = 500

// presence is who is online, in memory: the users with a socket on this instance (as the hub reports
// them) and, from the other instances' presence events, the users with a socket there.
type presence struct {
	mu      sync.Mutex
	local   map[int64]struct{}
	remote  map[int64]map[string]struct{} // user -> instances
	pending map[int64]bool                // local changes not yet published; the latest wins
	signal  chan struct{}
}

func newPresence() *presence {
	return &presence{
		local:   make(map[int64]struct{}),
		remote:  make(map[int64]map[string]struct{}),
		pending: make(map[int64]bool),
		signal:  make(chan struct{}, 1),
	}
}

func (p *presence) online(userID int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, here := p.local[userID]
	return here || len(p.remote[userID]) > 0
}

// here reports whether the user has a socket on this instance (or had one within the offline grace).
func (p *presence) here(userID int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.local[userID]
	return ok
}

// contacts are the users a presence event names, as its fragment shows them: those who came online,
// and those who went offline here unless they are online elsewhere (seen just now).
func (p *presence) contacts(ev realtime.Event) []models.Contact {
	now := time.Now()
	out := make([]models.Contact, 0, len(ev.Up)+len(ev.Down))
	for _, id := range ev.Up {
		out = append(out, models.Contact{User: models.User{UserID: id}, Online: true})
	}
	for _, id := range ev.Down {
		out = append(out, models.Contact{User: models.User{UserID: id, LastSeenAt: &now}, Online: p.online(id)})
	}
	return out
}

// merge records another instance's presence event.
func (p *presence) merge(ev realtime.Event, self string) {
	if ev.Instance == self || ev.Instance == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ev.Up {
		if p.remote[id] == nil {
			p.remote[id] = make(map[string]struct{}, 1)
		}
		p.remote[id][ev.Instance] = struct{}{}
	}
	for _, id := range ev.Down {
		delete(p.remote[id], ev.Instance)
		if len(p.remote[id]) == 0 {
			delete(p.remote, id)
		}
	}
}

// presenceChanged is the hub's report that this instance's first socket of a user opened (online) or
// its last one stayed closed past the grace (offline). It only takes note; publishPresence records and
// announces the changes in batches.
func (s *Server) presenceChanged(userID int64, online bool) {
	p := s.presence
	p.mu.Lock()
	if online {
		p.local[userID] = struct{}{}
	} else {
		delete(p.local, userID)
	}
	p.pending[userID] = online
	p.mu.Unlock()
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

// publishPresence records this instance's presence changes in the database (pages rendered anywhere
// count them) and announces them to every instance, one batch per presenceWindow, until ctx ends.
func (s *Server) publishPresence(ctx context.Context) {
	p := s.presence
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.signal:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(presenceWindow):
		}
		p.mu.Lock()
		changes := p.pending
		p.pending = make(map[int64]bool)
		p.mu.Unlock()
		s.recordPresence(ctx, changes)
	}
}

func (s *Server) recordPresence(ctx context.Context, changes map[int64]bool) {
	if err := s.store.Heartbeat(ctx, s.instanceID); err != nil {
		s.log.Warn("presence heartbeat", "err", err)
	}
	var up, down []int64
	for userID, online := range changes {
		sockets := 0
		if online {
			sockets = 1
			up = append(up, userID)
		} else {
			down = append(down, userID)
		}
		if err := s.store.SetPresence(ctx, s.instanceID, userID, sockets); err != nil {
			s.log.Warn("record presence", "user_id", userID, "err", err)
		}
		if !online {
			if err := s.store.SignOffUser(ctx, userID); err != nil {
				s.log.Warn("record last seen", "user_id", userID, "err", err)
			}
			s.users.active(userID, nil)
		}
	}
	for len(up)+len(down) > 0 {
		ev := realtime.Event{Kind: realtime.KindPresence, Instance: s.instanceID}
		n := min(len(up), presenceIDsPerEvent)
		ev.Up, up = up[:n], up[n:]
		n = min(len(down), presenceIDsPerEvent-len(ev.Up))
		ev.Down, down = down[:n], down[n:]
		s.publish(ctx, ev)
	}
}

// heartbeat keeps this instance's presence rows counting; rows of an instance that stops beating
// (killed) stop counting after store.PresenceFreshness.
func (s *Server) heartbeat(ctx context.Context) {
	tick := time.NewTicker(store.PresenceFreshness / 3)
	defer tick.Stop()
	for {
		if err := s.store.Heartbeat(ctx, s.instanceID); err != nil && ctx.Err() == nil {
			s.log.Warn("heartbeat", "err", err)
		}
		// Instances that stopped beating were killed; their presence rows go with them.
		if err := s.store.RemoveInstance(ctx, "", 2*store.PresenceFreshness); err != nil && ctx.Err() == nil {
			s.log.Warn("remove stale instances", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
