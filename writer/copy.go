package writer

// Copying rows of existing data files into a Buffer, column by column, for compaction
// (OPTIMIZE): the values and their definition and repetition levels go straight from
// the file's pages into the leaves, converted where the file stores a column the way
// an older writer or an older type did (INT96 or millisecond timestamps, decimals of
// another physical type or a smaller scale, a type that type widening has widened).
// Rows a deletion vector marks deleted are left out. The Buffer then encodes the rows
// as new files with statistics computed as for any other rows.

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/sluicelake/sluice/table"
)

// LayoutError says why a data file's columns do not map onto the buffer's: a column
// nested differently, a type the copy cannot convert, a struct field the file lacks.
// Compaction leaves such files as they are.
type LayoutError struct {
	Column string // dotted column path in the table
	Msg    string
}

func (e *LayoutError) Error() string { return fmt.Sprintf("column %s: %s", e.Column, e.Msg) }

// Layout is how a data file's columns map onto a Buffer's leaves; FileLayout builds it
// once per file schema.
type Layout struct {
	src  []int // per leaf: the file's column index, or -1 for a column the file lacks (nulls)
	conv []valueConv
	defs []defLevels
}

// valueConv appends one present value of a file column to a leaf, converted to its
// kind; a value out of the leaf's range is an error.
type valueConv func(v parquet.Value, d *leafData) error

// FileLayout maps the columns of a data file with Parquet schema s onto the buffer's
// leaves: by field id when the buffer writes with column mapping and the file has
// ids, else by name (the physical name under column mapping). A top-level column the
// file lacks (added after it was written) reads as null. Anything else that does not
// map is a *LayoutError.
func (b *Buffer) FileLayout(s *parquet.Schema) (*Layout, error) {
	l := &Layout{src: make([]int, len(b.leaves)), conv: make([]valueConv, len(b.leaves)), defs: make([]defLevels, len(b.leaves))}
	for i := range l.src {
		l.src[i] = -1
	}
	src := indexLeaves(s)
	for j, i := range b.dataIdx {
		root := b.roots[j]
		f := src.field(root.name, root.id, b.spec.ColumnMapping)
		if f == nil {
			if !root.nullable {
				return nil, &LayoutError{Column: b.cols[i].Name, Msg: "not nullable, and the file has no such column"}
			}
			continue
		}
		if err := b.mapNode(l, root, f, defLevels{0}); err != nil {
			return nil, err
		}
	}
	if !slices.ContainsFunc(l.src, func(s int) bool { return s >= 0 }) {
		return nil, &LayoutError{Column: "*", Msg: "the file has none of the table's columns"}
	}
	return l, nil
}

// srcNode is a node of a file's Parquet schema with the index of each leaf.
type srcNode struct {
	node   parquet.Node
	name   string
	leaf   int // column index, for leaves
	fields []*srcNode
}

func indexLeaves(s *parquet.Schema) *srcNode {
	next := 0
	var walk func(name string, n parquet.Node) *srcNode
	walk = func(name string, n parquet.Node) *srcNode {
		sn := &srcNode{node: n, name: name, leaf: -1}
		if n.Leaf() {
			sn.leaf = next
			next++
			return sn
		}
		for _, f := range n.Fields() {
			sn.fields = append(sn.fields, walk(f.Name(), f))
		}
		return sn
	}
	return walk("", s)
}

// field finds the child named name (or with field id id, when byID and the file has
// ids).
func (n *srcNode) field(name string, id int, byID bool) *srcNode {
	if byID && id != 0 {
		for _, f := range n.fields {
			if f.node.ID() == id {
				return f
			}
		}
	}
	for _, f := range n.fields {
		if f.name == name {
			return f
		}
	}
	return nil
}

// defLevels maps the file's definition levels of one leaf onto the table's: the
// file may make a field optional that the table has required (its values must then
// all be present) or the other way round. def[d] is the table's level for the file's
// level d, -1 for a null the table does not allow.
type defLevels []int8

// step extends the map by one node on the path to a leaf: optional (or repeated) in
// the file, in the table. The last entry is the level of a value defined through all
// the nodes so far.
func (m defLevels) step(inFile, inTable bool) defLevels {
	m = slices.Clone(m)
	last := m[len(m)-1]
	switch {
	case inFile && inTable:
		m = append(m, last+1)
	case inFile: // a null at this node in the file is one the table does not allow
		m[len(m)-1] = -1
		m = append(m, last)
	case inTable:
		m[len(m)-1]++
	}
	return m
}

