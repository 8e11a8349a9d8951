package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluicelake/sluice/connector"
)

func runCmd() *cobra.Command {
	var configPath string
	var untilCaughtUp bool
	cmd := &cobra.Command{
		Use:   "run -c FILE",
		Short: "Consume the configured topics into their Delta tables",
		Long: `Run consumes the configured Kafka topics in a consumer group and commits them to
Delta tables exactly once. SIGINT or SIGTERM flushes, commits and exits; a second
signal exits at once (safe: the next run resumes from the tables' txn versions).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := logger(cmd)
			if err != nil {
				return err
			}
			cfg, err := connector.LoadConfig(configPath)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				stop() // a second signal now terminates the process
			}()
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
	_ = cmd.MarkFlagRequired("config")
	return cmd
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
