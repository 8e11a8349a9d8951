package table

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/RoaringBitmap/roaring/v2/roaring64"
	"github.com/google/uuid"

	"github.com/sluicelake/sluice/table/storage"
)

// Deletion vectors (PROTOCOL.md, "Deletion Vectors" and "Deletion Vector Format"): the
// rows of a data file that a DELETE, UPDATE or MERGE removed without rewriting it, as a
// set of row indexes (0 is the file's first row). The set is a 64-bit RoaringBitmap in
// the portable serialization, after a magic number; it lives inline in the log (Z85
// text) or in a file of the table, framed with its size and a CRC-32.

// Storage types of a deletion vector descriptor.
const (
	DVInline       = "i" // the bitmap, Z85-encoded, in pathOrInlineDv
	DVRelativeUUID = "u" // a file under the table root, named from a UUID
	DVAbsolutePath = "p" // a file at an absolute URI
)

const (
	dvMagic       = 1681511377 // little endian, before the portable serialization (what writers write)
	dvMagicNative = 1681511376 // the older native serialization, which readers still accept
	dvFileVersion = 1          // the first byte of a deletion vector file
	// maxDVBytes bounds one serialized deletion vector; the largest possible bitmap of a
	// file of 2^31 rows is 256 MiB as bits.
	maxDVBytes = 512 << 20
)

// DeletionVectorError is a deletion vector that cannot be read: missing file, wrong
// size or checksum, or bytes that are not a bitmap in the protocol's format.
type DeletionVectorError struct {
	Table  string
	File   string // the data file the vector belongs to, when known
	Reason string
	Err    error
}

func (e *DeletionVectorError) Error() string {
	msg := "table " + e.Table + ": deletion vector"
	if e.File != "" {
		msg += " of " + e.File
	}
	msg += ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *DeletionVectorError) Unwrap() error { return e.Err }

// DeletedRows returns the row indexes of f's data file that its deletion vector marks
// deleted, or nil when f has none. Inline vectors are decoded from the log; others are
// read from store (the table's root), their size and checksum checked.
func DeletedRows(ctx context.Context, store storage.Storage, f *Add) (*roaring64.Bitmap, error) {
	dv := f.DeletionVector
	if dv == nil {
		return nil, nil
	}
	fail := func(reason string, err error) error {
		return &DeletionVectorError{Table: store.URI(), File: f.Path, Reason: reason, Err: err}
	}
	if dv.SizeInBytes <= 0 || dv.SizeInBytes > maxDVBytes {
		return nil, fail(fmt.Sprintf("size %d is out of range", dv.SizeInBytes), nil)
	}
	var data []byte
	switch dv.StorageType {
	case DVInline:
		b, err := z85Decode(dv.PathOrInlineDv)
		if err != nil {
			return nil, fail("inline data", err)
		}
		if len(b) < int(dv.SizeInBytes) {
			return nil, fail(fmt.Sprintf("inline data holds %d bytes, the descriptor says %d", len(b), dv.SizeInBytes), nil)
		}
		data = b[:dv.SizeInBytes]
	case DVRelativeUUID, DVAbsolutePath:
		key, err := dvKey(store, dv)
		if err != nil {
			return nil, fail("path", err)
		}
		file, err := store.Get(ctx, key)
		if err != nil {
			return nil, fail("read "+key, err)
		}
		if data, err = dvFromFile(file, dv); err != nil {
			return nil, fail(key, err)
		}
	default:
		return nil, fail(fmt.Sprintf("unknown storage type %q", dv.StorageType), nil)
	}
	rows, err := decodeDVBitmap(data)
	if err != nil {
		return nil, fail("bitmap", err)
	}
	if n := rows.GetCardinality(); n != uint64(dv.Cardinality) {
		return nil, fail(fmt.Sprintf("bitmap holds %d rows, the descriptor says %d", n, dv.Cardinality), nil)
	}
	return rows, nil
}

