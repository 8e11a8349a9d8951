package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

func tableCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "table", Short: "Inspect and maintain Delta tables"}
	cmd.AddCommand(inspectCmd(), historyCmd(), checkpointCmd(), optimizeCmd(), vacuumCmd())
	return cmd
}

type inspectProtocol struct {
	MinReaderVersion int      `json:"minReaderVersion"`
	MinWriterVersion int      `json:"minWriterVersion"`
	ReaderFeatures   []string `json:"readerFeatures"`
	WriterFeatures   []string `json:"writerFeatures"`
}

// Inspection is the JSON form of `sluice table inspect --json`.
type Inspection struct {
	Location         string            `json:"location"`
	Version          int64             `json:"version"`
	Protocol         inspectProtocol   `json:"protocol"`
	Name             *string           `json:"name,omitempty"`
	PartitionColumns []string          `json:"partitionColumns"`
	Schema           json.RawMessage   `json:"schema"`
	Configuration    map[string]string `json:"configuration"`
	NumFiles         int               `json:"numFiles"`
	SizeBytes        int64             `json:"sizeBytes"`
	NumRecords       *int64            `json:"numRecords"` // live rows: deletion vectors applied
	// DeletedRecords counts rows that deletion vectors mark deleted, in DVFiles files.
	DeletedRecords    int64            `json:"deletedRecords"`
	DVFiles           int              `json:"filesWithDeletionVectors"`
	AppTransactions   map[string]int64 `json:"appTransactions"`
	CheckpointVersion *int64           `json:"checkpointVersion"`
}

func inspectCmd() *cobra.Command {
	var asJSON bool
	cmd := locationCmd("inspect LOCATION", "Show a table's version, protocol, schema, files and app transactions",
		func(cmd *cobra.Command, store storage.Storage) error {
			snap, err := table.Load(cmd.Context(), store)
			if err != nil {
				return err
			}
			in := inspect(store.URI(), snap)
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(in)
			}
			printInspection(os.Stdout, in, snap)
			return nil
		})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func inspect(uri string, snap *table.Snapshot) *Inspection {
	meta := snap.Metadata()
	in := &Inspection{
		Location:         uri,
		Version:          snap.Version(),
		Protocol:         inspectProtocol(snap.Protocol()),
		Name:             meta.Name,
		PartitionColumns: snap.PartitionColumns(),
		Schema:           json.RawMessage(meta.SchemaString),
		Configuration:    meta.Configuration,
		AppTransactions:  snap.AppTransactions(),
	}
	if in.Protocol.ReaderFeatures == nil {
		in.Protocol.ReaderFeatures = []string{}
	}
	if in.Protocol.WriterFeatures == nil {
		in.Protocol.WriterFeatures = []string{}
	}
	if cv := snap.CheckpointVersion(); cv >= 0 {
		in.CheckpointVersion = &cv
	}
	var records int64
	allStats := true
	for _, f := range snap.Files() {
		in.NumFiles++
		in.SizeBytes += f.Size
		if st, ok := f.ParseStats(); ok {
			records += st.NumRecords
		} else {
			allStats = false
		}
		if dv := f.DeletionVector; dv != nil {
			in.DVFiles++
			in.DeletedRecords += dv.Cardinality
		}
	}
	records -= in.DeletedRecords
	if allStats {
		in.NumRecords = &records
	}
	return in
}

func printInspection(w io.Writer, in *Inspection, snap *table.Snapshot) {
	fmt.Fprintf(w, "table      %s\n", in.Location)
	if in.Name != nil {
		fmt.Fprintf(w, "name       %s\n", *in.Name)
	}
	fmt.Fprintf(w, "version    %d\n", in.Version)
	p := in.Protocol
	fmt.Fprintf(w, "protocol   reader %d, writer %d", p.MinReaderVersion, p.MinWriterVersion)
	if len(p.ReaderFeatures)+len(p.WriterFeatures) > 0 {
		fmt.Fprintf(w, " (reader features: %s; writer features: %s)", strings.Join(p.ReaderFeatures, ", "), strings.Join(p.WriterFeatures, ", "))
	}
	fmt.Fprintln(w)
	if in.CheckpointVersion != nil {
		fmt.Fprintf(w, "checkpoint %d\n", *in.CheckpointVersion)
	}
	records := "unknown (some files have no stats)"
	if in.NumRecords != nil {
		records = fmt.Sprint(*in.NumRecords)
	}
	fmt.Fprintf(w, "files      %d (%s), %s records\n", in.NumFiles, humanBytes(in.SizeBytes), records)
	if in.DVFiles > 0 {
		fmt.Fprintf(w, "deleted    %d records in %d files (deletion vectors)\n", in.DeletedRecords, in.DVFiles)
	}
	if len(in.PartitionColumns) > 0 {
		fmt.Fprintf(w, "partitions %s\n", strings.Join(in.PartitionColumns, ", "))
	}
	fmt.Fprintln(w, "schema")
	for _, f := range snap.Schema().Fields {
		null := ""
		if !f.Nullable {
			null = " NOT NULL"
		}
		fmt.Fprintf(w, "  %-24s %s%s\n", f.Name, f.Type, null)
	}
	if len(in.AppTransactions) > 0 {
		fmt.Fprintln(w, "app transactions (appId → last version)")
		for _, k := range slices.Sorted(maps.Keys(in.AppTransactions)) {
			fmt.Fprintf(w, "  %-40s %d\n", k, in.AppTransactions[k])
		}
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
