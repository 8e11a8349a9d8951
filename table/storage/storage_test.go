package storage_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/table/storage/storagetest"
)

func TestLocal(t *testing.T) {
	storagetest.AcceptanceTest(t, func(t *testing.T) storage.Storage {
		s, err := storage.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMemory(t *testing.T) {
	storagetest.AcceptanceTest(t, func(t *testing.T) storage.Storage {
		return storage.NewMemory(t.Name())
	})
}

// TestLocalFailedPutLeavesNothing: a failed Put removes its temporary file, so the
// directory holds exactly what it held before (List hides temporary files, hence the
// direct look at the directory).
func TestLocalFailedPutLeavesNothing(t *testing.T) {
	ctx := context.Background()
	s, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	old := []byte(`{"version":10}`)
	if err := s.Put(ctx, "_delta_log/_last_checkpoint", bytes.NewReader(old), int64(len(old))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		body func() io.Reader
		size int64
	}{
		{"BrokenBody", func() io.Reader { return io.MultiReader(strings.NewReader("{"), errReader{}) }, -1},
		{"ShortBody", func() io.Reader { return strings.NewReader("{") }, 20},
		{"LongBody", func() io.Reader { return strings.NewReader(`{"version":20}`) }, 1},
	} {
		for _, key := range []string{"_delta_log/_last_checkpoint", "_delta_log/00000000000000000020.checkpoint.parquet"} {
			if err := s.Put(ctx, key, tc.body(), tc.size); err == nil {
				t.Errorf("%s: Put %s succeeded, want an error", tc.name, key)
			}
		}
		entries, err := os.ReadDir(filepath.Join(s.Root(), "_delta_log"))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if fmt.Sprint(names) != "[_last_checkpoint]" {
			t.Errorf("%s: _delta_log holds %q after failed Puts, want only _last_checkpoint", tc.name, names)
		}
		if got, err := os.ReadFile(filepath.Join(s.Root(), "_delta_log", "_last_checkpoint")); err != nil || !bytes.Equal(got, old) {
			t.Errorf("%s: _last_checkpoint = %q, %v; want %q", tc.name, got, err, old)
		}
	}
}
