package table

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sluicelake/sluice/table/storage"
)

// vacuumModel is what the history test knows the table references, kept apart from the
// table's own snapshot.
type vacuumModel struct {
	live       map[string]string // data file key → its deletion vector file key, "" for none
	tombstones []vacuumTombstone
	hidden     map[string]bool // files vacuum must never see
}

type vacuumTombstone struct {
	key, dv string
	at      int64 // deletionTimestamp, Unix ms
}

// keep is every key the model says a vacuum at cutoff (Unix ms) must keep.
func (m *vacuumModel) keep(cutoff int64) map[string]bool {
	keep := map[string]bool{}
	for k, dv := range m.live {
		keep[k], keep[dv] = true, true
	}
	for _, ts := range m.tombstones {
		if ts.at >= cutoff {
			keep[ts.key], keep[ts.dv] = true, true
		}
	}
	delete(keep, "")
	return keep
}

// TestVacuumHistories runs random histories (appends, uploads never committed, removes,
// row deletes that write deletion vector files, optimize's rewrites (removes and an add
// with dataChange false), hidden files, time passing) with vacuums
// in between, and checks each vacuum against a model of what the table references: it
// deletes exactly the files no live file or unexpired tombstone names that are older
// than the retention, orphans included, and nothing in _delta_log or hidden.
func TestVacuumHistories(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { vacuumHistory(t, seed) })
	}
}

func vacuumHistory(t *testing.T, seed uint64) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 12))
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	store := &clockStore{Storage: storage.NewMemory(t.Name()), now: now, times: map[string]time.Time{}}
	tbl := New(store, Clock(now))
	const tableRetention = 48 * time.Hour
	schema := &StructType{Fields: []*StructField{{Name: "id", Type: Long, Nullable: true}, {Name: "_p", Type: String, Nullable: true}}}
	if _, err := tbl.Create(ctx, CreateOptions{Schema: schema, PartitionColumns: []string{"_p"}, Configuration: map[string]string{
		"delta.deletedFileRetentionDuration": "interval 2 days", "delta.checkpointInterval": "4", "delta.enableDeletionVectors": "true"}}); err != nil {
		t.Fatal(err)
	}
	m := &vacuumModel{live: map[string]string{}, hidden: map[string]bool{}}
	n := 0
	upload := func(key string) {
		n++
		if err := store.Put(ctx, key, bytes.NewReader(make([]byte, 1+n%7)), -1); err != nil {
			t.Fatal(err)
		}
	}
	dataKey := func() string {
		return fmt.Sprintf("_p=%c/part-%05d.parquet", 'a'+rng.IntN(2), n)
	}
	liveKeys := func() []string { return slices.Sorted(maps.Keys(m.live)) }
	for step := range 40 {
		switch op := rng.IntN(11); {
		case op < 3: // append
			var adds []Add
			for range 1 + rng.IntN(2) {
				key := dataKey()
				upload(key)
				p := key[3:4]
				adds = append(adds, Add{Path: key, PartitionValues: map[string]*string{"_p": &p}, Size: 1, DataChange: true, Stats: `{"numRecords":10}`})
				m.live[key] = ""
			}
			if _, err := tbl.Commit(ctx, &Transaction{Adds: adds}); err != nil {
				t.Fatalf("step %d: append: %v", step, err)
			}
		case op == 3: // uploads that never commit: data, deletion vectors, change data
			for _, key := range []string{dataKey(), "deletion_vector_" + uuid.NewString() + ".bin",
				"x" + fmt.Sprint(rng.IntN(3)) + "/deletion_vector_" + uuid.NewString() + ".bin", fmt.Sprintf("_change_data/cdc-%05d.parquet", n)} {
				if rng.IntN(2) == 0 {
					upload(key)
				}
			}
		case op == 4: // files of other tools, which vacuum must leave
			for _, key := range []string{fmt.Sprintf("_SUCCESS%d", n), fmt.Sprintf(".tmp/part-%d.parquet", n),
				fmt.Sprintf("_p=a/.part-%d.parquet.crc", n), fmt.Sprintf("_tool/%d.parquet", n), fmt.Sprintf("metadata/v%d.json", n)} {
				upload(key)
				m.hidden[key] = true
			}
		case op == 5 && len(m.live) > 0: // remove
			key := liveKeys()[rng.IntN(len(m.live))]
			f := liveAdd(t, tbl, key)
			if _, err := tbl.Commit(ctx, &Transaction{Operation: "DELETE", Removes: []Remove{{Path: f.Path, DataChange: true, DeletionVector: f.DeletionVector}}}); err != nil {
				t.Fatalf("step %d: remove %s: %v", step, key, err)
			}
			m.tombstones = append(m.tombstones, vacuumTombstone{key, m.live[key], clock.UnixMilli()})
			delete(m.live, key)
		case op == 6 && len(m.live) > 0: // delete rows: a new deletion vector file
			key := liveKeys()[rng.IntN(len(m.live))]
			if _, err := tbl.DeleteRows(ctx, key, []uint64{rng.Uint64N(10)}); err != nil {
				t.Fatalf("step %d: delete rows of %s: %v", step, key, err)
			}
			dv, err := dvKey(store, liveAdd(t, tbl, key).DeletionVector)
			if err != nil {
				t.Fatal(err)
			}
			if dv != m.live[key] {
				m.tombstones = append(m.tombstones, vacuumTombstone{key, m.live[key], clock.UnixMilli()})
				m.live[key] = dv
			}
		case op < 9: // time passes
			clock = clock.Add(time.Duration(rng.IntN(36*60)) * time.Minute)
		case op == 9 && len(m.live) >= 2: // optimize: live files (deletion vectors included) into a new one
			keys := liveKeys()
			rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			keys = keys[:2+rng.IntN(min(3, len(keys)-1))]
			key := fmt.Sprintf("_p=a/part-%05d-optimized.parquet", n)
			upload(key)
			p := "a"
			tx := &Transaction{Operation: "OPTIMIZE", Adds: []Add{{Path: key, PartitionValues: map[string]*string{"_p": &p}, Size: 1, Stats: `{"numRecords":10}`}}}
			for _, k := range keys {
				f := liveAdd(t, tbl, k)
				tx.Removes = append(tx.Removes, Remove{Path: f.Path, DeletionVector: f.DeletionVector, PartitionValues: f.PartitionValues})
				m.tombstones = append(m.tombstones, vacuumTombstone{k, m.live[k], clock.UnixMilli()})
				delete(m.live, k)
			}
			if _, err := tbl.Commit(ctx, tx); err != nil {
				t.Fatalf("step %d: optimize: %v", step, err)
			}
			m.live[key] = ""
		default:
			var retention *time.Duration
			if rng.IntN(2) == 0 {
				r := time.Duration(rng.IntN(48*60)) * time.Minute
				retention = &r
			}
			checkVacuum(t, tbl, store, m, retention, tableRetention)
		}
	}
	checkVacuum(t, tbl, store, m, nil, tableRetention)
}

