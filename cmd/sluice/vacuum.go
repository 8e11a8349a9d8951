package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// VacuumReport is the JSON form of `sluice table vacuum --json`.
type VacuumReport struct {
	Location  string       `json:"location"`
	Version   int64        `json:"version"`
	Retention string       `json:"retention"`
	DryRun    bool         `json:"dryRun"`
	NumFiles  int          `json:"numFiles"`
	Bytes     int64        `json:"bytes"`
	Files     []VacuumFile `json:"files"`
}

// VacuumFile is one file vacuum deleted, or would delete.
type VacuumFile struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modificationTime"`
}

func vacuumCmd() *cobra.Command {
	var retention time.Duration
	var force, yes, dryRun, asJSON bool
	cmd := locationCmd("vacuum LOCATION", "Delete files the table no longer needs (dry run unless --yes)",
		func(cmd *cobra.Command, store storage.Storage) error {
			if !dryRun && !yes {
				return fmt.Errorf("--dry-run=false does not delete: use --yes")
			}
			opts := table.VacuumOptions{Force: force, DryRun: !yes}
			if cmd.Flags().Changed("retention") {
				opts.Retention = &retention
			}
			res, err := table.New(store).Vacuum(cmd.Context(), opts)
			if err != nil && res.Files == nil {
				return err
			}
			report := vacuumReport(store.URI(), res)
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(report); jerr != nil {
					return jerr
				}
			} else {
				printVacuum(os.Stdout, report)
			}
			return err // after the report: a failed delete leaves the others done
		})
	cmd.Long = `Vacuum deletes the files in the table's directory that its latest version does not
read, that no remove within the retention names (time travel to those versions still
works), and that are older than the retention: files of removed versions, and uploads
no commit ever named. It never touches _delta_log or hidden files ("_" or "."
names, except partition directories).

It only lists what it would delete unless --yes is given. A retention shorter than the
table's delta.deletedFileRetentionDuration (default 7 days) is refused without --force:
it may delete files of a write in progress, or that readers of older versions read.`
	cmd.Flags().DurationVar(&retention, "retention", 0, "keep files removed or written within this long (default: the table's delta.deletedFileRetentionDuration, else 168h)")
	cmd.Flags().BoolVar(&force, "force", false, "allow a retention shorter than the table's delta.deletedFileRetentionDuration")
	cmd.Flags().BoolVar(&yes, "yes", false, "delete the files (without it: a dry run that only lists them)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&dryRun, "dry-run", true, "only list what would be deleted (the default; --yes deletes)")
	cmd.MarkFlagsMutuallyExclusive("dry-run", "yes")
	return cmd
}

func vacuumReport(uri string, res table.VacuumResult) VacuumReport {
	r := VacuumReport{Location: uri, Version: res.Version, Retention: res.Retention.String(), DryRun: res.DryRun,
		NumFiles: len(res.Files), Bytes: res.Bytes, Files: make([]VacuumFile, len(res.Files))}
	for i, o := range res.Files {
		r.Files[i] = VacuumFile{Path: o.Key, Size: o.Size, ModTime: o.ModTime.UTC()}
	}
	return r
}

func printVacuum(w io.Writer, r VacuumReport) {
	verb, done := "would delete", "would be deleted"
	if !r.DryRun {
		verb, done = "deleted", "deleted"
	}
	for _, f := range r.Files {
		fmt.Fprintf(w, "%s %s\n", verb, f.Path)
	}
	fmt.Fprintf(w, "%d files (%s) %s from %s at version %d, retention %s\n", r.NumFiles, humanBytes(r.Bytes), done, r.Location, r.Version, r.Retention)
	if r.DryRun && r.NumFiles > 0 {
		fmt.Fprintln(w, "dry run: run again with --yes to delete them")
	}
}
