package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/spf13/cobra"

	"github.com/sluicelake/sluice/query"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

func queryCmd() *cobra.Command {
	var as string
	var at travel
	var s3 s3Flags
	cmd := &cobra.Command{
		Use:   "query LOCATION SQL",
		Short: "Run SQL (DuckDB) over the latest snapshot of a Delta table",
		Long: `Query registers the table's latest snapshot as a view and runs the SQL with DuckDB.
The view is named after the last element of LOCATION (override with --as).

  sluice query ./lake/events "SELECT day, count(*) FROM events GROUP BY day ORDER BY day"
  sluice query ./lake/events --version 12 "SELECT count(*) FROM events"
  sluice query ./lake/events --timestamp 2026-12-01T08:00:00Z "SELECT count(*) FROM events"`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := as
			if name == "" {
				name = viewName(args[0])
			}
			store, err := s3.open(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			snap, err := at.load(cmd.Context(), store)
			if err != nil {
				return err
			}
			return querySnapshot(cmd.Context(), os.Stdout, store, snap, name, args[1])
		},
	}
	cmd.Flags().StringVar(&as, "as", "", "name of the view the SQL refers to")
	cmd.Flags().Int64Var(&at.version, "version", -1, "query this version of the table (time travel)")
	cmd.Flags().StringVar(&at.timestamp, "timestamp", "", "query the latest version committed at or before this time (RFC 3339, or YYYY-MM-DD[ HH:MM:SS] in UTC)")
	cmd.MarkFlagsMutuallyExclusive("version", "timestamp")
	s3.register(cmd)
	return cmd
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]`)

func viewName(location string) string {
	base := filepath.Base(strings.TrimRight(location, "/"))
	n := nonIdent.ReplaceAllString(base, "_")
	if n == "" || (n[0] >= '0' && n[0] <= '9') {
		n = "t_" + n
	}
	return n
}

func runQuery(ctx context.Context, w io.Writer, location, name, sqlText string) error {
	store, err := storage.Open(ctx, location)
	if err != nil {
		return err
	}
	return queryStore(ctx, w, store, name, sqlText)
}

// travel says which version a query reads: the latest, a version, or the one current at
// a time.
type travel struct {
	version   int64 // -1: not given
	timestamp string
}

func (a travel) load(ctx context.Context, store storage.Storage) (*table.Snapshot, error) {
	switch {
	case a.version >= 0:
		return table.LoadVersion(ctx, store, a.version)
	case a.timestamp != "":
		t, err := parseTime(a.timestamp)
		if err != nil {
			return nil, err
		}
		v, err := table.VersionAt(ctx, store, t)
		if err != nil {
			return nil, err
		}
		return table.LoadVersion(ctx, store, v)
	}
	return table.Load(ctx, store)
}

// parseTime reads an RFC 3339 time, or a date and time in UTC.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--timestamp %q: want RFC 3339 (2026-12-01T08:00:00Z) or YYYY-MM-DD[ HH:MM:SS] in UTC", s)
}

func queryStore(ctx context.Context, w io.Writer, store storage.Storage, name, sqlText string) error {
	snap, err := table.Load(ctx, store)
	if err != nil {
		return err
	}
	return querySnapshot(ctx, w, store, snap, name, sqlText)
}

func querySnapshot(ctx context.Context, w io.Writer, store storage.Storage, snap *table.Snapshot, name, sqlText string) error {
	db, err := query.OpenDB()
	if err != nil {
		return err
	}
	defer db.Close()
	if err := query.Register(ctx, db, name, store, snap); err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, sqlText)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	return printRows(w, rows)
}

// printRows writes a result set as an aligned text table.
func printRows(w io.Writer, rows *sql.Rows) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		cells := make([]string, len(cols))
		for i, v := range vals {
			cells[i] = formatCell(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "(%d row%s)\n", n, map[bool]string{true: "", false: "s"}[n == 1])
	return nil
}

func formatCell(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case map[string]any, []any, duckdb.OrderedMap:
		return formatNested(v)
	case time.Time:
		if v.Hour() == 0 && v.Minute() == 0 && v.Second() == 0 && v.Nanosecond() == 0 {
			return v.UTC().Format("2006-01-02")
		}
		return v.UTC().Format("2006-01-02 15:04:05.999999Z07:00")
	case float64:
		return fmt.Sprintf("%.4f", v)
	case []byte:
		return fmt.Sprintf("%x", v)
	}
	return fmt.Sprint(v)
}

// formatNested renders structs, lists and maps compactly: {a: 1, b: x}, [1, 2], {k=v}.
func formatNested(v any) string {
	switch v := v.(type) {
	case map[string]any:
		keys := slices.Sorted(maps.Keys(v))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + formatNested(v[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = formatNested(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case duckdb.OrderedMap:
		parts := make([]string, v.Len())
		for i, k := range v.Keys() {
			parts[i] = formatNested(k) + "=" + formatNested(v.Values()[i])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return formatCell(v)
}
