package variant

import "testing"

// benchDoc is a typical record: 10 fields of mixed types, about 200 bytes.
const benchDoc = `{"id":1234567,"user":"alice@example.com","active":true,"score":98.75,` +
	`"tags":["kafka","delta","go"],"created":"2024-01-02T03:04:05Z","ratio":1.5e-3,` +
	`"geo":{"lat":52.52,"lon":13.405},"note":null,"retries":-3}`

func BenchmarkAppendJSON(b *testing.B) {
	doc := []byte(benchDoc)
	var e Encoder
	meta, value, err := e.AppendJSON(nil, nil, doc)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		meta, value, _ = e.AppendJSON(meta[:0], value[:0], doc)
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	var e Encoder
	meta, value, err := e.AppendJSON(nil, nil, []byte(benchDoc))
	if err != nil {
		b.Fatal(err)
	}
	out, _ := AppendJSON(nil, meta, value)
	b.ReportAllocs()
	b.SetBytes(int64(len(out)))
	for b.Loop() {
		out, _ = AppendJSON(out[:0], meta, value)
	}
}
