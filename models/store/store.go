// Package store is the only place that talks SQL. Every method takes a context and wraps its errors
// with what it was doing; callers compare against ErrNotFound and ErrConflict.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"messenger/migrations"
)

var (
	// ErrNotFound means the row asked for does not exist (or is not the caller's to see).
	ErrNotFound = errors.New("not found")
	// ErrConflict means a uniqueness rule refused the write.
	ErrConflict = errors.New("conflict")
)

// Store wraps the database handles: db writes and reader reads. On SQLite they are two pools on one
// file: one connection that writes (SQLite has one writer at a time; queuing in Go beats SQLITE_BUSY)
// and a few read-only ones beside it, which WAL lets read while the writer writes. On PostgreSQL both
// are the same pool.
type Store struct {
	db       *gorm.DB
	sqlDB    *sql.DB
	reader   *gorm.DB
	readerDB *sql.DB
	dialect  migrations.Dialect
	url      string
	migrated migrations.Result
	send     sender
	stmts    statements
	ckpt     *checkpointer // SQLite's; nil on PostgreSQL
}

// Target says which database a DATABASE_URL names.
type Target struct {
	Dialect migrations.Dialect
	DSN     string // what the driver gets
}

// ParseURL reads DATABASE_URL: empty means the SQLite file messenger.db, "sqlite:PATH" another SQLite
// file, "postgres://" or "postgresql://" a PostgreSQL server.
func ParseURL(raw string) (Target, error) {
	switch {
	case raw == "":
		return Target{Dialect: migrations.SQLite, DSN: "messenger.db"}, nil
	case strings.HasPrefix(raw, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(raw, "sqlite:"), "//")
		if path == "" {
			return Target{}, errors.New("DATABASE_URL: sqlite: needs a file path")
		}
		return Target{Dialect: migrations.SQLite, DSN: path}, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			return Target{}, fmt.Errorf("DATABASE_URL: %w", err)
		}
		return Target{Dialect: migrations.Postgres, DSN: raw}, nil
	}
	return Target{}, errors.New("DATABASE_URL: expected sqlite:PATH or postgres://…")
}

