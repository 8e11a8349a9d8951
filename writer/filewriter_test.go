package writer_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sluicelake/sluice/writer"
)

// A FileWriter fed one row at a time (a Pending per row) writes the same rows and the
// same statistics as one Pending of all the rows encoded at once.
func TestFileWriterStreamsRows(t *testing.T) {
	schema, rows := everyType()
	whole, infos := writeFiles(t, t.TempDir(), schema, writer.DefaultConfig(), rows)
	if len(whole) != 1 {
		t.Fatalf("%d files", len(whole))
	}
	buf, err := writer.NewBuffer(writer.Spec{Schema: schema}, writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "streamed.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	fw := buf.NewFileWriter(f)
	for _, row := range rows {
		fill(t, buf, schema, row)
		if err := buf.EndRow(); err != nil {
			t.Fatal(err)
		}
		for _, p := range buf.Take() {
			if err := fw.Write(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	info, err := fw.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if info.Rows != len(rows) || info.Stats != infos[0].Stats {
		t.Fatalf("streamed: %d rows, stats\n%s\nwhole:\n%s", info.Rows, info.Stats, infos[0].Stats)
	}
	db := openDuck(t)
	if got, want := readBack(t, db, []string{path}, schema), readBack(t, db, whole, schema); !reflect.DeepEqual(got, want) {
		t.Fatalf("streamed rows differ:\n%v\nwant\n%v", got, want)
	}
}