// dvKey is the storage key of a file-backed deletion vector.
func dvKey(store storage.Storage, dv *DeletionVector) (string, error) {
	if dv.StorageType == DVAbsolutePath {
		key, err := DecodePath(dv.PathOrInlineDv)
		if err != nil {
			return "", err
		}
		if k, ok := storeKey(store, key); ok {
			return k, nil
		}
		return "", fmt.Errorf("%s is outside the table (%s)", key, store.URI())
	}
	s := dv.PathOrInlineDv
	if len(s) < 20 {
		return "", fmt.Errorf("%q is too short for a UUID", s)
	}
	prefix, enc := s[:len(s)-20], s[len(s)-20:]
	b, err := z85Decode(enc)
	if err != nil {
		return "", err
	}
	id, err := uuid.FromBytes(b)
	if err != nil {
		return "", err
	}
	name := "deletion_vector_" + id.String() + ".bin"
	if prefix != "" {
		return prefix + "/" + name, nil
	}
	return name, nil
}

// dvFromFile cuts one vector out of a deletion vector file: at its offset, a big-endian
// size, the bitmap, and a big-endian CRC-32 of the bitmap.
func dvFromFile(file []byte, dv *DeletionVector) ([]byte, error) {
	if len(file) == 0 || file[0] != dvFileVersion {
		return nil, errors.New("not a deletion vector file (version byte is not 1)")
	}
	off := int64(1)
	if dv.Offset != nil {
		off = int64(*dv.Offset)
	}
	end := off + 4 + int64(dv.SizeInBytes) + 4
	if off < 1 || end > int64(len(file)) {
		return nil, fmt.Errorf("offset %d and size %d run past the end of the file (%d bytes)", off, dv.SizeInBytes, len(file))
	}
	if size := binary.BigEndian.Uint32(file[off:]); size != uint32(dv.SizeInBytes) {
		return nil, fmt.Errorf("the file says %d bytes at offset %d, the descriptor %d", size, off, dv.SizeInBytes)
	}
	data := file[off+4 : off+4+int64(dv.SizeInBytes)]
	if sum := binary.BigEndian.Uint32(file[end-4:]); sum != crc32.ChecksumIEEE(data) {
		return nil, fmt.Errorf("checksum mismatch at offset %d", off)
	}
	return data, nil
}

// decodeDVBitmap reads the magic number and the 64-bit RoaringBitmap after it: the
// portable serialization (a count of 32-bit buckets, then each bucket's key and
// bitmap), or Delta's native one (a count, then each bucket's size and bitmap, the key
// being its index), all little endian.
func decodeDVBitmap(data []byte) (*roaring64.Bitmap, error) {
	if len(data) < 8 {
		return nil, errors.New("too short for a RoaringBitmapArray")
	}
	rows := roaring64.New()
	switch binary.LittleEndian.Uint32(data) {
	case dvMagic:
		if _, err := rows.ReadFrom(bytes.NewReader(data[4:])); err != nil {
			return nil, err
		}
		return rows, nil
	case dvMagicNative:
		n := binary.LittleEndian.Uint32(data[4:])
		rest := data[8:]
		for key := range n {
			if len(rest) < 4 {
				return nil, errors.New("native RoaringBitmapArray ends early")
			}
			size := binary.LittleEndian.Uint32(rest)
			if uint64(size) > uint64(len(rest)-4) {
				return nil, errors.New("native RoaringBitmapArray ends early")
			}
			bucket := roaring.New()
			if _, err := bucket.FromBuffer(rest[4 : 4+size]); err != nil {
				return nil, err
			}
			for it := bucket.Iterator(); it.HasNext(); {
				rows.Add(uint64(key)<<32 | uint64(it.Next()))
			}
			rest = rest[4+size:]
		}
		return rows, nil
	}
	return nil, errors.New("no RoaringBitmapArray magic number")
}

