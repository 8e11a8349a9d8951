package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

const (
	// DefaultS3PartSize is the part size of multipart uploads when S3Options.PartSize is 0.
	DefaultS3PartSize = 16 << 20
	// MinS3PartSize is the smallest part S3 accepts for every part but the last.
	MinS3PartSize = 5 << 20
	// maxS3PartSize is the largest part S3 accepts.
	maxS3PartSize = 5 << 30
	// maxS3Parts is the most parts one multipart upload may have.
	maxS3Parts = 10000
	// DefaultS3MaxRetries is how often a failed request is retried when
	// S3Options.MaxRetries is 0.
	DefaultS3MaxRetries = 5
	// defaultS3Region is used when neither the options nor the environment name a region;
	// S3-compatible servers mostly ignore it, but SigV4 needs one.
	defaultS3Region = "us-east-1"
)

// S3Options configures an S3 store. The zero value uses the AWS SDK's default
// configuration chain (environment, shared config files, web identity, container and
// instance roles) for region, endpoint and credentials.
type S3Options struct {
	// Region is the bucket's region. Defaults to the SDK's chain (AWS_REGION, the shared
	// config profile), then to us-east-1.
	Region string

	// Endpoint is the base URL of an S3-compatible server ("http://127.0.0.1:7070",
	// "https://minio.internal:9000"). Defaults to the SDK's chain (AWS_ENDPOINT_URL_S3,
	// AWS_ENDPOINT_URL, the shared config profile), then to AWS's endpoint for Region.
	// It must not carry user info: credentials go in the fields below.
	Endpoint string

	// PathStyle addresses buckets as endpoint/bucket/key instead of bucket.endpoint/key,
	// as most S3-compatible servers need. Defaults to false (virtual-hosted style; the SDK
	// still uses path style for an endpoint that is an IP address).
	PathStyle bool

	// AccessKeyID, SecretAccessKey and SessionToken are static credentials. Defaults to
	// empty, which uses the SDK's default credential chain; AccessKeyID and
	// SecretAccessKey must be set together. They never appear in URIs or errors.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string

	// MaxRetries is how often the SDK retries a request that failed with a 5xx, a 429,
	// a throttling error or a broken connection, with jittered exponential backoff of
	// up to 20 s between attempts (the SDK's standard retryer). Defaults to
	// DefaultS3MaxRetries (5); negative disables retries.
	MaxRetries int

	// PartSize is the size of each part of a multipart upload, and the largest body Put
	// sends in one PutObject; Put buffers one part in memory. Defaults to
	// DefaultS3PartSize (16 MiB); at least MinS3PartSize (5 MiB), at most 5 GiB.
	PartSize int64
}

// S3 is a Storage on an S3 bucket under a key prefix, through aws-sdk-go-v2.
//
// PutIfAbsent is a PutObject with If-None-Match: *, which S3 (since 2024) and compatible
// servers such as versitygw and MinIO evaluate atomically; a store that ignores the
// header would break Delta's mutual exclusion, so use only servers that honour it.
// Put sends bodies up to PartSize with one PutObject and larger ones as a multipart
// upload, which becomes visible only when it completes, so both replace atomically.
// List relies on S3 returning keys in UTF-8 binary order.
type S3 struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or "dir/sub/", always ending in a slash
	uri      string
	partSize int64
	pageSize int32 // ListObjectsV2 MaxKeys; 0 lets the server choose (1000 on S3)
}

// NewS3 returns a store for the keys under prefix in bucket. Leading and trailing
// slashes of prefix are ignored; an empty prefix is the bucket's root. It resolves
// configuration and credentials sources but makes no request, so a wrong bucket or bad
// credentials show up on the first operation.
func NewS3(ctx context.Context, bucket, prefix string, opts S3Options) (*S3, error) {
	prefix = strings.Trim(prefix, "/")
	uri := "s3://" + bucket
	if prefix != "" {
		uri += "/" + prefix
		prefix += "/"
	}
	if bucket == "" || strings.ContainsAny(bucket, "/@:?#") {
		// Not quoted: "key:secret@bucket" is a likely mistake, and secrets stay out of errors.
		return nil, errors.New("storage: S3 bucket name: must be non-empty, without '/', '@', ':', '?' or '#'")
	}
	cfg, err := opts.awsConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("storage: %s: %w", uri, err)
	}
	partSize := opts.PartSize
	if partSize == 0 {
		partSize = DefaultS3PartSize
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = opts.PathStyle
		// Objects from multipart uploads carry per-part (composite) checksums that a
		// whole-object GET cannot verify; the parts were verified on upload, so the SDK's
		// warning on every such GET is noise.
		o.DisableLogOutputChecksumValidationSkipped = true
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
	})
	return &S3{client: client, bucket: bucket, prefix: prefix, uri: uri, partSize: partSize}, nil
}

