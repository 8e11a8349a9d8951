package schema

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Schema types as the registry names them in "schemaType".
const (
	TypeAvro     = "AVRO"
	TypeJSON     = "JSON"
	TypeProtobuf = "PROTOBUF"
)

// Schema is one schema as a Confluent Schema Registry stores it. Schemas returned by a
// Registry are cached and shared between callers: treat them as read-only.
type Schema struct {
	// ID is the registry-wide id that the wire format carries; 0 before registration.
	ID int32
	// Subject and Version are set when the schema was looked up by subject and version
	// (SchemaBySubjectVersion, and every resolved reference); a lookup by id leaves them
	// empty, because one id may be registered under many subjects.
	Subject string
	Version int
	// Type is TypeAvro, TypeJSON or TypeProtobuf. The registry omits it for Avro, so a
	// looked-up schema always has it set; in Register, empty means Avro.
	Type string
	// Text is the schema as the registry returns it (Avro or JSON Schema JSON, .proto).
	Text string
	// References are the schemas Text imports, as the registry lists them.
	References []Reference
	// Resolved maps each Reference.Name to the referenced schema, itself resolved, so a
	// parser can register the named types before parsing Text. Nil without references.
	Resolved map[string]*Schema
}

// Reference is one import of a schema: Name is how the schema text refers to it (an Avro
// full name, a .proto import path, a JSON Schema $ref URL); Subject and Version locate it.
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// Dependencies returns every schema s references, directly or not, each once and after
// the schemas it references itself, ready to be parsed in order before s.
func (s *Schema) Dependencies() []*Schema {
	var out []*Schema
	seen := make(map[versionKey]bool) // by subject and version: equal schemas may be distinct values
	var walk func(*Schema)
	walk = func(x *Schema) {
		for _, ref := range x.References {
			dep := x.Resolved[ref.Name]
			if dep == nil || seen[versionKey{dep.Subject, dep.Version}] {
				continue
			}
			seen[versionKey{dep.Subject, dep.Version}] = true
			walk(dep)
			out = append(out, dep)
		}
	}
	walk(s)
	return out
}

// RegistryConfig configures a Registry. Secrets in it never appear in errors or logs;
// its String method redacts them, so printing a config is safe.
type RegistryConfig struct {
	// URL is the registry's base URL, or several separated by commas: a failed request
	// moves on to the next, and later requests start at the last one that answered.
	// Credentials in a URL (https://key:secret@host) are used as basic auth and removed
	// from the URL. Required.
	URL string
	// Username and Password are sent as HTTP basic auth (for Confluent Cloud: the API key
	// and secret) to every URL without credentials of its own. Conflicts with BearerToken.
	Username string
	Password string
	// BearerToken is sent as "Authorization: Bearer …". Conflicts with basic auth.
	BearerToken string
	// CAFile is a PEM file of CA certificates trusted in addition to the system's.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for registries that
	// require mutual TLS. Both or neither.
	CertFile string
	KeyFile  string
	// InsecureSkipVerify accepts any server certificate. For tests only.
	InsecureSkipVerify bool
	// Timeout bounds each HTTP request, the response body included. Defaults to 10s.
	Timeout time.Duration
	// MaxRetries is how many times a request is retried after a connection error, a
	// timeout, a 5xx or a 429; other statuses are never retried. Defaults to 5; a
	// negative value disables retries.
	MaxRetries int
	// RetryBackoff is the first delay between retries; it doubles with each retry, with
	// jitter, up to 10s. A 429 or 503 with Retry-After waits as long as that says, up to
	// a minute. Defaults to 200ms.
	RetryBackoff time.Duration
	// CacheSize bounds how many schemas are cached by id and, separately, by subject and
	// numbered version. Both are immutable in a registry, so entries never expire; when a
	// cache is full an arbitrary entry makes room. Defaults to 10000.
	CacheSize int
	// Logger receives a warning for each retried request. Defaults to no logging.
	Logger *slog.Logger
}

