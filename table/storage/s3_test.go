package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/table/storage/s3test"
	"github.com/sluicelake/sluice/table/storage/storagetest"
)

// s3Options configures a client for srv with the smallest part size S3 allows, so that
// modest bodies exercise multipart uploads.
func s3Options(srv *s3test.Server) storage.S3Options {
	return storage.S3Options{
		Region:          srv.Region,
		Endpoint:        srv.Endpoint,
		PathStyle:       true,
		AccessKeyID:     srv.AccessKeyID,
		SecretAccessKey: srv.SecretAccessKey,
		PartSize:        storage.MinS3PartSize,
	}
}

// newS3 returns a store under a prefix of its own in srv's bucket.
func newS3(t *testing.T, srv *s3test.Server, opts storage.S3Options) *storage.S3 {
	t.Helper()
	s, err := storage.NewS3(context.Background(), srv.Bucket, "tests/"+strings.ReplaceAll(t.Name(), "/", "-"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3(t *testing.T) {
	srv := s3test.Start(t)
	storagetest.AcceptanceTest(t, func(t *testing.T) storage.Storage { return newS3(t, srv, s3Options(srv)) })
}

func TestS3MultipartPut(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	s := newS3(t, srv, s3Options(srv))
	data := bytes.Repeat([]byte("0123456789abcdef"), (2*storage.MinS3PartSize+storage.MinS3PartSize/2)/16)

	for _, tc := range []struct {
		name string
		size int64
	}{
		{"KnownSize", int64(len(data))},
		{"UnknownSize", -1},
		{"ExactlyOnePart", storage.MinS3PartSize},
		{"ExactlyTwoParts", 2 * storage.MinS3PartSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := data
			if tc.size >= 0 {
				body = data[:tc.size]
			}
			key := "mp/" + tc.name
			if err := s.Put(ctx, key, struct{ io.Reader }{bytes.NewReader(body)}, tc.size); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, key)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("Get = %d bytes, %v; want the %d bytes put", len(got), err, len(body))
			}
			head, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: &srv.Bucket, Key: aws.String(s.Prefix() + key)})
			if err != nil {
				t.Fatal(err)
			}
			// Multipart ETags end in "-<parts>"; a single PutObject's does not.
			multipart := strings.Contains(aws.ToString(head.ETag), "-")
			if want := len(body) > storage.MinS3PartSize; multipart != want {
				t.Fatalf("ETag %s: multipart = %v, want %v", aws.ToString(head.ETag), multipart, want)
			}
		})
	}

	t.Run("ReadErrorAborts", func(t *testing.T) {
		broken := io.MultiReader(bytes.NewReader(data[:storage.MinS3PartSize+1<<20]), errReader{})
		err := s.Put(ctx, "mp/broken", broken, int64(len(data)))
		if err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("Put with a failing reader: %v", err)
		}
		assertNothingStored(t, srv, s, "mp/broken")
	})

	t.Run("ShortBodyStoresNothing", func(t *testing.T) {
		for _, n := range []int{100, 2*storage.MinS3PartSize + 100} {
			err := s.Put(ctx, "mp/short", bytes.NewReader(data[:n]), int64(n+1))
			if err == nil || !strings.Contains(err.Error(), "size says") {
				t.Fatalf("Put of %d bytes with size %d: %v", n, n+1, err)
			}
			assertNothingStored(t, srv, s, "mp/short")
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// assertNothingStored checks that key has no object and no multipart upload is left.
func assertNothingStored(t *testing.T, srv *s3test.Server, s *storage.S3, key string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat %s after a failed Put: %v, want ErrNotFound", key, err)
	}
	ups, err := srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &srv.Bucket, Prefix: aws.String(s.Prefix() + key)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Fatalf("%d multipart uploads left behind for %s", len(ups.Uploads), key)
	}
}

func TestS3WrongCredentials(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	const wrongSecret = "wrong-secret-5d1e2c9b7a"
	opts := s3Options(srv)
	opts.SecretAccessKey = wrongSecret
	s := newS3(t, srv, opts)

	errs := map[string]error{}
	_, errs["Get"] = s.Get(ctx, "a.json")
	_, errs["Stat"] = s.Stat(ctx, "a.json")
	errs["PutIfAbsent"] = s.PutIfAbsent(ctx, "a.json", []byte("{}"))
	errs["Put"] = s.Put(ctx, "a.json", strings.NewReader("{}"), 2)
	for _, err := range s.List(ctx, "", "") {
		errs["List"] = err
		break
	}
	for op, err := range errs {
		if err == nil {
			t.Errorf("%s with a wrong secret succeeded", op)
			continue
		}
		msg := err.Error()
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrExists) {
			t.Errorf("%s: %v must not look like a missing or existing object", op, err)
		}
		if !strings.Contains(msg, s.URI()) || !strings.Contains(msg, "403") {
			t.Errorf("%s: %q should name the store and the 403", op, msg)
		}
		if strings.Contains(msg, wrongSecret) || strings.Contains(msg, srv.SecretAccessKey) {
			t.Errorf("%s: error leaks the secret: %s", op, msg)
		}
	}
	if !strings.Contains(errs["Get"].Error(), "check the S3 access key id and secret access key") {
		t.Errorf("Get: %v should suggest checking the credentials", errs["Get"])
	}
	t.Logf("Get with a wrong secret: %v", errs["Get"])
}

