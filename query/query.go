// Package query reads Delta tables with SQL: it registers a table's latest snapshot in
// DuckDB as a view over exactly the live data files the log lists, with partition
// values taken from the log (not from directory names) and the rows that deletion
// vectors delete left out.
package query

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// OpenDB opens an in-memory DuckDB database.
func OpenDB() (*sql.DB, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("duckdb: %w", err)
	}
	db.SetMaxOpenConns(1) // one connection: temp tables and views stay visible
	return db, nil
}

// Register creates (or replaces) view name in db over the snapshot of a table on local
// disk.
func Register(ctx context.Context, db *sql.DB, name string, store storage.Storage, snap *table.Snapshot) error {
	return RegisterWith(ctx, db, name, store, snap, Options{})
}

// Options say which files a view reads and how they become local.
type Options struct {
	// Files are the snapshot's files the view reads (Prune's). Defaults to every live
	// file of the snapshot.
	Files []*table.Add
	// Where filters the view's rows: a SQL predicate (DuckDB's dialect) over its
	// columns. Defaults to none.
	Where string
	// Cache holds local copies of the files of a table not on local disk; required for
	// one.
	Cache *Cache
	// Progress reports the files made local through Cache.
	Progress Progress
}

// RegisterWith creates (or replaces) view name in db over the snapshot: a table on
// local disk is read in place, any other through opts.Cache.
func RegisterWith(ctx context.Context, db *sql.DB, name string, store storage.Storage, snap *table.Snapshot, opts Options) error {
	local, isLocal := store.(*storage.Local)
	if !isLocal && opts.Cache == nil {
		return fmt.Errorf("query: %s: a table not on local disk is read through a local cache (Options.Cache)", store.URI())
	}
	schema := snap.Schema()
	partCols := snap.PartitionColumns()
	isPart := map[string]bool{}
	for _, p := range partCols {
		isPart[p] = true
	}
	files := opts.Files
	if files == nil {
		files = snap.Files()
	}
	view := quoteIdent(name)
	if len(files) == 0 {
		var cols []string
		for _, f := range schema.Fields {
			typ, err := duckType(f.Type)
			if err != nil {
				return fmt.Errorf("query: column %q: %w", f.Name, err)
			}
			cols = append(cols, fmt.Sprintf("CAST(NULL AS %s) AS %s", typ, quoteIdent(f.Name)))
		}
		_, err := db.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE VIEW %s AS SELECT %s WHERE false", view, strings.Join(cols, ", ")))
		return err
	}
	paths := make([]string, len(files))
	var remote []string // keys fetched through the cache
	var remoteIdx []int
	for i, f := range files {
		key, err := table.DecodePath(f.Path)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(key, "file://"):
			paths[i] = filepath.FromSlash(strings.TrimPrefix(key, "file://"))
		case strings.Contains(key, "://"):
			return fmt.Errorf("query: file %s is in another store than the table", key)
		case isLocal:
			paths[i] = filepath.Join(local.Root(), filepath.FromSlash(key))
		default:
			remote, remoteIdx = append(remote, key), append(remoteIdx, i)
		}
	}
	if len(remote) > 0 {
		got, err := opts.Cache.fetch(ctx, store, remote, opts.Progress)
		if err != nil {
			return err
		}
		for j, i := range remoteIdx {
			paths[i] = got[j]
		}
	}
	fileList := "[" + joinQuoted(paths) + "]"
	selectCols, err := selectColumns(ctx, db, schema, isPart, fileList)
	if err != nil {
		return err
	}
	deleted, err := registerDeletedRows(ctx, db, name, store, files, paths)
	if err != nil {
		return err
	}
	readOpts := "union_by_name=true"
	if len(partCols) > 0 || deleted != "" {
		readOpts += ", filename=true"
	}
	if deleted != "" {
		readOpts += ", file_row_number=true"
	}
	from := fmt.Sprintf("read_parquet(%s, %s) d", fileList, readOpts)
	if deleted != "" {
		from += fmt.Sprintf(" ANTI JOIN %s x ON d.filename = x.filename AND d.file_row_number = x.row", deleted)
	}
	if len(partCols) > 0 {
		filesTable, err := registerPartitionValues(ctx, db, name, files, paths, schema, partCols)
		if err != nil {
			return err
		}
		from += fmt.Sprintf(" JOIN %s f ON d.filename = f.filename", filesTable)
	}
	q := fmt.Sprintf("SELECT %s FROM %s", strings.Join(selectCols, ", "), from)
	if opts.Where != "" {
		q = fmt.Sprintf("SELECT * FROM (%s) WHERE %s", q, opts.Where)
	}
	_, err = db.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE VIEW %s AS %s", view, q))
	return err
}