// encodeDVBitmap is the magic number and the portable serialization of rows.
func encodeDVBitmap(rows *roaring64.Bitmap) ([]byte, error) {
	rows.RunOptimize()
	var buf bytes.Buffer
	buf.Write(binary.LittleEndian.AppendUint32(nil, dvMagic))
	if _, err := rows.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteDeletionVector stores rows as a deletion vector file under the table root and
// returns its descriptor (storage type u, no prefix, offset 1). Row indexes must be
// below 2^63, as the protocol requires.
func WriteDeletionVector(ctx context.Context, store storage.Storage, rows *roaring64.Bitmap) (*DeletionVector, error) {
	if !rows.IsEmpty() && rows.Maximum() >= 1<<63 {
		return nil, fmt.Errorf("table %s: deletion vector: row index %d is out of range", store.URI(), rows.Maximum())
	}
	data, err := encodeDVBitmap(rows)
	if err != nil {
		return nil, err
	}
	if len(data) > maxDVBytes {
		return nil, fmt.Errorf("table %s: deletion vector of %d bytes is too large", store.URI(), len(data))
	}
	file := make([]byte, 0, 1+4+len(data)+4)
	file = append(file, dvFileVersion)
	file = binary.BigEndian.AppendUint32(file, uint32(len(data)))
	file = append(file, data...)
	file = binary.BigEndian.AppendUint32(file, crc32.ChecksumIEEE(data))
	id := uuid.New()
	key := "deletion_vector_" + id.String() + ".bin"
	if err := store.PutIfAbsent(ctx, key, file); err != nil {
		return nil, fmt.Errorf("table %s: write deletion vector %s: %w", store.URI(), key, err)
	}
	offset := int32(1)
	return &DeletionVector{StorageType: DVRelativeUUID, PathOrInlineDv: z85Encode(id[:]), Offset: &offset,
		SizeInBytes: int32(len(data)), Cardinality: int64(rows.GetCardinality())}, nil
}

// InlineDeletionVector returns a descriptor that carries rows in the log itself (for
// small vectors: Spark and delta-rs read them, and no file is written).
func InlineDeletionVector(rows *roaring64.Bitmap) (*DeletionVector, error) {
	data, err := encodeDVBitmap(rows)
	if err != nil {
		return nil, err
	}
	return &DeletionVector{StorageType: DVInline, PathOrInlineDv: z85Encode(data), SizeInBytes: int32(len(data)),
		Cardinality: int64(rows.GetCardinality())}, nil
}

// Z85 (https://rfc.zeromq.org/spec/32/), the Base85 variant the protocol uses. Input
// not a multiple of 4 bytes is padded with zeros, as Delta's Base85Codec does; the
// descriptor's size tells the decoder where the data ends.
const z85Alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

var z85Values = func() (v [256]byte) {
	for i := range v {
		v[i] = 0xff
	}
	for i := 0; i < len(z85Alphabet); i++ {
		v[z85Alphabet[i]] = byte(i)
	}
	return v
}()

func z85Encode(data []byte) string {
	if r := len(data) % 4; r != 0 {
		data = append(data[:len(data):len(data)], make([]byte, 4-r)...)
	}
	out := make([]byte, 0, len(data)/4*5)
	for i := 0; i < len(data); i += 4 {
		v := binary.BigEndian.Uint32(data[i:])
		var block [5]byte
		for j := 4; j >= 0; j-- {
			block[j] = z85Alphabet[v%85]
			v /= 85
		}
		out = append(out, block[:]...)
	}
	return string(out)
}

func z85Decode(s string) ([]byte, error) {
	if len(s)%5 != 0 {
		return nil, fmt.Errorf("Z85 text of %d characters is not a multiple of 5", len(s))
	}
	out := make([]byte, 0, len(s)/5*4)
	for i := 0; i < len(s); i += 5 {
		var v uint64
		for j := range 5 {
			d := z85Values[s[i+j]]
			if d == 0xff {
				return nil, fmt.Errorf("invalid Z85 character %q at %d", s[i+j], i+j)
			}
			v = v*85 + uint64(d)
		}
		if v > 0xffffffff {
			return nil, fmt.Errorf("invalid Z85 block at %d", i)
		}
		out = binary.BigEndian.AppendUint32(out, uint32(v))
	}
	return out, nil
}
