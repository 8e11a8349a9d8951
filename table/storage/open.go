package storage

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// Options configures the backends that OpenWith may return. The zero value is what
// Open uses.
type Options struct {
	// S3 configures s3:// locations. Defaults to the zero S3Options: the AWS SDK's
	// default chain for region, endpoint and credentials.
	S3 S3Options
}

// Open returns the Storage for a table location: a local path, a file:// URI, or an
// s3://bucket/prefix URI (s3a:// is accepted as a synonym) configured from the AWS
// SDK's default chain (AWS_REGION, AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, profiles,
// roles). It is OpenWith with zero Options.
func Open(ctx context.Context, location string) (Storage, error) {
	return OpenWith(ctx, location, Options{})
}

// OpenWith is Open with backend options, for callers that configure the store (an S3
// endpoint, region or credentials) rather than rely on the environment.
func OpenWith(ctx context.Context, location string, opts Options) (Storage, error) {
	scheme, _, ok := strings.Cut(location, "://")
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
	case "s3", "s3a":
		bucket, prefix, err := ParseS3Location(location)
		if err != nil {
			return nil, err
		}
		return NewS3(ctx, bucket, prefix, opts.S3)
	default:
		return nil, fmt.Errorf("storage: location %q: unsupported scheme %q (use a local path, file:///dir or s3://bucket/prefix)",
			redactLocation(location), scheme)
	}
}

// ParseS3Location splits "s3://bucket/prefix" (or s3a://) into bucket and prefix, the
// prefix without leading or trailing slashes. The prefix is taken literally: no
// percent-decoding, since S3 keys may contain '%'.
func ParseS3Location(location string) (bucket, prefix string, err error) {
	scheme, rest, ok := strings.Cut(location, "://")
	if !ok || (!strings.EqualFold(scheme, "s3") && !strings.EqualFold(scheme, "s3a")) {
		return "", "", fmt.Errorf("storage: location %q: not an s3://bucket/prefix URI", redactLocation(location))
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	switch {
	case strings.Contains(bucket, "@"):
		return "", "", fmt.Errorf("storage: location %q: credentials do not belong in the location; use the S3 options or the AWS credential chain", redactLocation(location))
	case bucket == "":
		return "", "", fmt.Errorf("storage: location %q: no bucket (want s3://bucket/prefix)", location)
	case strings.ContainsAny(bucket, ":?#"):
		return "", "", fmt.Errorf("storage: location %q: %q is not a bucket name", location, bucket)
	case strings.ContainsAny(prefix, "?#"):
		return "", "", fmt.Errorf("storage: location %q: query strings and fragments are not supported", location)
	}
	return bucket, strings.Trim(prefix, "/"), nil
}

// redactLocation hides the user info of "scheme://user:secret@host/…" so that a
// location pasted with credentials never reaches a log.
func redactLocation(location string) string {
	scheme, rest, ok := strings.Cut(location, "://")
	if !ok {
		return location
	}
	host, path, hasPath := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = "REDACTED@" + host[i+1:]
	}
	if hasPath {
		return scheme + "://" + host + "/" + path
	}
	return scheme + "://" + host
}