// mapNode maps the target node n onto the file's node f: leaves get the file's column,
// a conversion of its values and the map of its definition levels; the nesting must be
// the same (struct for struct, list for list), the nullability may differ.
func (b *Buffer) mapNode(l *Layout, n *snode, f *srcNode, defs defLevels) error {
	mismatch := func(msg string) error { return &LayoutError{Column: n.path, Msg: msg} }
	if f.node.Repeated() {
		return mismatch("repeated in the file (a list in Parquet's two-level layout), not in the table")
	}
	defs = defs.step(f.node.Optional(), n.nullable)
	switch {
	case n.variant:
		if len(f.fields) != 2 {
			return mismatch("a variant, but the file's group is not metadata and value")
		}
		for k, name := range []string{"metadata", "value"} {
			g := f.field(name, 0, false)
			if g == nil || g.leaf < 0 || g.node.Type().Kind() != parquet.ByteArray || !g.node.Required() {
				return mismatch("a variant, but the file's group has no required binary " + name)
			}
			i := n.leafLo + k
			l.src[i], l.conv[i], l.defs[i] = g.leaf, copyBytes, defs
		}
		return nil
	case n.leaf != nil:
		if f.leaf < 0 {
			return mismatch("a primitive in the table, a group in the file")
		}
		conv, err := convFor(n.leaf, f.node)
		if err != nil {
			return mismatch(err.Error())
		}
		i := n.leaf.index
		l.src[i], l.conv[i], l.defs[i] = f.leaf, conv, defs
		return nil
	case n.fields != nil:
		if f.leaf >= 0 {
			return mismatch("a struct in the table, not in the file")
		}
		for _, c := range n.fields {
			if c.void {
				continue
			}
			g := f.field(c.name, c.id, b.spec.ColumnMapping)
			if g == nil {
				return &LayoutError{Column: c.path, Msg: "the file has no such struct field"}
			}
			if err := b.mapNode(l, c, g, defs); err != nil {
				return err
			}
		}
		return nil
	default: // list or map: the file's group holds one repeated group of the element or the key and value
		if len(f.fields) != 1 || !f.fields[0].node.Repeated() || f.fields[0].leaf >= 0 {
			return mismatch("a list or map in the table, but the file does not use Parquet's three-level layout")
		}
		inner := f.fields[0]
		defs = defs.step(true, true) // the repeated group: a level in both
		if n.elem != nil {
			if len(inner.fields) != 1 {
				return mismatch("a list in the table, not in the file")
			}
			return b.mapNode(l, n.elem, inner.fields[0], defs)
		}
		if len(inner.fields) != 2 {
			return mismatch("a map in the table, not in the file")
		}
		if err := b.mapNode(l, n.key, inner.fields[0], defs); err != nil {
			return err
		}
		return b.mapNode(l, n.val, inner.fields[1], defs)
	}
}