func (o S3Options) awsConfig(ctx context.Context) (aws.Config, error) {
	if o.PartSize != 0 && (o.PartSize < MinS3PartSize || o.PartSize > maxS3PartSize) {
		return aws.Config{}, fmt.Errorf("part size %d: must be between 5 MiB and 5 GiB", o.PartSize)
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || u.Scheme == "" || u.Host == "" {
			// url.Parse errors quote the input, which may hold a secret by mistake.
			return aws.Config{}, errors.New("endpoint: want an absolute URL such as https://host:port")
		}
		if u.User != nil {
			return aws.Config{}, errors.New("endpoint: must not contain credentials; use the access key options or the AWS credential chain")
		}
	}
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") || (o.SessionToken != "" && o.AccessKeyID == "") {
		return aws.Config{}, errors.New("static credentials need both an access key id and a secret access key")
	}
	attempts := 1 + DefaultS3MaxRetries
	switch {
	case o.MaxRetries < 0:
		attempts = 1
	case o.MaxRetries > 0:
		attempts = 1 + o.MaxRetries
	}
	loadOpts := []func(*config.LoadOptions) error{
		config.WithDefaultRegion(defaultS3Region),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = attempts })
		}),
	}
	if o.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.Region))
	}
	if o.AccessKeyID != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// URI implements Storage.
func (s *S3) URI() string { return s.uri }

// Bucket is the bucket the store lives in.
func (s *S3) Bucket() string { return s.bucket }

// Prefix is the key prefix of the store inside its bucket: "" or ending in a slash.
func (s *S3) Prefix() string { return s.prefix }

func (s *S3) objectKey(key string) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("storage: %s: invalid key %q", s.uri, key)
	}
	return s.prefix + key, nil
}

// subject names an object in errors.
func (s *S3) subject(key string) string { return s.uri + "/" + key }

// Get implements Storage.
func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	k, err := s.objectKey(key)
	if err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &k})
	if err != nil {
		return nil, s.opError("get", key, err)
	}
	defer out.Body.Close()
	var buf bytes.Buffer
	if n := aws.ToInt64(out.ContentLength); n > 0 {
		buf.Grow(int(n))
	}
	if _, err := buf.ReadFrom(out.Body); err != nil {
		return nil, fmt.Errorf("storage: %s: get: read body: %w", s.subject(key), err)
	}
	return buf.Bytes(), nil
}

// Stat implements Storage.
func (s *S3) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	k, err := s.objectKey(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &k})
	if err != nil {
		return ObjectInfo{}, s.opError("stat", key, err)
	}
	return ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Delete implements Storage.
func (s *S3) Delete(ctx context.Context, key string) error {
	k, err := s.objectKey(key)
	if err != nil {
		return err
	}
	_, err = s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &k})
	if err != nil && !isNotFound(err) {
		return s.opError("delete", key, err)
	}
	return nil
}

// PutIfAbsent implements Storage. A 412 PreconditionFailed and a 409
// ConditionalRequestConflict (S3 saw a concurrent conditional write to the key) both
// return ErrExists; after a 409 the key may still turn out free, which a Delta writer
// finds when it re-reads the log and retries at the next free version.
//
// When the SDK had to retry the request (the connection broke after the server may
// have stored the object) and the retry finds the key taken, PutIfAbsent reads the
// object back: if it holds exactly data, the first attempt won and PutIfAbsent
// succeeds instead of reporting ErrExists for its own write.
func (s *S3) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	k, err := s.objectKey(key)
	if err != nil {
		return err
	}
	var attempts atomic.Int32
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &k,
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		IfNoneMatch:   aws.String("*"),
	}, countAttempts(&attempts))
	if err == nil {
		return nil
	}
	if !isPreconditionFailed(err) {
		return s.opError("put-if-absent", key, err)
	}
	if attempts.Load() > 1 {
		if got, gerr := s.Get(ctx, key); gerr == nil && bytes.Equal(got, data) {
			return nil
		}
	}
	return fmt.Errorf("storage: %s: %w", s.subject(key), ErrExists)
}

// countAttempts counts the HTTP attempts of one operation, retries included.
func countAttempts(n *atomic.Int32) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			// Added after the retry middleware, so it runs once per attempt.
			return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("sluiceCountAttempts",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					n.Add(1)
					return next.HandleFinalize(ctx, in)
				}), middleware.After)
		})
	}
}

// Put implements Storage. Bodies up to PartSize go in one PutObject, larger ones in a
// multipart upload that is aborted when any step fails. When size is not negative, a
// body of another length fails the Put and stores nothing.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	k, err := s.objectKey(key)
	if err != nil {
		return err
	}
	// Read one part; a body that ends within it is a single PutObject. Buffering keeps
	// the body seekable, which the SDK needs to sign and to retry it.
	var first bytes.Buffer
	if size >= 0 {
		first.Grow(int(min(size, s.partSize)))
	}
	n, err := io.CopyN(&first, r, s.partSize)
	if err != nil && err != io.EOF {
		return fmt.Errorf("storage: %s: put: read body: %w", s.subject(key), err)
	}
	var peek [1]byte
	more := false
	if n == s.partSize {
		m, err := io.ReadFull(r, peek[:])
		if err != nil && err != io.EOF {
			return fmt.Errorf("storage: %s: put: read body: %w", s.subject(key), err)
		}
		more = m == 1
	}
	if !more {
		if size >= 0 && n != size {
			return fmt.Errorf("storage: %s: put: body has %d bytes, size says %d", s.subject(key), n, size)
		}
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        &s.bucket,
			Key:           &k,
			Body:          bytes.NewReader(first.Bytes()),
			ContentLength: aws.Int64(n),
		})
		if err != nil {
			return s.opError("put", key, err)
		}
		return nil
	}
	return s.putMultipart(ctx, key, k, first.Bytes(), io.MultiReader(bytes.NewReader(peek[:]), r), size)
}