func TestS3Options(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		opts    storage.S3Options
		wantErr string
	}{
		{"PartSizeTooSmall", storage.S3Options{PartSize: 1 << 20}, "part size"},
		{"EndpointWithCredentials", storage.S3Options{Endpoint: "http://key:hunter2@127.0.0.1:1"}, "must not contain credentials"},
		{"EndpointNotURL", storage.S3Options{Endpoint: "hunter2"}, "absolute URL"},
		{"HalfStaticCredentials", storage.S3Options{SecretAccessKey: "hunter2"}, "both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := storage.NewS3(ctx, "bucket", "p", tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewS3: %v, want an error containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestOpenS3Location(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		location, wantURI, wantPrefix, wantErr string
	}{
		{location: "s3://lake/tables/orders", wantURI: "s3://lake/tables/orders", wantPrefix: "tables/orders/"},
		{location: "s3://lake/tables/orders/", wantURI: "s3://lake/tables/orders", wantPrefix: "tables/orders/"},
		{location: "S3://lake", wantURI: "s3://lake", wantPrefix: ""},
		{location: "s3://lake/", wantURI: "s3://lake", wantPrefix: ""},
		{location: "s3a://lake/t", wantURI: "s3://lake/t", wantPrefix: "t/"},
		{location: "s3://lake/day=2024-01-01%2Fx", wantURI: "s3://lake/day=2024-01-01%2Fx", wantPrefix: "day=2024-01-01%2Fx/"},
		{location: "s3://", wantErr: "no bucket"},
		{location: "s3:///t", wantErr: "no bucket"},
		{location: "s3://lake/t?versionId=1", wantErr: "query"},
		{location: "s3://AKIA:hunter2@lake/t", wantErr: "credentials do not belong"},
		{location: "gs://AKIA:hunter2@lake/t", wantErr: "unsupported scheme"},
	} {
		t.Run(tc.location, func(t *testing.T) {
			st, err := storage.Open(ctx, tc.location)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Open: %v, want an error containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error leaks the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s, ok := st.(*storage.S3)
			if !ok {
				t.Fatalf("Open returned %T, want *storage.S3", st)
			}
			if s.URI() != tc.wantURI || s.Bucket() != "lake" || s.Prefix() != tc.wantPrefix {
				t.Fatalf("URI %q bucket %q prefix %q; want %q lake %q", s.URI(), s.Bucket(), s.Prefix(), tc.wantURI, tc.wantPrefix)
			}
		})
	}
}