// convFor returns the conversion of a file column's values into leaf's kind.
func convFor(leaf *leaf, src parquet.Node) (valueConv, error) {
	typ := src.Type()
	phys := typ.Kind()
	srcDecimal, srcDecScale := decimalOf(typ)
	scaleUp := int64(1) // a decimal's unscaled value times this: the table's scale is larger
	srcScale := 0
	if d, ok := leaf.typ.(*table.DecimalType); ok {
		if srcDecimal {
			srcScale = srcDecScale
		}
		if srcScale > d.Scale {
			return nil, fmt.Errorf("decimal scale %d in the file, %d in the table", srcScale, d.Scale)
		}
		scaleUp = pow10(d.Scale - srcScale).Int64()
		if d.Scale-srcScale > 18 {
			return nil, fmt.Errorf("decimal scale %d in the file, %d in the table", srcScale, d.Scale)
		}
	}
	_, isDecimal := leaf.typ.(*table.DecimalType)
	switch leaf.kind {
	case kindInt32, kindInt64:
		toInt := func(v int64, d *leafData) error {
			if v < leaf.minInt || v > leaf.maxInt {
				return fmt.Errorf("value %d out of range for %s", v, leaf.typ)
			}
			if leaf.kind == kindInt32 {
				d.i32 = append(d.i32, int32(v))
			} else {
				d.i64 = append(d.i64, v)
			}
			return nil
		}
		switch {
		case phys == parquet.Int96 && (leaf.typ == table.Timestamp || leaf.typ == table.TimestampNTZ):
			return func(v parquet.Value, d *leafData) error { return toInt(int96Micros(v), d) }, nil
		case (phys == parquet.Int32 || phys == parquet.Int64) && (leaf.typ == table.Timestamp || leaf.typ == table.TimestampNTZ):
			per := int64(1) // micros per unit, or (negative) units per micro
			switch timeUnitOf(typ) {
			case "date":
				per = 86_400_000_000 // date widened to timestamp_ntz
			case "millis":
				per = 1000
			case "nanos":
				per = -1000
			}
			switch {
			case per == 86_400_000_000 && phys == parquet.Int32:
			case phys == parquet.Int32:
				return nil, fmt.Errorf("an INT32 without a date type cannot be a %s", leaf.typ)
			}
			return func(v parquet.Value, d *leafData) error {
				x := v.Int64()
				if phys == parquet.Int32 {
					x = int64(v.Int32())
				}
				if per > 0 {
					x *= per
				} else {
					x = FloorDiv(x, -per)
				}
				return toInt(x, d)
			}, nil
		case phys == parquet.Int32 || phys == parquet.Int64:
			if !isDecimal && srcDecimal {
				return nil, fmt.Errorf("%s in the file, %s in the table", typ, leaf.typ)
			}
			return func(v parquet.Value, d *leafData) error {
				x := v.Int64()
				if phys == parquet.Int32 {
					x = int64(v.Int32())
				}
				return toInt(x*scaleUp, d)
			}, nil
		case isDecimal && (phys == parquet.FixedLenByteArray || phys == parquet.ByteArray):
			return func(v parquet.Value, d *leafData) error {
				x, ok := TwosComplementInt64(v.ByteArray())
				if !ok {
					return fmt.Errorf("a decimal of %d bytes out of range for %s", len(v.ByteArray()), leaf.typ)
				}
				return toInt(x*scaleUp, d)
			}, nil
		}
	case kindFloat:
		if phys == parquet.Float {
			return func(v parquet.Value, d *leafData) error { d.f32 = append(d.f32, v.Float()); return nil }, nil
		}
	case kindDouble:
		switch phys {
		case parquet.Double:
			return func(v parquet.Value, d *leafData) error { d.f64 = append(d.f64, v.Double()); return nil }, nil
		case parquet.Float:
			return func(v parquet.Value, d *leafData) error { d.f64 = append(d.f64, float64(v.Float())); return nil }, nil
		}
	case kindBool:
		if phys == parquet.Boolean {
			return func(v parquet.Value, d *leafData) error { d.bools = append(d.bools, v.Boolean()); return nil }, nil
		}
	case kindBytes:
		switch {
		case !isDecimal && (phys == parquet.ByteArray || phys == parquet.FixedLenByteArray):
			return copyBytes, nil
		case isDecimal:
			scale := leaf.typ.(*table.DecimalType).Scale - srcScale
			return func(v parquet.Value, d *leafData) error {
				var b []byte
				switch phys {
				case parquet.Int32:
					b = TwosComplement(big.NewInt(int64(v.Int32())))
				case parquet.Int64:
					b = TwosComplement(big.NewInt(v.Int64()))
				default:
					b = v.ByteArray()
				}
				if scale > 0 {
					b = ScaleTwosComplement(b, scale)
				}
				b = TrimTwosComplement(b)
				if len(b) > leaf.fixedLen {
					return fmt.Errorf("a decimal of %d bytes out of range for %s", len(b), leaf.typ)
				}
				d.data = appendSignExtended(d.data, b, leaf.fixedLen)
				d.offs = append(d.offs, uint32(len(d.data)))
				return nil
			}, nil
		}
	}
	return nil, fmt.Errorf("%s in the file cannot be copied into a %s column", typ, leaf.typ)
}

// decimalOf reports whether a file column is a decimal, and its scale.
func decimalOf(t parquet.Type) (bool, int) {
	if lt := t.LogicalType(); lt != nil {
		if d, ok := lt.Value.(*format.DecimalType); ok {
			return true, int(d.Scale)
		}
	}
	return false, 0
}

// timeUnitOf names what an integer file column counts: "date" (days), "millis",
// "micros" or "nanos" (a timestamp), or "" (neither).
func timeUnitOf(t parquet.Type) string {
	if lt := t.LogicalType(); lt != nil {
		switch v := lt.Value.(type) {
		case *format.DateType:
			return "date"
		case *format.TimestampType:
			switch v.Unit.Value.(type) {
			case *format.MilliSeconds:
				return "millis"
			case *format.NanoSeconds:
				return "nanos"
			}
			return "micros"
		}
	}
	if ct := t.ConvertedType(); ct != nil {
		switch *ct {
		case deprecated.Date:
			return "date"
		case deprecated.TimestampMillis:
			return "millis"
		case deprecated.TimestampMicros:
			return "micros"
		}
	}
	return ""
}