// putMultipart uploads first as part 1 and the rest of the body in parts of partSize.
func (s *S3) putMultipart(ctx context.Context, key, k string, first []byte, rest io.Reader, size int64) (err error) {
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:            &s.bucket,
		Key:               &k,
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return s.opError("put: create multipart upload", key, err)
	}
	defer func() {
		if err == nil {
			return
		}
		// Abort even when ctx is cancelled: an unfinished upload keeps its parts (and
		// their cost) until a lifecycle rule removes them.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, aerr := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: &s.bucket, Key: &k, UploadId: created.UploadId,
		}); aerr != nil && !isNotFound(aerr) {
			err = errors.Join(err, s.opError("put: abort multipart upload", key, aerr))
		}
	}()

	var parts []types.CompletedPart
	total := int64(0)
	buf := first
	for num := int32(1); ; num++ {
		if num > maxS3Parts {
			return fmt.Errorf("storage: %s: put: body exceeds %d parts of %d bytes; raise the part size", s.subject(key), maxS3Parts, s.partSize)
		}
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:            &s.bucket,
			Key:               &k,
			UploadId:          created.UploadId,
			PartNumber:        aws.Int32(num),
			Body:              bytes.NewReader(buf),
			ContentLength:     aws.Int64(int64(len(buf))),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			return s.opError(fmt.Sprintf("put: upload part %d", num), key, err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
		total += int64(len(buf))

		if num == 1 {
			buf = make([]byte, s.partSize) // first belongs to the caller's buffer; reuse this one
		}
		m, rerr := io.ReadFull(rest, buf[:s.partSize])
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return fmt.Errorf("storage: %s: put: read body: %w", s.subject(key), rerr)
		}
		if m == 0 {
			break
		}
		buf = buf[:m]
	}
	if size >= 0 && total != size {
		return fmt.Errorf("storage: %s: put: body has %d bytes, size says %d", s.subject(key), total, size)
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &s.bucket,
		Key:             &k,
		UploadId:        created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return s.opError("put: complete multipart upload", key, err)
	}
	return nil
}

// List implements Storage. It pages through ListObjectsV2, so a listing concurrent
// with writes may or may not include keys written meanwhile.
func (s *S3) List(ctx context.Context, prefix, startAfter string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.prefix + prefix)}
		if startAfter != "" {
			in.StartAfter = aws.String(s.prefix + startAfter)
		}
		if s.pageSize > 0 {
			in.MaxKeys = aws.Int32(s.pageSize)
		}
		pages := s3.NewListObjectsV2Paginator(s.client, in)
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				yield(ObjectInfo{}, fmt.Errorf("storage: %s: list %q: %w", s.uri, prefix, hint(err)))
				return
			}
			for _, o := range page.Contents {
				key, ok := strings.CutPrefix(aws.ToString(o.Key), s.prefix)
				if !ok || key <= startAfter {
					continue // a server that ignores StartAfter must not break the contract
				}
				info := ObjectInfo{Key: key, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}
				if !yield(info, nil) {
					return
				}
			}
		}
	}
}

// opError wraps an SDK error for key: a missing object becomes ErrNotFound.
func (s *S3) opError(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("storage: %s: %w", s.subject(key), ErrNotFound)
	}
	return fmt.Errorf("storage: %s: %s: %w", s.subject(key), op, hint(err))
}

// isNotFound reports a missing key. A missing bucket is not a missing key, although
// HEAD cannot tell them apart (404 without a body).
func isNotFound(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		case "NoSuchBucket", "NoSuchUpload":
			return false
		}
	}
	return httpStatus(err) == http.StatusNotFound
}

// isPreconditionFailed reports a conditional write that lost: 412 when the key exists,
// 409 ConditionalRequestConflict when S3 saw a concurrent conditional write to it.
func isPreconditionFailed(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return true
		}
	}
	return httpStatus(err) == http.StatusPreconditionFailed
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// hint adds the likely cause to errors whose SDK text does not suggest it.
func hint(err error) error {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	switch apiErr.ErrorCode() {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch":
		return fmt.Errorf("%w (check the S3 access key id and secret access key)", err)
	case "AccessDenied", "Forbidden":
		return fmt.Errorf("%w (check the credentials and that they may access the bucket)", err)
	case "NoSuchBucket":
		return fmt.Errorf("%w (check the bucket name, the endpoint and the region)", err)
	case "PermanentRedirect", "AuthorizationHeaderMalformed":
		return fmt.Errorf("%w (check the region)", err)
	}
	return err
}
