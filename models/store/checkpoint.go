package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// SQLite's checkpoints copy the pages the WAL holds back into the database file. By default the
// connection that commits runs one when the WAL has grown past a bound, inside that commit: with the
// committer's connection, every send queued behind the batch waited for the copy and the database
// file's fsync, 20 to 60 ms every few seconds under load (docs/PERFORMANCE.md). A checkpointer of its
// own does the copying on another connection, which WAL lets run beside the writer: it neither takes
// the writer's lock nor waits for it (PASSIVE). Once a pass has copied every frame, the writer's next
// transaction starts the WAL again from its beginning, so the file stays small.
//
// The writer keeps a bound of its own far above what one interval writes (writerCheckpointPages),
// for when the checkpointer cannot finish a pass: the writer's commits follow each other with no gap,
// or a reader holds an old snapshot.

const (
	// checkpointEvery is how often the checkpointer copies what the WAL gained.
	checkpointEvery = time.Second
	// checkpointPasses bounds the passes of one round: each copies what the last one left (frames the
	// writer committed meanwhile), until a pass finds every frame copied.
	checkpointPasses = 4
	// writerCheckpointPages is the writer's own bound (pages of WAL; 4 KiB each).
	writerCheckpointPages = 16384
)

// checkpointer runs PASSIVE checkpoints on its own connection until stopped.
type checkpointer struct {
	db      *sql.DB
	log     *slog.Logger
	stop    chan struct{}
	done    chan struct{}
	stopped sync.Once
}

// openCheckpointer opens the checkpointer's connection on the SQLite file at path and starts it.
// synchronous(FULL): a pass fsyncs the database file before it lets the WAL be overwritten.
func openCheckpointer(path string, log *slog.Logger) (*checkpointer, error) {
	connector, err := sqlite.NewConnector("file:" + path + "?_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, fmt.Errorf("store: open the checkpointer: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer close(c.done)
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
			if _, _, err := c.round(context.Background()); err != nil {
				c.log.Warn("checkpoint", "err", err)
			}
		}
	}
}

// round copies the WAL's frames into the database file, pass after pass while the writer adds more,
// and returns the last pass's count of frames in the WAL and of frames copied (equal when the whole
// WAL is in the database file).
func (c *checkpointer) round(ctx context.Context) (frames, copied int64, err error) {
	for range checkpointPasses {
		var busy int64
		if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
			return 0, 0, fmt.Errorf("store: checkpoint: %w", err)
		}
		if busy == 0 && copied == frames {
			break
		}
	}
	return frames, copied, nil
}

// close stops the checkpointer and closes its connection; again, it does nothing.
func (c *checkpointer) close() error {
	c.stopped.Do(func() { close(c.stop) })
	<-c.done
	return c.db.Close()
}
