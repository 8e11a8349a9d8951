package writer_test

import (
	"bytes"
	"io"
	"sync/atomic"
	"testing"

	"github.com/sluicelake/sluice/writer"
)

// TestEncodersSameFile: a file's columns encoded at once (Config.Encoders 4) give the
// same bytes and statistics as encoded one after another (1), over several row groups
// and files, flat and nested.
func TestEncodersSameFile(t *testing.T) {
	for _, c := range []struct {
		name string
		row  func(*writer.Buffer, int) error
		spec writer.Spec
	}{
		{"flat", func(b *writer.Buffer, i int) error { return appendFlat(b, i, sessions[i%len(sessions)]) }, writer.Spec{Schema: flatSchema10()}},
		{"nested", func(b *writer.Buffer, i int) error { return appendNested(b, i, sessions[i%len(sessions)]) }, writer.Spec{Schema: nestedSchema()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			encode := func(encoders int) ([][]byte, []writer.FileInfo) {
				cfg := writer.DefaultConfig()
				cfg.Encoders = encoders
				cfg.RowGroupSize = 64 << 10 // several row groups
				cfg.TargetFileSize = 256 << 10
				buf, err := writer.NewBuffer(c.spec, cfg)
				if err != nil {
					t.Fatal(err)
				}
				for i := range 50_000 {
					if err := c.row(buf, i); err != nil {
						t.Fatal(err)
					}
				}
				var files [][]byte
				var infos []writer.FileInfo
				for _, p := range buf.Take() {
					for !p.Done() {
						var out bytes.Buffer
						info, err := p.Encode(&out)
						if err != nil {
							t.Fatal(err)
						}
						files, infos = append(files, out.Bytes()), append(infos, info)
					}
				}
				return files, infos
			}
			serial, serialInfo := encode(1)
			parallel, parallelInfo := encode(4)
			if len(serial) < 2 || len(serial) != len(parallel) {
				t.Fatalf("%d files serially, %d in parallel (want the same, and more than one)", len(serial), len(parallel))
			}
			for i := range serial {
				if !bytes.Equal(serial[i], parallel[i]) || serialInfo[i] != parallelInfo[i] {
					t.Fatalf("file %d differs: %d bytes and %+v serially, %d bytes and %+v in parallel",
						i, len(serial[i]), serialInfo[i], len(parallel[i]), parallelInfo[i])
				}
			}
		})
	}
}

// TestReusedCounted: Config.Reused follows the memory a Buffer keeps from released
// files: up as they are released, down as new rows reuse it (Memory counts it from
// then on, Bytes only what the rows take), to zero at DropReuse, and nothing is kept
// from files released after it.
func TestReusedCounted(t *testing.T) {
	var reused atomic.Int64
	cfg := writer.DefaultConfig()
	cfg.Reused, cfg.ReusedMax = &reused, 1<<30
	buf, err := writer.NewBuffer(writer.Spec{Schema: flatSchema10()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	fill := func() []*writer.Pending {
		for i := range 20_000 {
			if err := appendFlat(buf, i, sessions[i%len(sessions)]); err != nil {
				t.Fatal(err)
			}
		}
		return buf.Take()
	}
	encode := func(ps []*writer.Pending) {
		for _, p := range ps {
			for !p.Done() {
				if _, err := p.Encode(io.Discard); err != nil {
					t.Fatal(err)
				}
			}
			p.Release()
		}
	}
	encode(fill())
	kept := reused.Load()
	if kept < 20_000*8 {
		t.Fatalf("after a released file %d bytes counted as kept for reuse, want at least the 8-byte id column's", kept)
	}
	if err := appendFlat(buf, 0, sessions[0]); err != nil { // the next row takes the kept memory
		t.Fatal(err)
	}
	if got := reused.Load(); got != 0 {
		t.Fatalf("after a new row reused the memory, %d bytes still counted as kept", got)
	}
	if buf.Memory() != kept || buf.Bytes() > 200 {
		t.Fatalf("one row in reused memory: Memory %d (want the %d kept), Bytes %d (want the row's)", buf.Memory(), kept, buf.Bytes())
	}
	before := buf.Memory()
	ps := fill()
	if buf.Memory() != 0 {
		t.Fatalf("Memory %d after Take, want 0", buf.Memory())
	}
	if len(ps) != 1 || ps[0].Memory() < before || ps[0].Memory() < kept {
		t.Fatalf("the taken file holds %d bytes, want what the buffer counted (at least %d and the %d reused)", ps[0].Memory(), before, kept)
	}
	encode(ps)
	if ps[0].Memory() != 0 {
		t.Fatalf("a released file still holds %d bytes", ps[0].Memory())
	}
	if reused.Load() != kept {
		t.Fatalf("after the second release %d bytes counted, want %d again", reused.Load(), kept)
	}
	ps = fill()
	buf.DropReuse()
	encode(ps) // released after the drop: not kept
	if got := reused.Load(); got != 0 {
		t.Fatalf("after DropReuse and a later release %d bytes counted, want 0", got)
	}

	// Buffers sharing the counter keep at most ReusedMax between them.
	cfg.ReusedMax = kept
	var bufs []*writer.Buffer
	for range 3 {
		b, err := writer.NewBuffer(writer.Spec{Schema: flatSchema10()}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		bufs = append(bufs, b)
	}
	for _, b := range bufs {
		buf = b
		encode(fill())
	}
	if got := reused.Load(); got != kept {
		t.Fatalf("three buffers sharing the counter keep %d bytes, want ReusedMax %d", got, kept)
	}
}