// String prints c with its password, token and URL credentials redacted.
func (c RegistryConfig) String() string {
	urls := strings.Split(c.URL, ",")
	for i, u := range urls {
		urls[i] = redactURL(strings.TrimSpace(u))
	}
	redact := func(s string) string {
		if s == "" {
			return ""
		}
		return "REDACTED"
	}
	return fmt.Sprintf("{URL:%s Username:%s Password:%s BearerToken:%s CAFile:%s CertFile:%s KeyFile:%s InsecureSkipVerify:%t Timeout:%s MaxRetries:%d RetryBackoff:%s CacheSize:%d}",
		strings.Join(urls, ","), c.Username, redact(c.Password), redact(c.BearerToken), c.CAFile, c.CertFile, c.KeyFile,
		c.InsecureSkipVerify, c.Timeout, c.MaxRetries, c.RetryBackoff, c.CacheSize)
}

// GoString redacts like String, so %#v is safe too.
func (c RegistryConfig) GoString() string { return "schema.RegistryConfig" + c.String() }

const (
	defaultRegistryTimeout = 10 * time.Second
	defaultMaxRetries      = 5
	defaultRetryBackoff    = 200 * time.Millisecond
	maxRetryBackoff        = 10 * time.Second
	maxRetryAfter          = time.Minute
	defaultCacheSize       = 10000
	// maxReferenceDepth stops a reference chain that a broken registry made circular or
	// absurdly deep.
	maxReferenceDepth = 32
	// maxResponseBytes bounds a response body; the largest real schemas are a few MB.
	maxResponseBytes = 64 << 20

	registryContentType = "application/vnd.schemaregistry.v1+json"
	registryAccept      = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; q=0.9, application/json; q=0.5"
)

// Registry is a client of a Confluent-compatible Schema Registry: it looks schemas up by
// id or by subject and version, resolves their references and registers new ones. Lookups
// by id and by numbered version are cached for the life of the Registry, and concurrent
// lookups of one uncached id share one request, so the message hot path reaches the
// registry once per schema id. A Registry is safe for concurrent use.
type Registry struct {
	endpoints []endpoint
	bearer    string
	client    *http.Client
	timeout   time.Duration
	retries   int
	backoff   time.Duration
	log       *slog.Logger
	preferred atomic.Int32 // index of the endpoint that last answered

	mu        sync.RWMutex
	cacheSize int
	byID      map[int32]*Schema
	byVersion map[versionKey]*Schema
	flights   map[flightKey]*flight
}

// endpoint is one registry URL with the credentials to use there. base carries no
// userinfo, so it can be printed.
type endpoint struct {
	base       string
	user, pass string
	basic      bool
}

type versionKey struct {
	subject string
	version int
}

// flightKey names one lookup in flight: an id, or a subject and numbered version.
type flightKey struct {
	id int32
	versionKey
}

// flight is a lookup that concurrent callers share. waiters counts the callers still
// waiting; when the last one gives up, the lookup is cancelled.
type flight struct {
	done    chan struct{}
	s       *Schema
	err     error
	waiters int
	cancel  context.CancelFunc
}

