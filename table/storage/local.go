package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// tmpPrefix marks files a Local store is still writing; List never reports them.
const tmpPrefix = ".sluice-tmp-"

// Local is a Storage on a local (or locally mounted) file system. Put and PutIfAbsent
// are durable when they return: each writes a temporary file next to the key, syncs it,
// moves it into place and syncs the directory (and the parents of any directory it had
// to create), so a crash never leaves a checkpoint, a _last_checkpoint or a data file
// empty or torn behind a name the log or a reader relies on.
//
// Put renames the synced temporary file over the key: rename(2) replaces atomically, so
// a reader sees the old bytes or the new ones. PutIfAbsent hard-links it instead: link(2)
// fails with EEXIST instead of replacing, so the commit is atomic and never visible
// half-written. On file systems without hard links it falls back to an O_EXCL create,
// which is still exclusive and synced but may expose a partial file to a reader that
// races the write, or leave one behind after a crash. A failed Put or PutIfAbsent removes its temporary file; one left by a
// crash is never listed.
type Local struct {
	root string
}

// NewLocal returns a store rooted at dir, which is created when missing.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: local path %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", abs, err)
	}
	return &Local{root: abs}, nil
}

// Root is the absolute directory of the store.
func (l *Local) Root() string { return l.root }

// URI implements Storage.
func (l *Local) URI() string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(l.root)}).String()
}

func (l *Local) path(key string) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("storage: invalid key %q", key)
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// Get implements Storage.
func (l *Local) Get(ctx context.Context, key string) ([]byte, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s/%s: %w", l.URI(), key, ErrNotFound)
	}
	return b, err
}

// Put implements Storage.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	tmp, err := l.writeTemp(p, r, size)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("storage: put %s: %w", p, err)
	}
	return syncDir(filepath.Dir(p))
}

// PutIfAbsent implements Storage.
func (l *Local) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(p); err == nil {
		return fmt.Errorf("%s/%s: %w", l.URI(), key, ErrExists)
	}
	tmp, err := l.writeTemp(p, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, p)
	switch {
	case err == nil:
		return syncDir(filepath.Dir(p))
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s/%s: %w", l.URI(), key, ErrExists)
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.ENOTSUP), errors.Is(err, syscall.EXDEV):
		return l.putExclusive(p, key, data)
	default:
		return fmt.Errorf("storage: put-if-absent %s: %w", p, err)
	}
}

func (l *Local) putExclusive(p, key string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s/%s: %w", l.URI(), key, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("storage: put-if-absent %s: %w", p, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("storage: put-if-absent %s: %w", p, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("storage: put-if-absent %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("storage: put-if-absent %s: %w", p, err)
	}
	return syncDir(filepath.Dir(p))
}

// writeTemp writes r to a new temporary file next to p, syncs it and returns its name.
// When size is not negative, a body of another length is an error. On error nothing is
// left behind but the directories it created.
func (l *Local) writeTemp(p string, r io.Reader, size int64) (string, error) {
	dir := filepath.Dir(p)
	if err := l.mkdirAll(dir); err != nil {
		return "", fmt.Errorf("storage: create %s: %w", dir, err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, tmpPrefix+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", fmt.Errorf("storage: write %s: %w", p, err)
	}
	n, err := io.Copy(f, r)
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("body has %d bytes, size says %d", n, size)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("storage: write %s: %w", p, err)
	}
	return tmp, nil
}

// mkdirAll creates dir and its missing parents, and syncs the parent of each directory
// it created, so that the new directory entries survive a crash along with the files
// put in them.
func (l *Local) mkdirAll(dir string) error {
	var created []string
	for d := dir; d != l.root && d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		created = append(created, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range created {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// syncDir makes the entries of dir durable. It is best effort: some file systems cannot
// open or sync a directory, and the files themselves are synced.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil // best effort: the file itself is synced
	}
	defer d.Close()
	_ = d.Sync()
	return nil
}

// List implements Storage.
func (l *Local) List(ctx context.Context, prefix, startAfter string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		dirKey := ""
		if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
			dirKey = prefix[:i]
		}
		start := filepath.Join(l.root, filepath.FromSlash(dirKey))
		var out []ObjectInfo
		err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.IsDir() {
				rel, _ := filepath.Rel(l.root, p)
				relKey := filepath.ToSlash(rel) + "/"
				// Skip directories that cannot hold a matching key.
				if rel != "." && !strings.HasPrefix(relKey, prefix) && !strings.HasPrefix(prefix, relKey) {
					return fs.SkipDir
				}
				return nil
			}
			if strings.HasPrefix(d.Name(), tmpPrefix) {
				return nil
			}
			rel, _ := filepath.Rel(l.root, p)
			key := filepath.ToSlash(rel)
			if !strings.HasPrefix(key, prefix) || key <= startAfter {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			out = append(out, ObjectInfo{Key: key, Size: info.Size(), ModTime: info.ModTime()})
			return nil
		})
		if err != nil {
			yield(ObjectInfo{}, fmt.Errorf("storage: list %s/%s: %w", l.URI(), prefix, err))
			return
		}
		slices.SortFunc(out, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
		for _, o := range out {
			if !yield(o, nil) {
				return
			}
		}
	}
}

// Stat implements Storage.
func (l *Local) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	p, err := l.path(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	info, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return ObjectInfo{}, fmt.Errorf("%s/%s: %w", l.URI(), key, ErrNotFound)
	}
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("storage: stat %s: %w", p, err)
	}
	return ObjectInfo{Key: path.Clean(key), Size: info.Size(), ModTime: info.ModTime()}, nil
}

// Delete implements Storage.
func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: delete %s: %w", p, err)
	}
	return nil
}
