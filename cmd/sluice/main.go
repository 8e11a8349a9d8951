// Command sluice ingests Kafka topics into Delta Lake tables, exactly once.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	// Time zone names in timestamps and in constraint expressions resolve without the
	// system's database (the container image has none).
	_ "time/tzdata"

	"github.com/spf13/cobra"

	"github.com/sluicelake/sluice/connector"
	"github.com/sluicelake/sluice/table"
)

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "sluice: "+err.Error())
		os.Exit(exitCode(err))
	}
}

// Exit codes, for orchestrators to act on (documented in docs/config.md).
const (
	exitInternal    = 1 // anything else: worth a restart and a look at the logs
	exitConfig      = 2 // the configuration (or the command line) is wrong: fix it, do not restart
	exitStartup     = 3 // Kafka, the registry or storage stayed unreachable for startup_timeout
	exitBadMessage  = 4 // stopped on a message on_error: fail could not ingest
	exitUnsupported = 5 // a table uses a feature Sluice cannot honour
)

// exitCode maps an error to the exit code that says what kind of failure it was.
func exitCode(err error) int {
	var ce *connector.ConfigError
	var se *connector.StartupError
	var me *connector.MessageError
	var ue *table.UnsupportedFeatureError
	switch {
	case errors.As(err, &ce), strings.HasPrefix(err.Error(), "unknown flag"), strings.HasPrefix(err.Error(), "unknown command"),
		strings.Contains(err.Error(), "required flag"), strings.Contains(err.Error(), "accepts ") && strings.Contains(err.Error(), "arg(s)"):
		return exitConfig
	case errors.As(err, &se):
		return exitStartup
	case errors.As(err, &me):
		return exitBadMessage
	case errors.As(err, &ue):
		return exitUnsupported
	}
	return exitInternal
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "sluice",
		Short:         "Kafka → Delta Lake ingestion, exactly once",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().String("log-format", "text", "log format: text or json")
	root.AddCommand(runCmd(), demoCmd(), queryCmd(), tableCmd(), validateCmd(), versionCmd())
	return root
}

// logger builds the process logger from the persistent flags.
func logger(cmd *cobra.Command) (*slog.Logger, error) {
	lvl, _ := cmd.Flags().GetString("log-level")
	format, _ := cmd.Flags().GetString("log-format")
	var level slog.Level
	if err := level.UnmarshalText([]byte(lvl)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", lvl)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Println("sluice", connector.Version)
		},
	}
}
