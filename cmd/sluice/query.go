package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/spf13/cobra"

	"github.com/sluicelake/sluice/query"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// queryFlags are sluice query's options.
type queryFlags struct {
	as        string
	at        travel
	s3        s3Flags
	where     string
	cacheDir  string
	cacheSize int64
	watch     time.Duration
	format    string
	limit     int
}

func queryCmd() *cobra.Command {
	var f queryFlags
	cmd := &cobra.Command{
		Use:   "query LOCATION SQL",
		Short: "Run SQL (DuckDB) over a snapshot of a Delta table, local or on S3",
		Long: `Query registers the table's latest snapshot as a view and runs the SQL with DuckDB.
The view is named after the last element of LOCATION (override with --as).

  sluice query ./lake/events "SELECT day, count(*) FROM events GROUP BY day ORDER BY day"
  sluice query ./lake/events --version 12 "SELECT count(*) FROM events"
  sluice query ./lake/events --timestamp 2026-12-01T08:00:00Z "SELECT count(*) FROM events"
  sluice query s3://lake/events --s3-endpoint http://minio:9000 --s3-path-style \
      --where "day >= '2026-12-01'" "SELECT count(*) FROM events"
  sluice query ./lake/events --watch 2s "SELECT count(*) FROM events"

A table on S3 (or any store DuckDB cannot read) is read through a local cache of its
data files (--cache-dir, bounded by --cache-size; Delta data files never change, so a
cached copy stays valid), downloaded in parallel. --where filters the view's rows and,
before anything is downloaded, leaves out the files that cannot hold a match: by their
partition values, and by the min/max statistics of the columns it compares with
constants. --watch runs the SQL again whenever the table's version moves, at most once
per interval, downloading only new files; Ctrl-C ends it.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := f.as
			if name == "" {
				name = viewName(args[0])
			}
			store, err := f.s3.open(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			q := &querier{flags: f, store: store, name: name, sql: args[1], out: os.Stdout, terminal: isTerminal(os.Stdout)}
			if !cmd.Flags().Changed("limit") && !q.terminal {
				q.flags.limit = 0 // capped only on a terminal unless asked
			}
			if _, local := store.(*storage.Local); !local {
				dir := f.cacheDir
				if dir == "" {
					if dir, err = query.DefaultCacheDir(); err != nil {
						return err
					}
				}
				if q.cache, err = query.NewCache(dir, f.cacheSize, 8); err != nil {
					return err
				}
			}
			if f.watch > 0 {
				if f.at.version >= 0 || f.at.timestamp != "" {
					return fmt.Errorf("--watch follows the latest version: it cannot be combined with --version or --timestamp")
				}
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				return q.watch(ctx)
			}
			snap, err := f.at.load(cmd.Context(), store)
			if err != nil {
				return err
			}
			return q.run(cmd.Context(), snap)
		},
	}
	cmd.Flags().StringVar(&f.as, "as", "", "name of the view the SQL refers to")
	cmd.Flags().Int64Var(&f.at.version, "version", -1, "query this version of the table (time travel)")
	cmd.Flags().StringVar(&f.at.timestamp, "timestamp", "", "query the latest version committed at or before this time (RFC 3339, or YYYY-MM-DD[ HH:MM:SS] in UTC)")
	cmd.MarkFlagsMutuallyExclusive("version", "timestamp")
	cmd.Flags().StringVar(&f.where, "where", "", "filter the view's rows with this SQL predicate, and skip the files that cannot match (partition values, min/max statistics)")
	cmd.Flags().StringVar(&f.cacheDir, "cache-dir", "", "where copies of S3 tables' files are kept (default: the user cache directory, sluice/query)")
	f.cacheSize = 10 << 30
	cmd.Flags().Var(sizeFlag{&f.cacheSize}, "cache-size", "bound of the cache; least recently used files go first (files the running query reads stay)")
	cmd.Flags().DurationVar(&f.watch, "watch", 0, "run the SQL again whenever the table's version moves, at most once per this interval")
	cmd.Flags().StringVar(&f.format, "format", "table", "output: table, csv, json (one array of objects) or markdown")
	cmd.Flags().IntVar(&f.limit, "limit", 1000, "print at most this many rows, and say how many were left out (on a terminal; elsewhere only when given)")
	f.s3.register(cmd)
	return cmd
}

// querier runs one query command: once, or again at each new version with --watch.
type querier struct {
	flags    queryFlags
	store    storage.Storage
	cache    *query.Cache
	name     string
	sql      string
	out      io.Writer
	terminal bool
}

// run prunes, makes the files local, registers the view and prints the result. A
// cached file another process evicted in between makes it try once more.
func (q *querier) run(ctx context.Context, snap *table.Snapshot) error {
	pruned, err := query.Prune(snap, q.flags.where)
	if err != nil {
		return err
	}
	var progress query.Progress
	if q.cache != nil && isTerminal(os.Stderr) {
		progress = func(done, total int, bytes int64) {
			fmt.Fprintf(os.Stderr, "\rfetching: %d/%d files, %s", done, total, humanBytes(bytes))
			if done == total {
				fmt.Fprint(os.Stderr, "\r\033[K")
			}
		}
	}
	var runErr error
	for attempt := 0; attempt < 2; attempt++ {
		runErr = q.once(ctx, snap, query.Options{Files: pruned.Files, Where: q.flags.where, Cache: q.cache, Progress: progress})
		if runErr == nil || q.cache == nil || !strings.Contains(runErr.Error(), "No files found") {
			break
		}
	}
	return runErr
}

func (q *querier) once(ctx context.Context, snap *table.Snapshot, opts query.Options) error {
	db, err := query.OpenDB()
	if err != nil {
		return err
	}
	defer db.Close()
	if err := query.RegisterWith(ctx, db, q.name, q.store, snap, opts); err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, q.sql)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	return printResult(q.out, rows, q.flags.format, q.flags.limit)
}

// watch runs the query at the latest version, then again each time the version moves,
// at most once per interval, until ctx ends (Ctrl-C): a clean end, not an error.
func (q *querier) watch(ctx context.Context) error {
	tbl := table.New(q.store)
	last := int64(-1)
	tick := time.NewTicker(q.flags.watch)
	defer tick.Stop()
	for {
		snap, err := tbl.Snapshot(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return err
		case snap.Version() != last:
			last = snap.Version()
			if q.terminal {
				fmt.Fprint(q.out, "\033[H\033[2J") // redraw from the top
			}
			when := ""
			if h, err := table.History(ctx, q.store, 1); err == nil && len(h) > 0 {
				when = ", committed " + h[0].Timestamp.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(q.out, "-- %s at version %d%s\n", q.store.URI(), snap.Version(), when)
			if err := q.run(ctx, snap); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
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
	q := &querier{flags: queryFlags{format: "table"}, store: store, name: name, sql: sqlText, out: w}
	return q.run(ctx, snap)
}

// printResult writes a result set as format (table, csv, json or markdown), at most
// limit rows (0: all), then a line saying how many were left out.
func printResult(w io.Writer, rows *sql.Rows, format string, limit int) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	var p rowPrinter
	switch format {
	case "", "table":
		p = &tablePrinter{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)}
	case "csv":
		p = &csvPrinter{cw: csv.NewWriter(w)}
	case "json":
		p = &jsonPrinter{w: w}
	case "markdown":
		p = &markdownPrinter{w: w}
	default:
		return fmt.Errorf("--format %q: want table, csv, json or markdown", format)
	}
	p.header(cols)
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n, left := 0, 0
	for rows.Next() {
		if limit > 0 && n >= limit {
			left++
			continue
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		p.row(cols, vals)
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	if format == "" || format == "table" {
		fmt.Fprintf(w, "(%d row%s)\n", n, map[bool]string{true: "", false: "s"}[n == 1])
	}
	if left > 0 {
		fmt.Fprintf(os.Stderr, "%d more rows not shown (--limit %d)\n", left, limit)
	}
	return nil
}

// rowPrinter writes a result set in one format.
type rowPrinter interface {
	header(cols []string)
	row(cols []string, vals []any)
	end() error
}

type tablePrinter struct{ tw *tabwriter.Writer }

func (p *tablePrinter) header(cols []string) { fmt.Fprintln(p.tw, strings.Join(cols, "\t")+"\t") }
func (p *tablePrinter) row(_ []string, vals []any) {
	cells := make([]string, len(vals))
	for i, v := range vals {
		cells[i] = formatCell(v)
	}
	fmt.Fprintln(p.tw, strings.Join(cells, "\t")+"\t")
}
func (p *tablePrinter) end() error { return p.tw.Flush() }

type csvPrinter struct{ cw *csv.Writer }

func (p *csvPrinter) header(cols []string) { p.cw.Write(cols) }
func (p *csvPrinter) row(_ []string, vals []any) {
	cells := make([]string, len(vals))
	for i, v := range vals {
		if v != nil {
			cells[i] = formatCell(v)
		}
	}
	p.cw.Write(cells)
}
func (p *csvPrinter) end() error { p.cw.Flush(); return p.cw.Error() }

type jsonPrinter struct {
	w    io.Writer
	rows int
}

func (p *jsonPrinter) header([]string) { fmt.Fprint(p.w, "[") }
func (p *jsonPrinter) row(cols []string, vals []any) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(c)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(jsonValue(vals[i]))
		if err != nil {
			v, _ = json.Marshal(formatCell(vals[i]))
		}
		b.Write(v)
	}
	b.WriteByte('}')
	sep := "\n  "
	if p.rows > 0 {
		sep = ",\n  "
	}
	fmt.Fprint(p.w, sep+b.String())
	p.rows++
}
func (p *jsonPrinter) end() error { _, err := fmt.Fprintln(p.w, "\n]"); return err }

// jsonValue is a value as JSON shows it: times in RFC 3339, maps with their keys as
// text, binary as base64 (encoding/json's), the rest as the driver gives it.
func jsonValue(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case duckdb.OrderedMap:
		m := map[string]any{}
		for i, k := range v.Keys() {
			m[formatNested(k)] = jsonValue(v.Values()[i])
		}
		return m
	case map[string]any:
		m := map[string]any{}
		for k, e := range v {
			m[k] = jsonValue(e)
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonValue(e)
		}
		return out
	case duckdb.Decimal:
		return json.Number(v.String())
	}
	return v
}

type markdownPrinter struct{ w io.Writer }

func (p *markdownPrinter) header(cols []string) {
	fmt.Fprintln(p.w, "| "+strings.Join(cols, " | ")+" |")
	fmt.Fprintln(p.w, "|"+strings.Repeat("---|", len(cols)))
}
func (p *markdownPrinter) row(_ []string, vals []any) {
	cells := make([]string, len(vals))
	for i, v := range vals {
		cells[i] = strings.ReplaceAll(formatCell(v), "|", "\\|")
	}
	fmt.Fprintln(p.w, "| "+strings.Join(cells, " | ")+" |")
}
func (p *markdownPrinter) end() error { return nil }

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
