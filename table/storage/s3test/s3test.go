// Package s3test runs a real S3 server for tests: versitygw, pinned in the repository's
// tools module, started as a process on loopback with a temporary posix backend.
//
// Tests that need S3 call Start; it builds versitygw into <repo>/.tools/bin when the
// binary is missing or was built from another version (`make tools` does the same
// ahead of time), and fails the test, never skips it, when the server cannot run.
package s3test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	versitygwModule = "github.com/versity/versitygw"
	versitygwPkg    = versitygwModule + "/cmd/versitygw"
	// startTimeout bounds how long a started server may take to answer.
	startTimeout = 30 * time.Second
	// buildTimeout bounds a cold build of versitygw (about 3 minutes on 2 cores).
	buildTimeout = 15 * time.Minute
)

// Server is a running versitygw. Its fields are what a client needs; the root
// credentials may do anything on the server.
type Server struct {
	// Endpoint is the server's base URL, "http://127.0.0.1:PORT". Use path-style
	// addressing with it.
	Endpoint string
	// Region is the region the server signs for: us-east-1.
	Region string
	// AccessKeyID and SecretAccessKey are the root user's keys; the secret is random
	// per server, so a test can check that it never leaks into messages.
	AccessKeyID     string
	SecretAccessKey string
	// Bucket is an empty bucket created at start.
	Bucket string
	// Dir is the posix directory that holds the buckets.
	Dir string

	client *s3.Client
	bin    string
	addr   string
	cmd    *exec.Cmd
	exited chan error
}

// Start builds versitygw if needed, starts it on a free loopback port, creates Bucket,
// and stops the server when t's test ends. Any failure fails t.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	s := &Server{
		Region:          "us-east-1",
		AccessKeyID:     "sluice-test-root",
		SecretAccessKey: hex.EncodeToString(secret),
		Bucket:          "sluice-test",
		Dir:             t.TempDir(),
	}
	// Another process may take the free port between our probe and versitygw's bind;
	// that shows as an early exit, so try a few ports.
	s.bin = bin
	var err error
	for range 3 {
		if s.addr, err = freePort(); err != nil {
			continue
		}
		if err = s.start(t, bin); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	s.client = s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, ""),
	})
	s.CreateBucket(t, s.Bucket)
	return s
}

// Client is an SDK client with the root credentials, for assertions that the Storage
// interface does not expose (pending multipart uploads, raw keys).
func (s *Server) Client() *s3.Client { return s.client }

// CreateBucket creates an empty bucket; any failure fails t.
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", name, err)
	}
}

// Stop kills the server, as an outage would: requests fail until Restart.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart starts the server again on the same address and directory, so the buckets
// and objects written before Stop are there.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	var err error
	for range 20 { // the port may take a moment to be free again
		if err = s.start(t, s.bin); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("s3test: restart: %v", err)
}

func (s *Server) start(t testing.TB, bin string) error {
	addr := s.addr
	s.Endpoint = "http://" + addr
	out := &tailBuffer{max: 64 << 10}
	cmd := exec.Command(bin,
		"--access", s.AccessKeyID,
		"--secret", s.SecretAccessKey,
		"--region", s.Region,
		"--port", addr,
		"--keep-alive",
		"--quiet",
		"posix", s.Dir)
	cmd.Env = serverEnv()
	cmd.Stdout, cmd.Stderr = out, out
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	if err := waitReady(s.Endpoint, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("versitygw on %s: %w; output:\n%s", addr, err, out)
	}
	s.cmd, s.exited = cmd, exited
	t.Cleanup(func() {
		if s.cmd != cmd {
			return // stopped, or restarted as another process
		}
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("s3test: versitygw output:\n%s", out)
		}
	})
	return nil
}

// waitReady polls the endpoint until it answers HTTP (an unsigned request gets a 403).
func waitReady(endpoint string, exited <-chan error) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited before answering: %v", err)
		default:
		}
		resp, err := client.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %s: %w", startTimeout, err)
		}
		time.Sleep(delay)
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// serverEnv is the test's environment without the variables versitygw reads as flag
// defaults, so a developer's shell cannot change the server under test.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VGW_") || strings.HasPrefix(kv, "ROOT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Binary returns the path of a versitygw built from the version that tools/go.mod
// pins, building it first when needed. Test binaries of several packages may call it
// at once; a file lock lets one build while the others wait.
func Binary(t testing.TB) string {
	t.Helper()
	path, err := binary(t.Logf)
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return path
}

func binary(logf func(string, ...any)) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	toolsDir := filepath.Join(root, "tools")
	want, err := pinnedVersion(filepath.Join(toolsDir, "go.mod"))
	if err != nil {
		return "", err
	}
	binDir := filepath.Join(root, ".tools", "bin")
	bin := filepath.Join(binDir, "versitygw")
	if builtVersion(bin) == want {
		return bin, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(binDir, ".versitygw.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if builtVersion(bin) == want { // built by another package's tests while we waited
		return bin, nil
	}

	gobin, err := goCommand()
	if err != nil {
		return "", err
	}
	logf("s3test: building versitygw %s into %s (a cold build takes a few minutes)", want, binDir)
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, gobin, "build", "-o", tmp, versitygwPkg)
	cmd.Dir = toolsDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build versitygw (cd tools && go build %s): %w\n%s", versitygwPkg, err, out.String())
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	if got := builtVersion(bin); got != want {
		return "", fmt.Errorf("built %s reports versitygw %q, tools/go.mod pins %q", bin, got, want)
	}
	return bin, nil
}

// repoRoot walks up from the working directory (a package directory under go test)
// to the directory holding tools/go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "tools", "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no tools/go.mod above %s: run the tests inside the sluice repository", dir)
		}
		d = parent
	}
}

// pinnedVersion reads the versitygw version that the tools module requires.
func pinnedVersion(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == versitygwModule {
			return fields[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s does not require %s", gomod, versitygwModule)
}

// builtVersion is the versitygw module version compiled into bin, or "" when bin is
// missing or unreadable.
func builtVersion(bin string) string {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return ""
	}
	if info.Main.Path == versitygwModule {
		return info.Main.Version
	}
	for _, dep := range info.Deps {
		if dep.Path == versitygwModule {
			if dep.Replace != nil {
				return dep.Replace.Version
			}
			return dep.Version
		}
	}
	return ""
}

func goCommand() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no go command in PATH or GOROOT to build versitygw with")
}

// tailBuffer keeps the last max bytes written to it; safe for concurrent writers.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
