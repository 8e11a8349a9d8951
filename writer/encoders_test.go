package writer_test

import (
	"bytes"
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
