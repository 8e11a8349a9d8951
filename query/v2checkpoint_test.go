package query

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicelake/sluice/table"
)

// A table created with every feature Sluice turns on (deletion vectors, column mapping
// by name, v2 checkpoints, in-commit timestamps, row tracking), appended to by the
// writer and with rows of one file deleted, is checkpointed and then read from the v2
// checkpoint alone: the view returns exactly the rows left, and the next append gets
// Row IDs past those the checkpoint recorded.
func TestAllFeaturesFromV2Checkpoint(t *testing.T) {
	ctx := context.Background()
	dir, store, tbl := createIDTable(t, map[string]string{
		"delta.enableDeletionVectors": "true", "delta.columnMapping.mode": "name", "delta.checkpointPolicy": "v2",
		"delta.enableInCommitTimestamps": "true", "delta.enableRowTracking": "true",
	})
	appendIDs := func(from, to int) *table.Snapshot { return appendRows(t, tbl, store, idRows(t, from, to)) }
	for i := range 3 { // versions 1 to 3, two files of 3 rows each
		appendIDs(6*i, 6*i+6)
	}
	want := map[int]bool{}
	for i := range 18 {
		want[i] = true
	}

	// Delete rows 0 and 2 of one file (version 4): the ids the file holds there.
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := snap.Files()[0]
	key, err := table.DecodePath(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	db := openView(t, store, snap)
	q := fmt.Sprintf(`SELECT CAST(%s AS VARCHAR) FROM read_parquet('%s', file_row_number=true) WHERE file_row_number IN (0, 2)`,
		quoteIdent(snap.Schema().Field("id").PhysicalName()), filepath.Join(dir, filepath.FromSlash(key)))
	for _, id := range queryStrings(t, db, q) {
		n, _ := strconv.Atoi(id)
		delete(want, n)
	}
	if len(want) != 16 {
		t.Fatalf("%d rows left, want 16", len(want))
	}
	if _, err := tbl.DeleteRows(ctx, f.Path, []uint64{0, 2}); err != nil {
		t.Fatal(err)
	}
	version, _, err := tbl.Checkpoint(ctx)
	if err != nil || version != 4 {
		t.Fatalf("checkpoint at %d: %v", version, err)
	}

	// Only the checkpoint and its sidecars are left of the log.
	logDir := filepath.Join(dir, "_delta_log")
	v2, _ := filepath.Glob(filepath.Join(logDir, "00000000000000000004.checkpoint.*.parquet"))
	sidecars, _ := filepath.Glob(filepath.Join(logDir, "_sidecars", "*.parquet"))
	if len(v2) != 1 || len(sidecars) != 2 { // the live files, and the tombstone of the file the delete replaced
		t.Fatalf("checkpoints %v, sidecars %v", v2, sidecars)
	}
	for v := range 5 {
		if err := os.Remove(filepath.Join(logDir, fmt.Sprintf("%020d.json", v))); err != nil {
			t.Fatal(err)
		}
	}
	tbl = table.New(store)
	snap, err = tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := snap.Protocol()
	for _, feature := range []string{"deletionVectors", "columnMapping", "v2Checkpoint"} {
		if !slices.Contains(p.ReaderFeatures, feature) || !slices.Contains(p.WriterFeatures, feature) {
			t.Errorf("protocol %+v lacks %s", p, feature)
		}
	}
	for _, feature := range []string{"inCommitTimestamp", "rowTracking", "domainMetadata"} {
		if !slices.Contains(p.WriterFeatures, feature) {
			t.Errorf("protocol %+v lacks %s", p, feature)
		}
	}
	if snap.CheckpointVersion() != 4 || snap.Version() != 4 || snap.NumFiles() != 6 {
		t.Fatalf("checkpoint %d version %d files %d", snap.CheckpointVersion(), snap.Version(), snap.NumFiles())
	}
	rows := func(snap *table.Snapshot) []string {
		return queryStrings(t, openView(t, store, snap), "SELECT concat_ws(',', id, s.a, day) FROM t ORDER BY id")
	}
	expected := func() []string {
		var out []string
		for i := range 30 {
			if want[i] {
				out = append(out, fmt.Sprintf("%d,a%d,d%d", i, i, i%2))
			}
		}
		return out
	}
	if got := rows(snap); !slices.Equal(got, expected()) {
		t.Fatalf("rows from the checkpoint\n %q\nwant\n %q", got, expected())
	}

	// An append after it: Row IDs start past the 18 rows the checkpoint's high-water
	// mark covers.
	after := appendIDs(18, 22)
	for i := 18; i < 22; i++ {
		want[i] = true
	}
	for _, f := range after.Files() {
		if f.BaseRowID == nil || f.DefaultRowCommit == nil {
			t.Fatalf("%s has no Row IDs", f.Path)
		}
		if *f.DefaultRowCommit == 5 && *f.BaseRowID < 18 {
			t.Fatalf("%s: baseRowId %d, below the 18 rows before it", f.Path, *f.BaseRowID)
		}
	}
	if got := rows(after); !slices.Equal(got, expected()) || !strings.HasPrefix(got[len(got)-1], "21,") {
		t.Fatalf("rows after the append\n %q\nwant\n %q", got, expected())
	}

	// The next checkpoint (version 5) only adds the appended files: it names the
	// sidecars of 4 again and writes one more. Read from it alone, the view is the same,
	// Row IDs included.
	if version, _, err := tbl.Checkpoint(ctx); err != nil || version != 5 || tbl.LastCheckpoint() != "incremental" {
		t.Fatalf("checkpoint at %d written %q: %v", version, tbl.LastCheckpoint(), err)
	}
	if again, _ := filepath.Glob(filepath.Join(logDir, "_sidecars", "*.parquet")); len(again) != 3 {
		t.Fatalf("sidecars %v, want the 2 of version 4 and one more", again)
	}
	if err := os.Remove(filepath.Join(logDir, fmt.Sprintf("%020d.json", 5))); err != nil {
		t.Fatal(err)
	}
	snap, err = table.New(store).Snapshot(ctx)
	if err != nil || snap.CheckpointVersion() != 5 || snap.NumFiles() != after.NumFiles() {
		t.Fatalf("from checkpoint %d: %d files, %v", snap.CheckpointVersion(), snap.NumFiles(), err)
	}
	if got := rows(snap); !slices.Equal(got, expected()) {
		t.Fatalf("rows from the incremental checkpoint\n %q\nwant\n %q", got, expected())
	}
	for _, f := range snap.Files() {
		if f.BaseRowID == nil || f.DefaultRowCommit == nil {
			t.Fatalf("%s lost its Row IDs", f.Path)
		}
	}
}