// selectColumns is the view's select list: each column of the schema by its display
// name, read from the files by its physical name (column mapping; nested fields are
// renamed too), from the partition values, or NULL when no file has it (a column added
// after them) or it is void. A column that type widening changed is cast to the table's type: files
// written before hold the narrower one (PROTOCOL.md, "Reader Requirements for Type
// Widening"), and DuckDB would otherwise give the files' common type, the narrower one
// when no file has the wider yet.
func selectColumns(ctx context.Context, db *sql.DB, schema *table.StructType, isPart map[string]bool, fileList string) ([]string, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet(%s, union_by_name=true))", fileList))
	if err != nil {
		return nil, fmt.Errorf("query: read the data files' columns: %w", err)
	}
	present := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return nil, err
		}
		present[c] = true
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	var cols []string
	for _, f := range schema.Fields {
		typ, err := duckType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("query: column %q: %w", f.Name, err)
		}
		switch phys := f.PhysicalName(); {
		case f.Type == table.Void:
			cols = append(cols, fmt.Sprintf("NULL AS %s", quoteIdent(f.Name)))
		case isPart[f.Name]:
			cols = append(cols, fmt.Sprintf("CAST(f.%s AS %s) AS %s", quoteIdent(f.Name), typ, quoteIdent(f.Name)))
		case !present[phys]:
			cols = append(cols, fmt.Sprintf("CAST(NULL AS %s) AS %s", typ, quoteIdent(f.Name)))
		case f.Type == table.Variant:
			col := "d." + quoteIdent(phys)
			cols = append(cols, fmt.Sprintf("CASE WHEN %s IS NULL THEN NULL ELSE CAST(%s AS JSON) END AS %s", col, col, quoteIdent(f.Name)))
		default:
			expr, _ := logicalExpr("d."+quoteIdent(phys), f.Type, 0)
			if widened(f) {
				expr = fmt.Sprintf("CAST(%s AS %s)", expr, typ)
			}
			cols = append(cols, fmt.Sprintf("%s AS %s", expr, quoteIdent(f.Name)))
		}
	}
	return cols, nil
}

// widened reports whether type widening changed the type of f, or of a field inside it.
func widened(f *table.StructField) bool {
	if changes, err := f.TypeChanges(); err != nil || len(changes) > 0 {
		return true
	}
	return widenedInside(f.Type)
}

func widenedInside(t table.DataType) bool {
	switch t := t.(type) {
	case *table.StructType:
		return slices.ContainsFunc(t.Fields, widened)
	case *table.ArrayType:
		return widenedInside(t.ElementType)
	case *table.MapType:
		return widenedInside(t.KeyType) || widenedInside(t.ValueType)
	}
	return false
}

// logicalExpr renames the nested fields of a column read by physical names to their
// display names, and puts back the void fields the files leave out as NULL; changed is
// false when no name differs and nothing is void (expr is returned as it is).
func logicalExpr(expr string, t table.DataType, depth int) (out string, changed bool) {
	if t == table.Void {
		return "NULL", true
	}
	switch t := t.(type) {
	case *table.StructType:
		parts := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			inner, ch := logicalExpr(fmt.Sprintf("struct_extract(%s, %s)", expr, quoteString(f.PhysicalName())), f.Type, depth+1)
			changed = changed || ch || f.PhysicalName() != f.Name
			parts[i] = quoteIdent(f.Name) + " := " + inner
		}
		if !changed {
			return expr, false
		}
		return fmt.Sprintf("CASE WHEN %s IS NULL THEN NULL ELSE struct_pack(%s) END", expr, strings.Join(parts, ", ")), true
	case *table.ArrayType:
		x := fmt.Sprintf("x%d", depth)
		inner, ch := logicalExpr(x, t.ElementType, depth+1)
		if !ch {
			return expr, false
		}
		return fmt.Sprintf("list_transform(%s, %s -> %s)", expr, x, inner), true
	case *table.MapType:
		e := fmt.Sprintf("e%d", depth)
		k, kch := logicalExpr(e+".key", t.KeyType, depth+1)
		v, vch := logicalExpr(e+".value", t.ValueType, depth+1)
		if !kch && !vch {
			return expr, false
		}
		return fmt.Sprintf("map_from_entries(list_transform(map_entries(%s), %s -> struct_pack(key := %s, value := %s)))", expr, e, k, v), true
	}
	return expr, false
}