// Open connects, applies migrations and returns a ready store.
func Open(ctx context.Context, databaseURL string, log *slog.Logger) (*Store, error) {
	target, err := ParseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	cfg := &gorm.Config{
		Logger:                 logger.Discard,
		TranslateError:         true,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
		// Every query is prepared once per connection and kept (SQLite would otherwise parse its text
		// on every call). The store's queries are a fixed set, so the bound is never reached in use.
		// Ten years is GORM's "never expire": a shorter TTL closes statements in use (and runs a
		// cleanup goroutine per handle that nothing stops).
		PrepareStmt:        true,
		PrepareStmtMaxSize: 256,
		PrepareStmtTTL:     10 * 365 * 24 * time.Hour,
	}
	var db, reader *gorm.DB
	switch target.Dialect {
	case migrations.SQLite:
		// busy_timeout first, so that switching to WAL waits for another process opening the file; WAL lets
		// readers run beside the writer. synchronous(FULL): a commit is on disk (the WAL fsynced) before
		// SendMessage tells anyone; NORMAL would lose the last commits at a power cut. The rest is for
		// the group commit under load (docs/PERFORMANCE.md, the pinned profiles): temp_store(MEMORY) keeps
		// the statement journal of the batch's multi-row statements in memory (in a file it cost a write(2)
		// per page, 5% of the CPU); cache_size 32 MiB keeps the indexes the batch inserts into in memory
		// (the default 2 MiB re-read pages with pread, 8%). Checkpoints are the checkpointer's
		// (checkpoint.go); the writer's wal_autocheckpoint is only a bound for when it cannot keep up.
		if err := createPrivate(target.DSN); err != nil {
			return nil, err
		}
		dsn := "file:" + target.DSN + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-32768)&_pragma=wal_autocheckpoint(" + strconv.Itoa(writerCheckpointPages) + ")&_time_format=sqlite"
		// Switching a new file to WAL takes an exclusive lock without waiting for it: another process
		// opening the same file at the same moment makes this fail once in a while; try again.
		for attempt := 1; ; attempt++ {
			db, err = gorm.Open(sqliteDialect{dsn: dsn}, cfg)
			if err == nil || attempt == 50 || !strings.Contains(err.Error(), "SQLITE_BUSY") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	default:
		db, err = gorm.Open(postgres.Open(target.DSN), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", target.Dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	if target.Dialect == migrations.SQLite {
		sqlDB.SetMaxOpenConns(1)
	} else {
		// A few connections per core of a small server keep it busy without thrashing it (sends use
		// one: the committer's); as many kept idle as may be open, or every burst above the idle
		// count would pay a new connection (TLS, authentication) per query.
		sqlDB.SetMaxOpenConns(postgresConns)
		sqlDB.SetMaxIdleConns(postgresConns)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("store: connect %s: %w", target.Dialect, err)
	}
	migrated, err := migrations.Up(ctx, sqlDB, target.Dialect)
	if err != nil {
		sqlDB.Close()
		return nil, err
	}
	readerDB := sqlDB
	reader = db
	if target.Dialect == migrations.SQLite {
		// Opened after the migrations, so the file is in WAL mode already. query_only: a write sent
		// here by mistake fails instead of contending with the writer.
		dsn := "file:" + target.DSN + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=query_only(1)&_time_format=sqlite"
		if reader, err = gorm.Open(sqliteDialect{dsn: dsn}, cfg); err == nil {
			readerDB, err = reader.DB()
		}
		if err != nil {
			sqlDB.Close()
			return nil, fmt.Errorf("store: open %s readers: %w", target.Dialect, err)
		}
		readerDB.SetMaxOpenConns(sqliteReaders)
		readerDB.SetMaxIdleConns(sqliteReaders)
	}
	var ckpt *checkpointer
	if target.Dialect == migrations.SQLite {
		if ckpt, err = openCheckpointer(target.DSN, log); err != nil {
			sqlDB.Close()
			readerDB.Close()
			return nil, err
		}
	}
	st := &Store{db: db, sqlDB: sqlDB, reader: reader, readerDB: readerDB, dialect: target.Dialect, url: databaseURL, migrated: migrated,
		send: sender{queue: make(chan *sendRequest, maxBatch), done: make(chan struct{})}, ckpt: ckpt}
	go st.commitLoop()
	if err := errors.Join(st.backfillSkeletons(ctx, log), st.backfillNameKeys(ctx)); err != nil {
		st.Close()
		return nil, err
	}
	log.Info("database ready", "dialect", string(target.Dialect))
	return st, nil
}

// createPrivate creates the SQLite file readable by its owner only (0600) when it does not exist yet;
// SQLite gives its -wal and -shm files the database file's mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	return f.Close()
}

const (
	// sqliteReaders is the size of SQLite's pool of read-only connections.
	sqliteReaders = 4
	// postgresConns bounds an instance's PostgreSQL connections (two instances and their brokers stay
	// well under the server's default max_connections of 100).
	postgresConns = 20
)

// Close lets queued sends finish and releases the connections.
func (s *Store) Close() error {
	s.stopCommitter()
	var err error
	if s.ckpt != nil {
		err = s.ckpt.close()
	}
	err = errors.Join(err, s.stmts.close(), s.sqlDB.Close())
	if s.readerDB != s.sqlDB {
		err = errors.Join(err, s.readerDB.Close())
	}
	return err
}

// Dialect names the database in use.
func (s *Store) Dialect() migrations.Dialect { return s.dialect }

// Migrated says which migrations Open applied and the schema version it left.
func (s *Store) Migrated() migrations.Result { return s.migrated }

// URL is the DATABASE_URL the store was opened with (the PostgreSQL broker listens on it too).
func (s *Store) URL() string { return s.url }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// q is for writes (and reads that must see them in the same transaction); r is for reads.
func (s *Store) q(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }
func (s *Store) r(ctx context.Context) *gorm.DB { return s.reader.WithContext(ctx) }

// wrap names the operation and maps driver errors onto the sentinels.
func wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		err = ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		err = ErrConflict
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

func now() time.Time { return time.Now().UTC() }