// liveAdd is the live add of key in tbl's latest snapshot.
func liveAdd(t *testing.T, tbl *Table, key string) *Add {
	t.Helper()
	snap, err := tbl.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range snap.Files() {
		if f.Path == key {
			return f
		}
	}
	t.Fatalf("%s is not live", key)
	return nil
}

// checkVacuum runs a dry run, then a vacuum, and checks both against the model.
func checkVacuum(t *testing.T, tbl *Table, store *clockStore, m *vacuumModel, retention *time.Duration, tableRetention time.Duration) {
	t.Helper()
	ctx := context.Background()
	ret := tableRetention
	if retention != nil {
		ret = *retention
	}
	now := tbl.opts.now()
	keep := m.keep(now.Add(-ret).UnixMilli())
	before := map[string]storage.ObjectInfo{}
	var want []string
	for o, err := range store.List(ctx, "", "") {
		if err != nil {
			t.Fatal(err)
		}
		before[o.Key] = o
		if !keep[o.Key] && !m.hidden[o.Key] && !strings.HasPrefix(o.Key, LogDir) && o.ModTime.Before(now.Add(-ret)) {
			want = append(want, o.Key)
		}
	}
	keys := func(r VacuumResult) []string {
		var out []string
		for _, o := range r.Files {
			out = append(out, o.Key)
		}
		return out
	}
	dry, err := tbl.Vacuum(ctx, VacuumOptions{Retention: retention, Force: true, DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if got := keys(dry); !slices.Equal(got, want) {
		t.Fatalf("dry run with retention %s lists %q, want %q", ret, got, want)
	}
	if n := countObjects(t, store); n != len(before) {
		t.Fatalf("dry run: %d objects before, %d after", len(before), n)
	}
	res, err := tbl.Vacuum(ctx, VacuumOptions{Retention: retention, Force: true})
	if err != nil {
		t.Fatalf("vacuum: %v", err)
	}
	if got := keys(res); !slices.Equal(got, want) || res.Retention != ret {
		t.Fatalf("vacuum with retention %s deleted %q (retention %s), want %q", ret, got, res.Retention, want)
	}
	var bytes int64
	for _, k := range want {
		bytes += before[k].Size
	}
	if res.Bytes != bytes || dry.Bytes != bytes {
		t.Fatalf("bytes %d, dry run %d, want %d", res.Bytes, dry.Bytes, bytes)
	}
	if n := countObjects(t, store); n != len(before)-len(want) {
		t.Fatalf("vacuum: %d objects before, %d after, %d deleted", len(before), n, len(want))
	}
	// What the latest version reads is all there.
	snap, err := Load(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range snap.Files() {
		if _, err := store.Stat(ctx, f.Path); err != nil {
			t.Fatalf("live file: %v", err)
		}
		if _, err := DeletedRows(ctx, store, f); err != nil {
			t.Fatalf("live file's deletion vector: %v", err)
		}
	}
}

func countObjects(t *testing.T, store storage.Storage) int {
	n := 0
	for _, err := range store.List(context.Background(), "", "") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// TestVacuumRetentionCheck: a retention shorter than delta.deletedFileRetentionDuration
// is refused unless forced; a longer one is not.
func TestVacuumRetentionCheck(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		property  string
		retention time.Duration
		force     bool
		refused   bool
	}{
		{"", 7 * 24 * time.Hour, false, false},
		{"", 24 * time.Hour, false, true},
		{"", 24 * time.Hour, true, false},
		{"", 0, true, false},
		{"", -time.Hour, true, true},
		{"interval 1 day", 24 * time.Hour, false, false},
		{"interval 1 day", 2 * 24 * time.Hour, false, false},
		{"interval 30 days", 7 * 24 * time.Hour, false, true},
	} {
		store := storage.NewMemory(t.Name())
		tbl := New(store)
		conf := map[string]string{}
		if c.property != "" {
			conf["delta.deletedFileRetentionDuration"] = c.property
		}
		if _, err := tbl.Create(ctx, CreateOptions{Schema: testSchema(), Configuration: conf}); err != nil {
			t.Fatal(err)
		}
		if err := store.Put(ctx, "orphan.parquet", strings.NewReader("x"), 1); err != nil {
			t.Fatal(err)
		}
		res, err := tbl.Vacuum(ctx, VacuumOptions{Retention: &c.retention, Force: c.force})
		if refused := err != nil; refused != c.refused {
			t.Errorf("property %q, retention %s, force %v: %v", c.property, c.retention, c.force, err)
		}
		if err == nil && res.Retention != c.retention {
			t.Errorf("retention %s applied, want %s", res.Retention, c.retention)
		}
		// The orphan was just written: only a zero retention deletes it.
		if want := err == nil && c.retention == 0; (len(res.Files) == 1) != want {
			t.Errorf("property %q, retention %s: deleted %v", c.property, c.retention, res.Files)
		}
	}
}

// TestVacuumProtocolCheck: a table that lists vacuumProtocolCheck is vacuumed only when
// sluice could write to it; without the feature, an unknown writer feature does not
// stop a vacuum.
func TestVacuumProtocolCheck(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		readers, writers []string
		refused          string
	}{
		{[]string{"vacuumProtocolCheck"}, []string{"vacuumProtocolCheck", "futureFeature"}, "writer feature futureFeature"},
		{[]string{"vacuumProtocolCheck"}, []string{"vacuumProtocolCheck"}, ""},
		{[]string{}, []string{"futureFeature"}, ""},
	} {
		store := storage.NewMemory(t.Name())
		data, err := encodeActions([]Action{{Protocol: &Protocol{MinReaderVersion: 3, MinWriterVersion: 7, ReaderFeatures: c.readers, WriterFeatures: c.writers}},
			{MetaData: &Metadata{ID: "t", Format: Format{Provider: "parquet"}, SchemaString: testSchema().SchemaString()}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.PutIfAbsent(ctx, CommitKey(0), data); err != nil {
			t.Fatal(err)
		}
		_, err = New(store).Vacuum(ctx, VacuumOptions{})
		var ufe *UnsupportedFeatureError
		switch {
		case c.refused == "" && err != nil:
			t.Errorf("writer features %v: %v", c.writers, err)
		case c.refused != "" && (!errors.As(err, &ufe) || !strings.Contains(ufe.Feature, c.refused)):
			t.Errorf("writer features %v: %v, want *UnsupportedFeatureError naming %s", c.writers, err, c.refused)
		}
	}
}
