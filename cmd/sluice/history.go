package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// HistoryEntry is the JSON form of one commit in `sluice table history --json`.
type HistoryEntry struct {
	Version             int64             `json:"version"`
	Timestamp           time.Time         `json:"timestamp"`
	Operation           string            `json:"operation"`
	OperationParameters map[string]string `json:"operationParameters"`
	OperationMetrics    map[string]string `json:"operationMetrics"`
	EngineInfo          string            `json:"engineInfo,omitempty"`
	ReadVersion         *int64            `json:"readVersion,omitempty"`
	IsBlindAppend       *bool             `json:"isBlindAppend,omitempty"`
}

func historyCmd() *cobra.Command {
	var asJSON bool
	var limit int
	cmd := locationCmd("history LOCATION", "List a table's commits, newest first (what DESCRIBE HISTORY shows)",
		func(cmd *cobra.Command, store storage.Storage) error {
			h, err := table.History(cmd.Context(), store, limit)
			if err != nil {
				return err
			}
			entries := make([]HistoryEntry, len(h))
			for i, e := range h {
				entries[i] = historyEntry(e)
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(entries)
			}
			return printHistory(os.Stdout, entries)
		})
	cmd.Long = `History lists the commits still in the log, newest first: version, time (the
in-commit timestamp where the table has them, else when the commit was written),
operation, its parameters and metrics.`
	cmd.Flags().IntVar(&limit, "limit", 50, "show at most this many commits (0: all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func historyEntry(e table.HistoryEntry) HistoryEntry {
	out := HistoryEntry{Version: e.Version, Timestamp: e.Timestamp.UTC(), OperationParameters: map[string]string{}, OperationMetrics: map[string]string{}}
	ci := e.CommitInfo
	if ci == nil {
		return out
	}
	out.Operation, out.EngineInfo, out.ReadVersion, out.IsBlindAppend = ci.Operation, ci.EngineInfo, ci.ReadVersion, ci.IsBlindAppend
	maps.Copy(out.OperationParameters, ci.OperationParameters)
	maps.Copy(out.OperationMetrics, ci.OperationMetrics)
	return out
}

func printHistory(w io.Writer, entries []HistoryEntry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tTIMESTAMP\tOPERATION\tPARAMETERS\tMETRICS")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Version, e.Timestamp.Format("2006-01-02 15:04:05.000Z"), e.Operation,
			keyValues(e.OperationParameters), keyValues(e.OperationMetrics))
	}
	return tw.Flush()
}

// keyValues renders a map as "k=v, k=v" in key order.
func keyValues(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

// CheckpointReport is the JSON form of `sluice table checkpoint --json`.
type CheckpointReport struct {
	Location        string  `json:"location"`
	Version         int64   `json:"version"`
	LogFilesDeleted int     `json:"logFilesDeleted"`
	Seconds         float64 `json:"seconds"`
}

func checkpointCmd() *cobra.Command {
	var asJSON bool
	cmd := locationCmd("checkpoint LOCATION", "Write a checkpoint of the latest version now, then clean up expired log files",
		func(cmd *cobra.Command, store storage.Storage) error {
			start := time.Now()
			version, deleted, err := table.New(store).Checkpoint(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(CheckpointReport{Location: store.URI(), Version: version, LogFilesDeleted: deleted, Seconds: time.Since(start).Seconds()})
			}
			fmt.Printf("checkpoint written at version %d; %d expired log files deleted\n", version, deleted)
			return nil
		})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
