package storage

import (
	"context"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is an in-process Storage for tests and short-lived tables. It is safe for
// concurrent use and keeps every Storage contract, PutIfAbsent atomicity included.
type Memory struct {
	name string
	mu   sync.Mutex
	objs map[string]memObject
}

type memObject struct {
	data    []byte
	modTime time.Time
}

// NewMemory returns an empty store; name only appears in its URI.
func NewMemory(name string) *Memory {
	return &Memory{name: name, objs: make(map[string]memObject)}
}

// URI implements Storage.
func (m *Memory) URI() string { return "memory://" + m.name }

// Get implements Storage.
func (m *Memory) Get(ctx context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[key]
	if !ok {
		return nil, fmt.Errorf("%s/%s: %w", m.URI(), key, ErrNotFound)
	}
	return slices.Clone(o.data), nil
}

// Put implements Storage.
func (m *Memory) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("storage: put %s/%s: %w", m.URI(), key, err)
	}
	if size >= 0 && int64(len(b)) != size {
		return fmt.Errorf("storage: put %s/%s: body has %d bytes, size says %d", m.URI(), key, len(b), size)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = memObject{data: b, modTime: time.Now()}
	return nil
}

// PutIfAbsent implements Storage.
func (m *Memory) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; ok {
		return fmt.Errorf("%s/%s: %w", m.URI(), key, ErrExists)
	}
	m.objs[key] = memObject{data: slices.Clone(data), modTime: time.Now()}
	return nil
}

// List implements Storage.
func (m *Memory) List(ctx context.Context, prefix, startAfter string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		m.mu.Lock()
		var out []ObjectInfo
		for k, o := range m.objs {
			if strings.HasPrefix(k, prefix) && k > startAfter {
				out = append(out, ObjectInfo{Key: k, Size: int64(len(o.data)), ModTime: o.modTime})
			}
		}
		m.mu.Unlock()
		slices.SortFunc(out, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
		for _, o := range out {
			if !yield(o, nil) {
				return
			}
		}
	}
}

// Stat implements Storage.
func (m *Memory) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[key]
	if !ok {
		return ObjectInfo{}, fmt.Errorf("%s/%s: %w", m.URI(), key, ErrNotFound)
	}
	return ObjectInfo{Key: key, Size: int64(len(o.data)), ModTime: o.modTime}, nil
}

// Delete implements Storage.
func (m *Memory) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, key)
	return nil
}