// NewRegistry checks cfg, loads its TLS files and returns a Registry. It does no I/O to
// the registry.
func NewRegistry(cfg RegistryConfig) (*Registry, error) {
	r := &Registry{
		bearer:    cfg.BearerToken,
		timeout:   cfg.Timeout,
		retries:   cfg.MaxRetries,
		backoff:   cfg.RetryBackoff,
		cacheSize: cfg.CacheSize,
		log:       cfg.Logger,
		byID:      make(map[int32]*Schema),
		byVersion: make(map[versionKey]*Schema),
		flights:   make(map[flightKey]*flight),
	}
	if r.timeout <= 0 {
		r.timeout = defaultRegistryTimeout
	}
	switch {
	case r.retries == 0:
		r.retries = defaultMaxRetries
	case r.retries < 0:
		r.retries = 0
	}
	if r.backoff <= 0 {
		r.backoff = defaultRetryBackoff
	}
	if r.cacheSize <= 0 {
		r.cacheSize = defaultCacheSize
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Password != "" && cfg.Username == "" {
		return nil, errors.New("schema registry: password set without a username")
	}
	if cfg.BearerToken != "" && cfg.Username != "" {
		return nil, errors.New("schema registry: bearer token and basic auth (username/password) conflict: set one")
	}
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, errors.New("schema registry: no URL")
	}
	for _, raw := range strings.Split(cfg.URL, ",") {
		ep, err := parseEndpoint(strings.TrimSpace(raw))
		if err != nil {
			return nil, err
		}
		switch {
		case ep.basic && (cfg.Username != "" || cfg.BearerToken != ""):
			return nil, fmt.Errorf("schema registry: URL %s carries credentials and the config sets username or bearer token too: set one", ep.base)
		case !ep.basic && cfg.Username != "":
			ep.user, ep.pass, ep.basic = cfg.Username, cfg.Password, true
		}
		r.endpoints = append(r.endpoints, ep)
	}
	tlsCfg, err := registryTLS(cfg)
	if err != nil {
		return nil, err
	}
	tr, ok := http.DefaultTransport.(*http.Transport)
	if ok {
		tr = tr.Clone() // keeps the proxy settings from the environment
	} else {
		tr = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	tr.TLSClientConfig = tlsCfg
	tr.MaxIdleConnsPerHost = 8
	r.client = &http.Client{Transport: tr}
	return r, nil
}

func parseEndpoint(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, credentials included; say only what is wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return endpoint{}, fmt.Errorf("schema registry: URL %s: %w", redactURL(raw), err)
	}
	var ep endpoint
	if u.User != nil {
		ep.user = u.User.Username()
		ep.pass, _ = u.User.Password()
		ep.basic = true
		u.User = nil
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return endpoint{}, fmt.Errorf("schema registry: URL %s: want an http:// or https:// URL", u)
	case u.Host == "":
		return endpoint{}, fmt.Errorf("schema registry: URL %s: no host", u)
	case u.RawQuery != "" || u.Fragment != "":
		return endpoint{}, fmt.Errorf("schema registry: URL %s: a base URL takes no query or fragment", u)
	}
	ep.base = strings.TrimRight(u.String(), "/")
	return ep, nil
}

// redactURL removes the userinfo from a URL that may not even parse, for messages.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		u.User = nil
		return u.String()
	}
	if i := strings.LastIndexByte(raw, '@'); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + raw[i+1:]
		}
		return raw[i+1:]
	}
	return raw
}

