package storage_test

import (
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