func TestOpenWithS3(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	st, err := storage.OpenWith(ctx, "s3://"+srv.Bucket+"/tables/orders/", storage.Options{S3: s3Options(srv)})
	if err != nil {
		t.Fatal(err)
	}
	if want := "s3://" + srv.Bucket + "/tables/orders"; st.URI() != want {
		t.Fatalf("URI = %q, want %q", st.URI(), want)
	}
	if err := st.PutIfAbsent(ctx, "_delta_log/00000000000000000000.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	// The key lands under the prefix, with exactly one slash between them.
	if _, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: &srv.Bucket, Key: aws.String("tables/orders/_delta_log/00000000000000000000.json"),
	}); err != nil {
		t.Fatalf("object not at the expected key: %v", err)
	}
	root, err := storage.OpenWith(ctx, "s3://"+srv.Bucket, storage.Options{S3: s3Options(srv)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for o, err := range root.List(ctx, "tables/", "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, o.Key)
	}
	if len(keys) != 1 || keys[0] != "tables/orders/_delta_log/00000000000000000000.json" {
		t.Fatalf("bucket root lists %v", keys)
	}
}

// TestOpenS3FromEnvironment checks that plain Open takes endpoint, region and
// credentials from the SDK's environment variables.
func TestOpenS3FromEnvironment(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_S3":         srv.Endpoint,
		"AWS_REGION":                  srv.Region,
		"AWS_ACCESS_KEY_ID":           srv.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       srv.SecretAccessKey,
		"AWS_CONFIG_FILE":             dir + "/config",
		"AWS_SHARED_CREDENTIALS_FILE": dir + "/credentials",
		"AWS_PROFILE":                 "",
		"AWS_ENDPOINT_URL":            "",
	} {
		t.Setenv(k, v)
	}
	st, err := storage.Open(ctx, "s3://"+srv.Bucket+"/env")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "k", strings.NewReader("v"), 1); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("Get = %q, %v", got, err)
	}
}

// faultProxy sits between the client and versitygw and lets a test break requests.
// fault sees each request before it is forwarded and returns what to do with it.
func faultProxy(t *testing.T, srv *s3test.Server, fault func(r *http.Request) faultAction) string {
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	// The outgoing Host stays the proxy's, which is what the client signed.
	rp := httputil.NewSingleHostReverseProxy(target)
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch fault(r) {
		case faultInternalError:
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>`)
		case faultTooManyRequests:
			w.WriteHeader(http.StatusTooManyRequests)
		case faultDropResponse:
			// The server handles the request; the client only sees its connection close.
			rp.ServeHTTP(httptest.NewRecorder(), r)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(ps.Close)
	return ps.URL
}

type faultAction int

const (
	faultNone faultAction = iota
	faultInternalError
	faultTooManyRequests
	faultDropResponse
)

func TestS3Retries(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()

	t.Run("ServerErrorsAreRetried", func(t *testing.T) {
		var requests atomic.Int32
		opts := s3Options(srv)
		opts.Endpoint = faultProxy(t, srv, func(r *http.Request) faultAction {
			switch requests.Add(1) {
			case 1:
				return faultInternalError
			case 2:
				return faultTooManyRequests
			case 3:
				return faultDropResponse
			}
			return faultNone
		})
		s := newS3(t, srv, opts)
		if err := s.Put(ctx, "k", strings.NewReader("v"), 1); err != nil {
			t.Fatalf("Put after a 500, a 429 and a broken connection: %v", err)
		}
		if n := requests.Load(); n != 4 {
			t.Fatalf("%d requests, want 3 failed and 1 that succeeded", n)
		}
	})

	t.Run("NoRetriesWhenDisabled", func(t *testing.T) {
		opts := s3Options(srv)
		opts.MaxRetries = -1
		opts.Endpoint = faultProxy(t, srv, func(r *http.Request) faultAction { return faultInternalError })
		s := newS3(t, srv, opts)
		err := s.Put(ctx, "k", strings.NewReader("v"), 1)
		if err == nil || !strings.Contains(err.Error(), "500") {
			t.Fatalf("Put through a failing proxy: %v, want the 500", err)
		}
	})

	// A commit whose response is lost is retried by the SDK; the retry's 412 must not
	// make the winner believe it lost the race.
	t.Run("PutIfAbsentLostResponse", func(t *testing.T) {
		var dropped atomic.Bool
		opts := s3Options(srv)
		opts.Endpoint = faultProxy(t, srv, func(r *http.Request) faultAction {
			if r.Method == http.MethodPut && r.Header.Get("If-None-Match") == "*" && dropped.CompareAndSwap(false, true) {
				return faultDropResponse
			}
			return faultNone
		})
		s := newS3(t, srv, opts)
		key := "_delta_log/00000000000000000001.json"
		if err := s.PutIfAbsent(ctx, key, []byte("mine")); err != nil {
			t.Fatalf("PutIfAbsent whose first response was lost: %v", err)
		}
		if !dropped.Load() {
			t.Fatal("the proxy dropped no response")
		}
		if err := s.PutIfAbsent(ctx, key, []byte("other")); !errors.Is(err, storage.ErrExists) {
			t.Fatalf("second PutIfAbsent: %v, want ErrExists", err)
		}
	})
}