func registryTLS(cfg RegistryConfig) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("schema registry: CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("schema registry: CA file %s: no PEM certificate in it", cfg.CAFile)
		}
		t.RootCAs = pool
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("schema registry: a client certificate needs both a certificate file and a key file")
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("schema registry: client certificate %s: %w", cfg.CertFile, err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// Close releases idle connections. Lookups after Close still work.
func (r *Registry) Close() {
	r.client.CloseIdleConnections()
}

// SchemaByID returns the schema with the given id, its references resolved. A cached id
// costs a map lookup and no allocation; an uncached one costs one registry request however
// many goroutines ask at once. Errors wrap a *RegistryError where the registry answered:
// ErrSchemaNotFound for an unknown id.
func (r *Registry) SchemaByID(ctx context.Context, id int32) (*Schema, error) {
	r.mu.RLock()
	s := r.byID[id]
	r.mu.RUnlock()
	if s != nil {
		return s, nil
	}
	s, err := r.shared(ctx, flightKey{id: id}, func(ctx context.Context) (*Schema, error) {
		return r.fetchID(ctx, id)
	})
	if err != nil {
		return nil, fmt.Errorf("schema registry: schema id %d: %w", id, err)
	}
	return s, nil
}

// SchemaBySubjectVersion returns a version of a subject, its references resolved. version
// is a number or "latest". Numbered versions are cached like ids; "latest" asks the
// registry every time, since it moves. Errors wrap a *RegistryError where the registry
// answered: ErrSubjectNotFound, ErrVersionNotFound.
func (r *Registry) SchemaBySubjectVersion(ctx context.Context, subject, version string) (*Schema, error) {
	v, err := parseVersion(version)
	if err == nil && subject == "" {
		err = errors.New("empty subject")
	}
	if err == nil {
		var s *Schema
		if v > 0 {
			key := versionKey{subject, v}
			s, err = r.shared(ctx, flightKey{versionKey: key}, func(ctx context.Context) (*Schema, error) {
				return r.fetchVersion(ctx, key, nil)
			})
		} else {
			s, err = r.fetchVersion(ctx, versionKey{subject, -1}, nil)
		}
		if err == nil {
			return s, nil
		}
	}
	return nil, fmt.Errorf("schema registry: subject %q version %s: %w", subject, version, err)
}

// parseVersion turns a version argument into a positive number, or -1 for the latest.
func parseVersion(v string) (int, error) {
	if v == "latest" || v == "-1" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > 1<<31-1 {
		return 0, errors.New(`version must be a positive number or "latest"`)
	}
	return n, nil
}

// Register registers s.Text, of type s.Type, with its s.References under subject and
// returns the schema's id. Registering a schema the subject already has returns the
// existing id. Errors wrap a *RegistryError where the registry answered:
// ErrIncompatibleSchema, ErrInvalidSchema.
func (r *Registry) Register(ctx context.Context, subject string, s *Schema) (int32, error) {
	if subject == "" {
		return 0, errors.New("schema registry: register: empty subject")
	}
	req := schemaBody{Schema: s.Text, References: s.References}
	if typ := strings.ToUpper(s.Type); typ != TypeAvro {
		req.SchemaType = typ // registries older than 5.5 know Avro only and may reject the field
	}
	body, err := json.Marshal(req)
	if err != nil {
		return 0, fmt.Errorf("schema registry: register subject %q: %w", subject, err)
	}
	var resp struct {
		ID int32 `json:"id"`
	}
	if err := r.do(ctx, http.MethodPost, "/subjects/"+url.PathEscape(subject)+"/versions", body, &resp); err != nil {
		return 0, fmt.Errorf("schema registry: register subject %q: %w", subject, err)
	}
	return resp.ID, nil
}

// schemaBody is the JSON shape shared by the registry's schema answers and its
// registration request; the subject fields are set only in GET /subjects/…/versions/….
type schemaBody struct {
	Subject    string      `json:"subject,omitempty"`
	Version    int         `json:"version,omitempty"`
	ID         int32       `json:"id,omitempty"`
	Schema     string      `json:"schema"`
	SchemaType string      `json:"schemaType,omitempty"`
	References []Reference `json:"references,omitempty"`
}

func (b *schemaBody) toSchema() (*Schema, error) {
	if b.Schema == "" {
		return nil, errors.New("registry answered without a schema")
	}
	typ := strings.ToUpper(b.SchemaType)
	if typ == "" {
		typ = TypeAvro
	}
	return &Schema{ID: b.ID, Subject: b.Subject, Version: b.Version, Type: typ, Text: b.Schema, References: b.References}, nil
}

// shared runs fetch once for all concurrent callers asking for key. fetch runs detached
// from any one caller's context, so a caller that gives up does not fail the others; it is
// cancelled when every caller has given up.
func (r *Registry) shared(ctx context.Context, key flightKey, fetch func(context.Context) (*Schema, error)) (*Schema, error) {
	r.mu.Lock()
	f := r.flights[key]
	if f == nil {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight{done: make(chan struct{}), cancel: cancel}
		r.flights[key] = f
		go func() {
			s, err := fetch(fctx)
			r.mu.Lock()
			if r.flights[key] == f {
				delete(r.flights, key)
			}
			r.mu.Unlock()
			f.s, f.err = s, err
			cancel()
			close(f.done)
		}()
	}
	f.waiters++
	r.mu.Unlock()

	select {
	case <-f.done:
		return f.s, f.err
	case <-ctx.Done():
		r.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.cancel()
			if r.flights[key] == f {
				delete(r.flights, key) // a later caller starts afresh
			}
		}
		r.mu.Unlock()
		return nil, ctx.Err()
	}
}

