package table

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicelake/sluice/table/storage"
)

// Time travel reads each version as it was; history lists the commits newest first with
// what they did; a version log cleanup removed, or one never written, is refused by
// name.
func TestTimeTravelAndHistory(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	clock := time.Now().Add(-time.Hour)
	tbl := New(store, Clock(func() time.Time { return clock }))
	if _, err := tbl.Create(ctx, CreateOptions{Name: "t", Schema: testSchema(), PartitionColumns: []string{"day"},
		Configuration: map[string]string{"delta.enableInCommitTimestamps": "true"}}); err != nil {
		t.Fatal(err)
	}
	times := []time.Time{clock}
	for i := range 3 {
		clock = clock.Add(time.Minute)
		times = append(times, clock)
		if _, err := tbl.Commit(ctx, &Transaction{Adds: []Add{add(strings.Repeat("x", i+1) + ".parquet")}, Parameters: map[string]string{"n": "1"}}); err != nil {
			t.Fatal(err)
		}
	}
	for v := range int64(4) {
		s, err := LoadVersion(ctx, store, v)
		if err != nil || s.Version() != v || s.NumFiles() != int(v) {
			t.Fatalf("version %d: %v files, %v", v, s, err)
		}
	}
	if _, err := LoadVersion(ctx, store, 9); err == nil || !strings.Contains(err.Error(), "version 9 does not exist: the latest is 3") {
		t.Fatalf("future version: %v", err)
	}
	h, err := History(ctx, store, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Version != 3 || h[1].Version != 2 || h[0].CommitInfo.Operation != "STREAMING UPDATE" ||
		h[0].CommitInfo.OperationParameters["n"] != "1" || !h[0].Timestamp.Equal(times[3].Truncate(time.Millisecond)) {
		t.Fatalf("history %+v", h)
	}
	for _, c := range []struct {
		at   time.Time
		want int64
	}{{times[0], 0}, {times[2].Add(30 * time.Second), 2}, {times[3].Add(time.Hour), 3}} {
		if v, err := VersionAt(ctx, store, c.at); err != nil || v != c.want {
			t.Errorf("VersionAt(%s) = %d, %v; want %d", c.at, v, err, c.want)
		}
	}
	if _, err := VersionAt(ctx, store, times[0].Add(-time.Minute)); err == nil || !strings.Contains(err.Error(), "no version at or before") {
		t.Fatalf("before the first commit: %v", err)
	}
	// A checkpoint at 3, then cleanup of the commits before it: 3 reads, 1 is gone.
	if _, _, err := New(store).Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for v := range int64(3) {
		if err := store.Delete(ctx, CommitKey(v)); err != nil {
			t.Fatal(err)
		}
	}
	if s, err := LoadVersion(ctx, store, 3); err != nil || s.NumFiles() != 3 {
		t.Fatalf("version 3 from its checkpoint: %v", err)
	}
	if _, err := LoadVersion(ctx, store, 1); err == nil || !strings.Contains(err.Error(), "version 1 cannot be read: the log holds versions 3 to 3") {
		t.Fatalf("cleaned-up version: %v", err)
	}
}
