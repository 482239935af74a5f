// Package files keeps attachments on disk and prepares what is stored: content sniffing, image
// checks, metadata stripping and previews. It knows nothing of users or messages.
package files

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Store holds files under a directory, each named by the SHA-256 of its bytes (two hex digits of it
// as a subdirectory, so no directory grows huge). The same bytes sent twice are one file. A file is
// written to a temporary file in its final directory, fsynced, renamed into place and the directory
// fsynced: once Put returns, the file survives a crash, and a reader never sees half a file.
type Store struct {
	dir   string
	locks [64]sync.Mutex // by hash: a Put and a Remove of one file take turns (within this instance)
}

// Open makes the directory (owner only) if needed and returns the store on it.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir is the directory the store keeps its files in.
func (s *Store) Dir() string { return s.dir }

// Sum is the hex SHA-256 a file is stored under.
func Sum(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ErrBadName is a file name that is not a hex SHA-256 (with an optional suffix we made).
var ErrBadName = errors.New("files: not a stored file's name")

// path is where the file of sha (plus suffix: "" the file, ".thumb" its preview) lives. Only names
// this package made reach the file system: sha is checked to be 64 hex digits.
func (s *Store) path(sha, suffix string) (string, error) {
	if len(sha) != 64 {
		return "", ErrBadName
	}
	if _, err := hex.DecodeString(sha); err != nil {
		return "", ErrBadName
	}
	return filepath.Join(s.dir, sha[:2], sha+suffix), nil
}

// Lock holds the file sha against Put and Remove from other goroutines until the returned function
// is called: an upload holds it from writing its file until its row is committed, a delete from
// deleting its row until it removed the file, so a file is never removed under a new row.
func (s *Store) Lock(sha string) (unlock func()) {
	h := fnv.New32a()
	h.Write([]byte(sha))
	mu := &s.locks[h.Sum32()%uint32(len(s.locks))]
	mu.Lock()
	return mu.Unlock
}

// Put stores data under sha (its Sum) plus suffix, durably. A file that is already there is kept:
// its name says what it holds.
func (s *Store) Put(sha, suffix string, data []byte) error {
	final, err := s.path(sha, suffix)
	if err != nil {
		return err
	}
	if _, err := os.Stat(final); err == nil {
		return nil
	}
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("files: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return fmt.Errorf("files: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("files: write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("files: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("files: close: %w", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("files: rename: %w", err)
	}
	done = true
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("files: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("files: sync dir: %w", err)
	}
	return nil
}

// Open opens the stored file of sha plus suffix.
func (s *Store) Open(sha, suffix string) (*os.File, error) {
	p, err := s.path(sha, suffix)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// Remove deletes the file of sha and its preview; a file already gone is not an error.
func (s *Store) Remove(sha string) error {
	for _, suffix := range []string{"", ThumbSuffix} {
		p, err := s.path(sha, suffix)
		if err != nil {
			return err
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("files: remove: %w", err)
		}
	}
	return nil
}

// ThumbSuffix names a file's preview beside it.
const ThumbSuffix = ".thumb"