// registerPartitionValues fills a temporary table with each file's partition values,
// which the files do not hold (keyed in the log by physical names), and returns its name.
func registerPartitionValues(ctx context.Context, db *sql.DB, name string, files []*table.Add, paths []string, schema *table.StructType, partCols []string) (string, error) {
	filesTable := quoteIdent("_sluice_files_" + name)
	cols := []string{"filename VARCHAR"}
	for _, p := range partCols {
		cols = append(cols, quoteIdent(p)+" VARCHAR")
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s (%s)", filesTable, strings.Join(cols, ", "))); err != nil {
		return "", err
	}
	const batch = 500
	for start := 0; start < len(files); start += batch {
		var rows []string
		for i := start; i < min(start+batch, len(files)); i++ {
			vals := []string{quoteString(paths[i])}
			for _, p := range partCols {
				key := p
				if f := schema.Field(p); f != nil {
					key = f.PhysicalName()
				}
				if v := files[i].PartitionValues[key]; v != nil {
					vals = append(vals, quoteString(*v))
				} else {
					vals = append(vals, "NULL")
				}
			}
			rows = append(rows, "("+strings.Join(vals, ", ")+")")
		}
		if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s VALUES %s", filesTable, strings.Join(rows, ", "))); err != nil {
			return "", err
		}
	}
	return filesTable, nil
}

// registerDeletedRows fills a temporary table with the rows that the files' deletion
// vectors delete, (filename, row index), and returns its name; "" when no file has one.
func registerDeletedRows(ctx context.Context, db *sql.DB, name string, store storage.Storage, files []*table.Add, paths []string) (string, error) {
	deleted := quoteIdent("_sluice_deleted_" + name)
	created := false
	for i, f := range files {
		rows, err := table.DeletedRows(ctx, store, f)
		if err != nil {
			return "", fmt.Errorf("query: %w", err)
		}
		if rows == nil || rows.IsEmpty() {
			continue
		}
		if !created {
			if _, err := db.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s (filename VARCHAR, row BIGINT)", deleted)); err != nil {
				return "", err
			}
			created = true
		}
		const batch = 10000
		list := make([]string, 0, batch)
		flush := func() error {
			if len(list) == 0 {
				return nil
			}
			_, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s SELECT %s, unnest([%s]::BIGINT[])", deleted, quoteString(paths[i]), strings.Join(list, ",")))
			list = list[:0]
			return err
		}
		for it := rows.Iterator(); it.HasNext(); {
			list = append(list, strconv.FormatUint(it.Next(), 10))
			if len(list) == batch {
				if err := flush(); err != nil {
					return "", err
				}
			}
		}
		if err := flush(); err != nil {
			return "", err
		}
	}
	if !created {
		return "", nil
	}
	return deleted, nil
}

func duckType(t table.DataType) (string, error) {
	switch t := t.(type) {
	case *table.DecimalType:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale), nil
	case table.PrimitiveType:
		switch t {
		case table.String:
			return "VARCHAR", nil
		case table.Long:
			return "BIGINT", nil
		case table.Integer:
			return "INTEGER", nil
		case table.Short:
			return "SMALLINT", nil
		case table.Byte:
			return "TINYINT", nil
		case table.Float:
			return "FLOAT", nil
		case table.Double:
			return "DOUBLE", nil
		case table.Boolean:
			return "BOOLEAN", nil
		case table.Binary:
			return "BLOB", nil
		case table.Date:
			return "DATE", nil
		case table.Timestamp:
			return "TIMESTAMPTZ", nil
		case table.TimestampNTZ:
			return "TIMESTAMP", nil
		case table.Variant:
			// DuckDB reads Parquet variants as VARIANT; the view shows them as JSON,
			// which its JSON functions and SQL clients (the Go driver) understand.
			return "JSON", nil
		case table.Void:
			// DuckDB's own type of a NULL literal: a void column reads as NULL of it,
			// never from the files, which hold no column for it (as Spark writes them).
			return `"NULL"`, nil
		}
	case *table.StructType:
		fields := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			ft, err := duckType(f.Type)
			if err != nil {
				return "", err
			}
			fields[i] = quoteIdent(f.Name) + " " + ft
		}
		return "STRUCT(" + strings.Join(fields, ", ") + ")", nil
	case *table.ArrayType:
		et, err := duckType(t.ElementType)
		if err != nil {
			return "", err
		}
		return et + "[]", nil
	case *table.MapType:
		kt, err := duckType(t.KeyType)
		if err != nil {
			return "", err
		}
		vt, err := duckType(t.ValueType)
		if err != nil {
			return "", err
		}
		return "MAP(" + kt + ", " + vt + ")", nil
	}
	return "", fmt.Errorf("type %s has no DuckDB equivalent", t)
}

func quoteIdent(s string) string  { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteString(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

func joinQuoted(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quoteString(s)
	}
	return strings.Join(out, ", ")
}
