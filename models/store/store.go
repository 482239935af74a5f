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
	"strings"
	"time"

	"github.com/glebarez/sqlite"
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

// Store wraps the database handle.
type Store struct {
	db      *gorm.DB
	sqlDB   *sql.DB
	dialect migrations.Dialect
	url     string
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
	}
	var db *gorm.DB
	switch target.Dialect {
	case migrations.SQLite:
		// busy_timeout first, so that switching to WAL waits for another process opening the file; WAL lets
		// readers run beside the writer; one connection makes SQLite's single writer explicit,
		// so transactions queue in Go instead of failing with SQLITE_BUSY.
		if err := createPrivate(target.DSN); err != nil {
			return nil, err
		}
		dsn := "file:" + target.DSN + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_time_format=sqlite"
		// Switching a new file to WAL takes an exclusive lock without waiting for it: another process
		// opening the same file at the same moment makes this fail once in a while; try again.
		for attempt := 1; ; attempt++ {
			db, err = gorm.Open(sqlite.Open(dsn), cfg)
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
		sqlDB.SetMaxOpenConns(40)
		sqlDB.SetMaxIdleConns(10)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("store: connect %s: %w", target.Dialect, err)
	}
	if err := migrations.Up(ctx, sqlDB, target.Dialect); err != nil {
		sqlDB.Close()
		return nil, err
	}
	st := &Store{db: db, sqlDB: sqlDB, dialect: target.Dialect, url: databaseURL}
	if err := st.backfillSkeletons(ctx, log); err != nil {
		sqlDB.Close()
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

// Close releases the connections.
func (s *Store) Close() error { return s.sqlDB.Close() }

// Dialect names the database in use.
func (s *Store) Dialect() migrations.Dialect { return s.dialect }

// URL is the DATABASE_URL the store was opened with (the PostgreSQL broker listens on it too).
func (s *Store) URL() string { return s.url }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

func (s *Store) q(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

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