func (r *Registry) fetchID(ctx context.Context, id int32) (*Schema, error) {
	r.mu.RLock()
	s := r.byID[id]
	r.mu.RUnlock()
	if s != nil { // cached by a flight that ended after our caller looked
		return s, nil
	}
	var b schemaBody
	if err := r.do(ctx, http.MethodGet, "/schemas/ids/"+strconv.FormatInt(int64(id), 10), nil, &b); err != nil {
		return nil, err
	}
	b.ID, b.Subject, b.Version = id, "", 0
	s, err := b.toSchema()
	if err != nil {
		return nil, err
	}
	if err := r.resolve(ctx, s, nil); err != nil {
		return nil, err
	}
	r.mu.Lock()
	cachePut(r.byID, id, s, r.cacheSize)
	r.mu.Unlock()
	return s, nil
}

// fetchVersion looks up a subject version (-1: latest) and resolves its references. path
// holds the versions whose references are being resolved, to refuse a cycle.
func (r *Registry) fetchVersion(ctx context.Context, key versionKey, path []versionKey) (*Schema, error) {
	if key.version > 0 {
		r.mu.RLock()
		s := r.byVersion[key]
		r.mu.RUnlock()
		if s != nil {
			return s, nil
		}
	}
	v := "latest"
	if key.version > 0 {
		v = strconv.Itoa(key.version)
	}
	var b schemaBody
	if err := r.do(ctx, http.MethodGet, "/subjects/"+url.PathEscape(key.subject)+"/versions/"+v, nil, &b); err != nil {
		return nil, err
	}
	if b.Subject == "" {
		b.Subject = key.subject
	}
	s, err := b.toSchema()
	if err != nil {
		return nil, err
	}
	if err := r.resolve(ctx, s, append(path, key)); err != nil {
		return nil, err
	}
	if key.version <= 0 { // latest moves, but the numbered version it named does not
		key = versionKey{s.Subject, s.Version}
	}
	if key.version > 0 {
		r.mu.Lock()
		cachePut(r.byVersion, key, s, r.cacheSize)
		r.mu.Unlock()
	}
	return s, nil
}

// cachePut stores s under k, evicting an arbitrary entry when the cache holds size.
// Schemas are immutable, so a re-fetch after eviction returns the same one.
func cachePut[K comparable](cache map[K]*Schema, k K, s *Schema, size int) {
	if len(cache) >= size {
		for old := range cache {
			delete(cache, old)
			break
		}
	}
	cache[k] = s
}

// resolve fills s.Resolved, depth first. References are fetched directly, not through
// shared flights: a flight waiting on another flight could deadlock on a reference cycle.
func (r *Registry) resolve(ctx context.Context, s *Schema, path []versionKey) error {
	if len(s.References) == 0 {
		return nil
	}
	if len(path) >= maxReferenceDepth {
		return fmt.Errorf("references nested deeper than %d", maxReferenceDepth)
	}
	s.Resolved = make(map[string]*Schema, len(s.References))
	for _, ref := range s.References {
		if ref.Name == "" || ref.Subject == "" {
			return fmt.Errorf("reference %+v: name and subject required", ref)
		}
		key := versionKey{ref.Subject, ref.Version}
		if key.version <= 0 {
			key.version = -1
		}
		for _, p := range path {
			if p == key {
				return fmt.Errorf("reference %q: cycle through subject %q version %d", ref.Name, ref.Subject, ref.Version)
			}
		}
		dep, err := r.fetchVersion(ctx, key, path)
		if err != nil {
			return fmt.Errorf("reference %q (subject %q version %d): %w", ref.Name, ref.Subject, ref.Version, err)
		}
		s.Resolved[ref.Name] = dep
	}
	return nil
}

