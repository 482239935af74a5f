package store

import "database/sql"

// ObserveBatches has fn told, on the committer after each group-commit transaction, how many sends it
// carried and how many of them were new messages (a retried client id stores nothing). fn must be
// quick. Call it before the first send, like AnnounceSends.
func (s *Store) ObserveBatches(fn func(batch, stored int)) {
	s.send.observeBatch = fn
}

func (snd *sender) observe(batch int, results map[*sendRequest]sendResult) {
	if snd.observeBatch == nil {
		return
	}
	stored := 0
	for _, r := range results {
		if r.created && r.err == nil {
			stored++
		}
	}
	snd.observeBatch(batch, stored)
}

// Pools are the store's connection pools by name, for their statistics (sql.DBStats) only: queries
// belong in this package. On SQLite the writer's single connection and the readers' pool; on
// PostgreSQL one pool.
func (s *Store) Pools() map[string]*sql.DB {
	if s.readerDB == s.sqlDB {
		return map[string]*sql.DB{"main": s.sqlDB}
	}
	return map[string]*sql.DB{"writer": s.sqlDB, "reader": s.readerDB}
}
