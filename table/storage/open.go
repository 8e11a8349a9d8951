package storage

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// Open returns the Storage for a table location: a local path, a file:// URI, or (with
// the S3 backend) an s3://bucket/prefix URI.
func Open(ctx context.Context, location string) (Storage, error) {
	scheme, rest, ok := strings.Cut(location, "://")
	if !ok {
		return NewLocal(location)
	}
	switch strings.ToLower(scheme) {
	case "file":
		u, err := url.Parse(location)
		if err != nil {
			return nil, fmt.Errorf("storage: location %q: %w", location, err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("storage: location %q: file URIs must name a local path (file:///dir)", location)
		}
		return NewLocal(u.Path)
	default:
		return nil, fmt.Errorf("storage: location %q: unsupported scheme %q (use a local path or file:///…)", location, scheme+"://"+strings.SplitN(rest, "/", 2)[0])
	}
}
