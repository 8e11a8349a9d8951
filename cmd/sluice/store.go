package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sluicelake/sluice/table/storage"
)

// s3Flags are the S3 settings of commands that open a table by location. Credentials
// come from the AWS default chain (AWS_ACCESS_KEY_ID, profiles, roles), never flags.
type s3Flags struct {
	endpoint  string
	region    string
	pathStyle bool
}

func (f *s3Flags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.endpoint, "s3-endpoint", "", "S3-compatible endpoint for s3:// locations (default: AWS, or AWS_ENDPOINT_URL_S3)")
	cmd.Flags().StringVar(&f.region, "s3-region", "", "S3 region (default: the AWS chain, then us-east-1)")
	cmd.Flags().BoolVar(&f.pathStyle, "s3-path-style", false, "path-style S3 addressing (MinIO and most S3-compatible servers)")
}

func (f *s3Flags) open(ctx context.Context, location string) (storage.Storage, error) {
	return storage.OpenWith(ctx, location, storage.Options{S3: storage.S3Options{Endpoint: f.endpoint, Region: f.region, PathStyle: f.pathStyle}})
}

// locationCmd is a command on one table, named by its first argument: it opens the
// table's store (with the S3 flags) and hands it to run.
func locationCmd(use, short string, run func(cmd *cobra.Command, store storage.Storage) error) *cobra.Command {
	var s3 s3Flags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := s3.open(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return run(cmd, store)
		},
	}
	s3.register(cmd)
	return cmd
}
