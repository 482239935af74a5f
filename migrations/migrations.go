// Package migrations holds the numbered SQL migrations, one folder per dialect, embedded in the binary.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Dialect names a migration folder.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

func provider(db *sql.DB, dialect Dialect) (*goose.Provider, error) {
	sub, err := fs.Sub(files, string(dialect))
	if err != nil {
		return nil, err
	}
	if dialect == SQLite {
		return goose.NewProvider(goose.DialectSQLite3, db, sub)
	}
	// Instances starting together against one database take turns: an advisory lock held on one
	// connection while migrating.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300)) // poll every second, up to 5 minutes
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
}

// Result is what Up did: the versions it applied (none when the schema was current) and the schema
// version the database is at now.
type Result struct {
	Applied []int64
	Version int64
}

// Up applies every pending migration, each in its own transaction. It refuses a database whose schema
// is newer than this binary knows: running old code on a new schema could corrupt data.
func Up(ctx context.Context, db *sql.DB, dialect Dialect) (Result, error) {
	p, err := provider(db, dialect)
	if err != nil {
		return Result{}, fmt.Errorf("migrations: %w", err)
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("migrations: read schema version: %w", err)
	}
	sources := p.ListSources()
	known := sources[len(sources)-1].Version
	if current > known {
		return Result{}, fmt.Errorf("migrations: database schema version %d is newer than this binary knows (%d); run a newer release", current, known)
	}
	res := Result{Version: current}
	for attempt := 1; ; attempt++ {
		applied, err := p.Up(ctx)
		for _, r := range applied {
			if r.Error == nil {
				res.Applied = append(res.Applied, r.Source.Version)
				res.Version = r.Source.Version
			}
		}
		if err == nil {
			return res, nil
		}
		// SQLite has no session lock: another process opening the same file at the same moment may
		// have applied the very migration this one failed on. Up again applies only what is left.
		if dialect != SQLite || attempt == 50 {
			return res, fmt.Errorf("migrations: apply: %w", err)
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("migrations: apply: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