// do sends one request, with retries and fail-over between URLs, and decodes a 2xx JSON
// answer into out.
func (r *Registry) do(ctx context.Context, method, path string, body []byte, out any) error {
	n := len(r.endpoints)
	start := int(r.preferred.Load())
	sleeps := 0
	for attempt := 0; ; attempt++ {
		i := (start + attempt) % n
		retry, retryAfter, err := r.attempt(ctx, &r.endpoints[i], method, path, body, out)
		if err == nil {
			if i != start {
				r.preferred.Store(int32(i))
			}
			return nil
		}
		if ctx.Err() != nil {
			if errors.Is(err, ctx.Err()) {
				return err
			}
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		}
		if !retry {
			return err
		}
		if attempt >= r.retries {
			if attempt == 0 {
				return err
			}
			return fmt.Errorf("giving up after %d attempts: %w", attempt+1, err)
		}
		// Fail over to the next URL at once; back off once every URL has failed, or when
		// the registry asked us to wait.
		var d time.Duration
		if retryAfter > 0 || (attempt+1)%n == 0 {
			d = max(r.backoffDelay(sleeps), retryAfter)
			sleeps++
		}
		r.log.WarnContext(ctx, "schema registry request failed, retrying",
			"method", method, "url", r.endpoints[i].base+path, "next_url", r.endpoints[(i+1)%n].base,
			"attempt", attempt+1, "delay", d, "error", err)
		if d == 0 {
			continue
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		}
	}
}

// backoffDelay is the delay before the n-th sleep (from 0): RetryBackoff·2ⁿ capped at
// 10s, of which the upper half is random so that workers retrying together spread out.
func (r *Registry) backoffDelay(n int) time.Duration {
	d := r.backoff
	for ; n > 0 && d < maxRetryBackoff; n-- {
		d *= 2
	}
	d = min(d, maxRetryBackoff)
	half := d / 2
	return half + rand.N(half+1)
}

// attempt sends one HTTP request to one URL. retry says whether the failure is worth
// another attempt; retryAfter is the server's Retry-After, if any.
func (r *Registry) attempt(ctx context.Context, ep *endpoint, method, path string, body []byte, out any) (retry bool, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, ep.base+path, rd)
	if err != nil {
		return false, 0, err
	}
	req.Header.Set("Accept", registryAccept)
	req.Header.Set("User-Agent", "sluice")
	if body != nil {
		req.Header.Set("Content-Type", registryContentType)
	}
	switch {
	case ep.basic:
		req.SetBasicAuth(ep.user, ep.pass)
	case r.bearer != "":
		req.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return !permanentTransportError(err), 0, err // *url.Error: method and redacted URL
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return true, 0, fmt.Errorf("%s %s: reading response: %w", method, ep.base+path, err)
	}
	if len(data) > maxResponseBytes {
		return false, 0, fmt.Errorf("%s %s: response larger than %d bytes", method, ep.base+path, maxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := newRegistryError(method, ep.base+path, resp.StatusCode, data)
		retry := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		return retry, parseRetryAfter(resp.Header.Get("Retry-After")), e
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, 0, fmt.Errorf("%s %s: decoding response: %w", method, ep.base+path, err)
	}
	return false, 0, nil
}

// permanentTransportError reports a transport failure that a retry cannot fix: the
// server's certificate is not trusted, or it refused ours.
func permanentTransportError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		header   tls.RecordHeaderError // an http:// server behind an https:// URL
		op       *net.OpError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &header) ||
		(errors.As(err, &op) && op.Op == "remote error") // a TLS alert from the server
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	return min(max(d, 0), maxRetryAfter)
}

func newRegistryError(method, rawURL string, status int, body []byte) *RegistryError {
	e := &RegistryError{StatusCode: status, Method: method, URL: rawURL}
	var cb struct {
		Code    int    `json:"error_code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &cb) == nil && (cb.Code != 0 || cb.Message != "") {
		e.Code, e.Message = cb.Code, cb.Message
		return e
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	e.Message = strings.ToValidUTF8(msg, "�")
	return e
}

// Ping checks that the registry answers (GET /subjects), with the usual retries. The
// connector calls it at start-up so that a wrong URL or credentials fail fast.
func (r *Registry) Ping(ctx context.Context) error {
	var subjects []string
	return r.do(ctx, http.MethodGet, "/subjects", nil, &subjects)
}
