package store

import (
	"context"
	"strings"

	"messenger/migrations"
)

// ExtendedSelect lets the external tests explain the very query MessagesBefore runs.
const ExtendedSelect = extendedSelect

// Rebind turns ? placeholders into PostgreSQL's $1, $2… when needed.
var Rebind = rebind

// InBatch makes every batch's transaction call fn once it holds the writer's lock (before the first
// send only).
func (s *Store) InBatch(fn func()) { s.send.inTx = fn }

// Batches is how many send transactions committed.
func (s *Store) Batches() int64 { return s.send.batches.Load() }

// QueuedSends is how many sends wait for the committer.
func (s *Store) QueuedSends() int { return len(s.send.queue) }

// WriterPragma reads a pragma on SQLite's writer connection.
func (s *Store) WriterPragma(ctx context.Context, name string) (string, error) {
	var v string
	err := s.sqlDB.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v)
	return v, err
}

// ExplainHistory returns the plan of History's query, one line per plan node.
func (s *Store) ExplainHistory(ctx context.Context, viewerID int64, partnerName string, beforeID int64, limit int) (string, error) {
	explain := "EXPLAIN "
	if s.dialect == migrations.SQLite {
		explain = "EXPLAIN QUERY PLAN "
	}
	rows, err := s.readerDB.QueryContext(ctx, explain+historySQL(s.dialect, limit+1), historyArgs(viewerID, partnerName, beforeID)...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if s.dialect == migrations.SQLite {
			var id, parent, unused int
			err = rows.Scan(&id, &parent, &unused, &line)
		} else {
			err = rows.Scan(&line)
		}
		if err != nil {
			return "", err
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n"), rows.Err()
}

// Checkpoint runs one round of SQLite's checkpointer: the frames in the WAL and those copied.
func (s *Store) Checkpoint(ctx context.Context) (frames, copied int64, err error) {
	return s.ckpt.round(ctx)
}
