package writer_test

import (
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// flatSchema10 is the flat benchmark shape: 4 long/int, 3 string, 2 double,
// 1 timestamp.
func flatSchema10() *table.StructType {
	return &table.StructType{Fields: []*table.StructField{
		field("id", table.Long, false), field("user_id", table.Long, true), field("count", table.Integer, true), field("code", table.Integer, true),
		field("country", table.String, true), field("device", table.String, true), field("session", table.String, true),
		field("amount", table.Double, true), field("score", table.Double, true), field("ts", table.Timestamp, true),
	}}
}

var countries = [][]byte{[]byte("NL"), []byte("DE"), []byte("FR"), []byte("US"), []byte("JP"), []byte("BR"), []byte("IN"), []byte("ZA")}
var devices = [][]byte{[]byte("ios"), []byte("android"), []byte("web"), []byte("tv")}

func appendFlat(buf *writer.Buffer, i int, session []byte) error {
	buf.SetInt(0, int64(i))
	buf.SetInt(1, int64(i%100_000))
	buf.SetInt(2, int64(i%1000))
	buf.SetInt(3, int64(i%7))
	buf.SetBytes(4, countries[i%len(countries)])
	buf.SetBytes(5, devices[i%len(devices)])
	buf.SetBytes(6, session)
	buf.SetFloat(7, float64(i)*0.25)
	buf.SetFloat(8, float64(i%1000)/1000)
	buf.SetInt(9, 1_700_000_000_000_000+int64(i)*1000)
	return buf.EndRow()
}

func sessionID(dst []byte, i int) []byte {
	return fmt.Appendf(dst[:0], "sess-%08x-%04x", i/16, i%16)
}

// sessions are precomputed so that the benchmarks measure the writer, not fmt.
var sessions = func() [][]byte {
	out := make([][]byte, 1<<16)
	for i := range out {
		out[i] = sessionID(nil, i)
	}
	return out
}()

var customers = func() [][]byte {
	out := make([][]byte, 50_000)
	for i := range out {
		out[i] = fmt.Appendf(nil, "cust-%06d", i)
	}
	return out
}()

// BenchmarkAppendFlat measures the append path alone: 10 values per row into column
// buffers. allocs/op must be 0 once the buffers have grown.
func BenchmarkAppendFlat(b *testing.B) {
	buf, err := writer.NewBuffer(writer.Spec{Schema: flatSchema10()}, writer.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	const batch = 1 << 20
	for i := range batch { // grow the buffers first
		appendFlat(buf, i, sessions[i&1023])
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if err := appendFlat(buf, i, sessions[i&1023]); err != nil {
			b.Fatal(err)
		}
		i++
		if buf.Rows() >= batch {
			b.StopTimer()
			for _, p := range buf.Take() {
				p.Release()
			}
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkWriteFlat measures the whole writer on one core: append 1M rows and encode
// them as a zstd Parquet file.
func BenchmarkWriteFlat(b *testing.B) {
	benchWrite(b, flatSchema10(), "zstd", func(buf *writer.Buffer, i int, scratch []byte) ([]byte, error) {
		return scratch, appendFlat(buf, i, sessions[i&(1<<16-1)])
	})
}

// BenchmarkWriteFlatSnappy is the same with snappy.
func BenchmarkWriteFlatSnappy(b *testing.B) {
	benchWrite(b, flatSchema10(), "snappy", func(buf *writer.Buffer, i int, scratch []byte) ([]byte, error) {
		return scratch, appendFlat(buf, i, sessions[i&(1<<16-1)])
	})
}

func nestedSchema() *table.StructType {
	item := &table.StructType{Fields: []*table.StructField{
		field("sku", table.String, false), field("qty", table.Integer, true), field("price", &table.DecimalType{Precision: 10, Scale: 2}, true),
	}}
	return &table.StructType{Fields: []*table.StructField{
		field("id", table.Long, false),
		field("order", &table.StructType{Fields: []*table.StructField{
			field("customer", table.String, true),
			field("items", &table.ArrayType{ElementType: item, ContainsNull: true}, true),
			field("attrs", &table.MapType{KeyType: table.String, ValueType: table.String, ValueContainsNull: true}, true),
		}}, true),
	}}
}

var skus = [][]byte{[]byte("sku-0001"), []byte("sku-0002"), []byte("sku-0003"), []byte("sku-0004"), []byte("sku-0005")}
var attrKeys = [][]byte{[]byte("channel"), []byte("campaign"), []byte("coupon")}

func appendNested(buf *writer.Buffer, i int, customer []byte) error {
	buf.SetInt(0, int64(i))
	n := buf.Nested(1)
	n.BeginStruct()
	n.Field(0)
	n.Bytes(customer)
	n.Field(1)
	n.BeginList()
	for j := range 1 + i%3 {
		n.BeginStruct()
		n.Field(0)
		n.Bytes(skus[(i+j)%len(skus)])
		n.Field(1)
		n.Int(int64(1 + j))
		n.Field(2)
		n.Int(int64(100*j + i%100))
		n.EndStruct()
	}
	n.EndList()
	n.Field(2)
	n.BeginMap()
	for j := range 2 {
		n.Bytes(attrKeys[j])
		n.Bytes(devices[(i+j)%len(devices)])
	}
	n.EndMap()
	n.EndStruct()
	return buf.EndRow()
}

// BenchmarkWriteNested: a struct holding a list of structs and a map, 1M rows, zstd.
func BenchmarkWriteNested(b *testing.B) {
	benchWrite(b, nestedSchema(), "zstd", func(buf *writer.Buffer, i int, scratch []byte) ([]byte, error) {
		return scratch, appendNested(buf, i, customers[i%len(customers)])
	})
}

func benchWrite(b *testing.B, schema *table.StructType, codec string, row func(*writer.Buffer, int, []byte) ([]byte, error)) {
	const rows = 1_000_000
	cfg := writer.DefaultConfig()
	cfg.Compression = codec
	buf, err := writer.NewBuffer(writer.Spec{Schema: schema}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	scratch := make([]byte, 0, 64)
	// One untimed pass grows the column buffers; released, they are reused after.
	for i := range rows {
		if scratch, err = row(buf, i, scratch); err != nil {
			b.Fatal(err)
		}
	}
	for _, p := range buf.Take() {
		for !p.Done() {
			if _, err := p.Encode(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
		p.Release()
	}
	var size int64
	var appendTime, encodeTime time.Duration
	for b.Loop() {
		start := time.Now()
		for i := range rows {
			if scratch, err = row(buf, i, scratch); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for _, p := range buf.Take() {
			for !p.Done() {
				info, err := p.Encode(io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				size += info.Size
			}
			p.Release()
		}
		appendTime += mid.Sub(start)
		encodeTime += time.Since(mid)
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(rows*b.N)/appendTime.Seconds(), "append-rows/s")
	b.ReportMetric(float64(rows*b.N)/encodeTime.Seconds(), "encode-rows/s")
	b.ReportMetric(float64(size)/float64(rows*b.N), "file-B/row")
}

// BenchmarkBufferMemory buffers 1M flat rows and reports the heap they take over the
// size of their values as encoded in memory (8 bytes per long/double/timestamp, 4 per
// int, the string bytes), i.e. the writer's memory overhead factor.
func BenchmarkBufferMemory(b *testing.B) {
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		buf, err := writer.NewBuffer(writer.Spec{Schema: flatSchema10()}, writer.DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		var raw int64
		for i := range 1_000_000 {
			sess := sessions[i&(1<<16-1)]
			appendFlat(buf, i, sess)
			raw += 8*4 + 4*2 + int64(len(countries[i%len(countries)])+len(devices[i%len(devices)])+len(sess))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		b.ReportMetric(float64(heap)/float64(raw), "heap/raw")
		b.ReportMetric(float64(buf.Bytes())/float64(raw), "reported/raw")
		b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
		runtime.KeepAlive(buf)
	}
}
