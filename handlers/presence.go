package handlers

import (
	"context"
	"time"

	"messenger/handlers/realtime"
	"messenger/models/store"
)

// presenceChanged records this instance's sockets of a user and tells everyone; the list rows are
// rendered from the database, which counts every instance.
func (s *Server) presenceChanged(userID int64, online bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sockets := 0
	if online {
		sockets = 1
	}
	if err := s.store.Heartbeat(ctx, s.instanceID); err != nil {
		s.log.Warn("presence heartbeat", "err", err)
	}
	if err := s.store.SetPresence(ctx, s.instanceID, userID, sockets); err != nil {
		s.log.Warn("record presence", "user_id", userID, "err", err)
	}
	if !online {
		if err := s.store.SignOffUser(ctx, userID); err != nil {
			s.log.Warn("record last seen", "user_id", userID, "err", err)
		}
	}
	s.publish(ctx, realtime.Event{Kind: realtime.KindPresence, ActorID: userID, Online: online})
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
