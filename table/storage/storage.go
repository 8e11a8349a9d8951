// Package storage is the only way the table package touches bytes at a table's location.
//
// A Storage addresses objects by slash-separated keys relative to the table root
// ("_delta_log/00000000000000000000.json", "day=2024-01-01/part-….parquet"). Every backend
// keeps the same contracts, checked by the shared acceptance suite in storagetest:
//
//   - PutIfAbsent is atomic: of several concurrent callers for one key exactly one succeeds,
//     the others get ErrExists, and no reader ever sees a partial object. Delta commits rely
//     on this and on nothing else for their mutual exclusion.
//   - Put replaces an object atomically (readers see the old or the new bytes, never a mix),
//     and a Put that fails leaves the old object as it was.
//   - List returns keys with a prefix in ascending byte order, starting after a given key.
//   - Delete is idempotent: deleting a missing key is not an error.
//   - A missing key is reported as ErrNotFound (wrapped), never as empty content.
package storage

import (
	"context"
	"errors"
	"io"
	"iter"
	"slices"
	"strings"
	"time"
)

// ValidKey reports whether key is relative and stays inside the store: not empty, no
// leading slash, no ".." segment.
func ValidKey(key string) bool {
	return key != "" && !strings.HasPrefix(key, "/") && !slices.Contains(strings.Split(key, "/"), "..")
}

// Storage is a flat key/value object store rooted at one table location.
type Storage interface {
	// Get returns the whole object. A missing key returns an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)

	// Put writes the object, replacing any existing one atomically. size is the body's
	// length, or negative when unknown; a body of another length, or one that fails to
	// read, fails the Put and leaves any existing object untouched. The object is durable
	// when Put returns (local disk: the file and its directory are fsynced), so a commit
	// may name it at once.
	Put(ctx context.Context, key string, r io.Reader, size int64) error

	// PutIfAbsent writes the object only when no object has the key. When one exists it
	// returns an error wrapping ErrExists and leaves the existing object untouched. Like
	// Put, it is durable on return.
	PutIfAbsent(ctx context.Context, key string, data []byte) error

	// List yields the objects whose key starts with prefix and sorts after startAfter
	// (all of them when startAfter is empty), in ascending byte order of key. Listing a
	// prefix with no objects yields nothing and no error.
	List(ctx context.Context, prefix, startAfter string) iter.Seq2[ObjectInfo, error]

	// Stat returns the size and modification time of one object, or ErrNotFound.
	Stat(ctx context.Context, key string) (ObjectInfo, error)

	// Delete removes the object; a missing key is not an error.
	Delete(ctx context.Context, key string) error

	// URI names the root of the store for messages and for readers ("file:///lake/t",
	// "s3://bucket/prefix", "memory://name"). It never contains credentials.
	URI() string
}

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

var (
	// ErrNotFound is returned (wrapped) by Get and Stat for a key with no object.
	ErrNotFound = errors.New("object not found")

	// ErrExists is returned (wrapped) by PutIfAbsent when the key already has an object.
	// For a Delta commit this means another writer won the race for that version.
	ErrExists = errors.New("object already exists")
)