func copyBytes(v parquet.Value, d *leafData) error {
	d.data = append(d.data, v.ByteArray()...)
	d.offs = append(d.offs, uint32(len(d.data)))
	return nil
}

// int96Micros converts an INT96 timestamp (nanoseconds of the day, then the Julian
// day) to microseconds since the epoch.
func int96Micros(v parquet.Value) int64 {
	i := v.Int96()
	nanos := int64(i[1])<<32 | int64(i[0])
	const julianEpoch = 2_440_588
	return (int64(i[2])-julianEpoch)*microsPerDay + nanos/1000
}

// appendSignExtended appends b, big-endian two's complement, sign-extended to n bytes.
func appendSignExtended(dst, b []byte, n int) []byte {
	pad := byte(0)
	if len(b) > 0 && b[0]&0x80 != 0 {
		pad = 0xff
	}
	for range n - len(b) {
		dst = append(dst, pad)
	}
	return append(dst, b...)
}

// AppendRowGroup appends the rows of one row group of a data file mapped by l, except
// those deleted reports (by the row's index in the file: first is the index of the
// row group's first row), and returns the number of rows appended. The rows go to the
// buffer's one partition: a Buffer for compaction has no partition columns (the rows
// of one partition are compacted together). A value the copy cannot convert fails
// the call, and the buffer is then unusable.
func (b *Buffer) AppendRowGroup(rg parquet.RowGroup, l *Layout, first int64, deleted func(row int64) bool) (int, error) {
	if len(b.partIdx) > 0 {
		return 0, errors.New("writer: AppendRowGroup needs a buffer without partition columns")
	}
	chunks := rg.ColumnChunks()
	n := int(rg.NumRows())
	keep := make([]bool, n)
	kept := 0
	for r := range keep {
		keep[r] = deleted == nil || !deleted(first+int64(r))
		if keep[r] {
			kept++
		}
	}
	if kept == 0 {
		return 0, nil // every row deleted: nothing to copy, and no empty part to encode
	}
	p := b.partition()
	bytesBefore := b.bytes
	vals := make([]parquet.Value, 1024)
	for i, lf := range b.leaves {
		d := &p.leaves[lf.index]
		before, dataBefore := d.n, len(d.data)
		if l.src[i] < 0 {
			// A column the file lacks: null in every row (its top-level field is nullable).
			for range kept {
				d.levels(lf, 0, 0)
			}
			continue
		}
		conv, defs := l.conv[i], l.defs[i]
		pages := chunks[l.src[i]].Pages()
		row := -1
		for {
			pg, err := pages.ReadPage()
			if err == io.EOF {
				break
			}
			if err != nil {
				pages.Close()
				return 0, fmt.Errorf("column %s: %w", lf.path, err)
			}
			r := pg.Values()
			for {
				m, err := r.ReadValues(vals)
				for _, v := range vals[:m] {
					if v.RepetitionLevel() == 0 {
						row++
					}
					if row >= n || !keep[row] {
						continue
					}
					srcDef := v.DefinitionLevel()
					if srcDef >= len(defs) || defs[srcDef] < 0 {
						pages.Close()
						return 0, fmt.Errorf("column %s, row %d: a null in a field the table has as not nullable", lf.path, first+int64(row))
					}
					d.levels(lf, uint8(v.RepetitionLevel()), uint8(defs[srcDef]))
					if srcDef == len(defs)-1 {
						if err := conv(v, d); err != nil {
							pages.Close()
							return 0, fmt.Errorf("column %s, row %d: %w", lf.path, first+int64(row), err)
						}
					}
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					pages.Close()
					return 0, fmt.Errorf("column %s: %w", lf.path, err)
				}
			}
			parquet.Release(pg)
		}
		pages.Close()
		if row+1 != n {
			return 0, fmt.Errorf("column %s: %d rows in the column, %d in the row group", lf.path, row+1, n)
		}
		b.bytes += int64(d.n-before)*4 + int64(len(d.data)-dataBefore)
	}
	b.grew(p, b.bytes-bytesBefore)
	p.rows += kept
	b.rows += kept
	return kept, nil
}
