package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluicelake/sluice/connector"
)

func runCmd() *cobra.Command {
	var configPath, cpuProfile, memProfile string
	var untilCaughtUp bool
	cmd := &cobra.Command{
		Use:   "run -c FILE",
		Short: "Consume the configured topics into their Delta tables",
		Long: `Run consumes the configured Kafka topics in a consumer group and commits them to
Delta tables exactly once. SIGINT or SIGTERM flushes, commits and exits 0 (within
shutdown_timeout); a second signal exits at once, which is safe: the next run resumes
from the tables' txn versions.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := connector.LoadConfig(configPath)
			if err != nil {
				return err
			}
			log, err := runLogger(cmd, cfg)
			if err != nil {
				return err
			}
			stopProfiles, err := startProfiles(cpuProfile, memProfile)
			if err != nil {
				return err
			}
			defer func() {
				if err := stopProfiles(); err != nil {
					log.Error("profile not written", "error", err)
				}
			}()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				stop() // a second signal now terminates the process
			}()
			// Keep the Go heap near what the memory budget allows, so garbage does not pile up
			// past it. It is process-wide, so the process sets it, not the connector.
			debug.SetMemoryLimit(cfg.MemoryLimit())
			c, err := connector.New(ctx, cfg, connector.Options{UntilCaughtUp: untilCaughtUp, Logger: log})
			if err != nil {
				return err
			}
			sum, err := c.Run(ctx)
			log.Info("summary", "rows", sum.Rows, "commits", sum.Commits, "files", sum.Files, "bytes", sum.Bytes,
				"duration", sum.Duration.Round(1e6), "rows_per_sec", int64(float64(sum.Rows)/max(sum.Duration.Seconds(), 1e-9)))
			return err
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "configuration file (YAML)")
	cmd.Flags().BoolVar(&untilCaughtUp, "until-caught-up", false, "ingest up to the high watermarks seen at start, commit and exit")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	cmd.Flags().StringVar(&memProfile, "memprofile", "", "write an allocation profile to this file at the end of the run")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// runLogger honours --log-level/--log-format when given, else the config's logging.
func runLogger(cmd *cobra.Command, cfg *connector.Config) (*slog.Logger, error) {
	if !cmd.Flags().Changed("log-level") {
		_ = cmd.Flags().Set("log-level", cfg.Logging.Level)
	}
	if !cmd.Flags().Changed("log-format") {
		_ = cmd.Flags().Set("log-format", cfg.Logging.Format)
	}
	return logger(cmd)
}

func validateCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "validate -c FILE",
		Short: "Check a configuration file without connecting to anything",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := connector.LoadConfig(configPath)
			if err != nil {
				return err
			}
			fmt.Printf("%s: ok (%d table(s))\n", configPath, len(cfg.Tables))
			return nil
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "configuration file (YAML)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}
