package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"messenger/migrations"
)

// ErrBackupPostgres means the database is PostgreSQL, which pg_dump backs up.
var ErrBackupPostgres = errors.New("the database is PostgreSQL: back it up with pg_dump (see docs/DEPLOY.md)")

// Backup writes a consistent copy of the SQLite database DATABASE_URL names into the new file dest,
// while servers keep using it: VACUUM INTO copies one read transaction's snapshot, so a copy never
// holds half a commit (copying the file and its -wal by hand can). It opens the database read-only
// and migrates nothing. dest is created readable by its owner only; an existing dest is refused, never
// overwritten.
func Backup(ctx context.Context, databaseURL, dest string) error {
	target, err := ParseURL(databaseURL)
	if err != nil {
		return err
	}
	if target.Dialect != migrations.SQLite {
		return ErrBackupPostgres
	}
	if _, err := os.Stat(target.DSN); err != nil {
		return fmt.Errorf("store: backup: no database at %s: %w", target.DSN, err)
	}
	// VACUUM INTO writes only into a missing or empty file: an empty one made here, exclusively, keeps
	// the copy private and refuses a file that exists.
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("store: backup: %s exists; choose a new file name", dest)
	} else if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+target.DSN+"?mode=ro&_pragma=busy_timeout(10000)")
	if err == nil {
		_, err = db.ExecContext(ctx, `VACUUM INTO ?`, dest)
		err = errors.Join(err, db.Close())
	}
	if err != nil {
		_ = os.Remove(dest)
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}
