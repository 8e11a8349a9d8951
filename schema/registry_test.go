package schema

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicelake/sluice/schema/registrytest"
)

const (
	avroAddress  = `{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"city","type":"string"}]}`
	avroCustomer = `{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"address","type":"com.acme.Address"}]}`
	avroOrder    = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"customer","type":"com.acme.Customer"},{"name":"ship_to","type":"com.acme.Address"}]}`
	jsonSchema   = `{"type":"object","properties":{"id":{"type":"integer"}}}`
)

// newTestRegistry returns a client of srv with fast retries, and cfg's other fields.
func newTestRegistry(t *testing.T, srv *registrytest.Server, cfg RegistryConfig) *Registry {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = srv.URL()
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = time.Millisecond
	}
	r, err := NewRegistry(cfg)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

func mustRegister(t *testing.T, srv *registrytest.Server, subject, typ, text string, refs ...registrytest.Reference) int32 {
	t.Helper()
	id, err := srv.Register(subject, typ, text, refs...)
	if err != nil {
		t.Fatal(err)
	}
	return int32(id)
}

func TestRegistrySchemaByID(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	avroID := mustRegister(t, srv, "orders-value", "", avroAddress)
	jsonID := mustRegister(t, srv, "clicks-value", TypeJSON, jsonSchema)
	r := newTestRegistry(t, srv, RegistryConfig{})
	ctx := context.Background()

	cases := []struct {
		id       int32
		typ      string
		text     string
		notFound bool
	}{
		{id: avroID, typ: TypeAvro, text: avroAddress}, // the registry omits schemaType for Avro
		{id: jsonID, typ: TypeJSON, text: jsonSchema},
		{id: 99, notFound: true},
	}
	for _, tc := range cases {
		s, err := r.SchemaByID(ctx, tc.id)
		if tc.notFound {
			var re *RegistryError
			if !errors.Is(err, ErrSchemaNotFound) || !errors.As(err, &re) || re.StatusCode != 404 || re.Code != 40403 {
				t.Errorf("SchemaByID(%d) error = %v, want ErrSchemaNotFound from a *RegistryError 404/40403", tc.id, err)
			}
			if errors.Is(err, ErrSubjectNotFound) || errors.Is(err, ErrUnauthorized) {
				t.Errorf("SchemaByID(%d) error %v matches the wrong sentinel", tc.id, err)
			}
			if n := srv.Requests(fmt.Sprintf("/schemas/ids/%d", tc.id)); n != 1 {
				t.Errorf("a 404 was tried %d times, want 1 (no retry)", n)
			}
			continue
		}
		if err != nil {
			t.Fatalf("SchemaByID(%d): %v", tc.id, err)
		}
		if s.ID != tc.id || s.Type != tc.typ || s.Text != tc.text || s.Subject != "" || s.Version != 0 || s.Resolved != nil {
			t.Errorf("SchemaByID(%d) = %+v", tc.id, s)
		}
	}
}

func TestRegistrySchemaBySubjectVersion(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	id1 := mustRegister(t, srv, "orders-value", "", avroAddress)
	id2 := mustRegister(t, srv, "orders-value", "", avroCustomer)
	r := newTestRegistry(t, srv, RegistryConfig{})
	ctx := context.Background()

	cases := []struct {
		subject, version string
		id               int32
		wantVersion      int
		err              error  // sentinel
		errText          string // for errors the client finds itself
	}{
		{subject: "orders-value", version: "1", id: id1, wantVersion: 1},
		{subject: "orders-value", version: "2", id: id2, wantVersion: 2},
		{subject: "orders-value", version: "latest", id: id2, wantVersion: 2},
		{subject: "orders-value", version: "3", err: ErrVersionNotFound},
		{subject: "nope", version: "1", err: ErrSubjectNotFound},
		{subject: "nope", version: "latest", err: ErrSubjectNotFound},
		{subject: "orders-value", version: "0", errText: `version must be a positive number or "latest"`},
		{subject: "orders-value", version: "two", errText: `version must be a positive number or "latest"`},
		{subject: "", version: "1", errText: "empty subject"},
	}
	before := srv.TotalRequests()
	for _, tc := range cases {
		s, err := r.SchemaBySubjectVersion(ctx, tc.subject, tc.version)
		switch {
		case tc.err != nil || tc.errText != "":
			if (tc.err != nil && !errors.Is(err, tc.err)) || (tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText))) {
				t.Errorf("(%q, %q): error %v, want %v %q", tc.subject, tc.version, err, tc.err, tc.errText)
			}
		case err != nil:
			t.Errorf("(%q, %q): %v", tc.subject, tc.version, err)
		case s.ID != tc.id || s.Subject != tc.subject || s.Version != tc.wantVersion || s.Type != TypeAvro:
			t.Errorf("(%q, %q) = %+v", tc.subject, tc.version, s)
		}
	}
	// Invalid arguments never reach the registry; the others reach it once each.
	if got := srv.TotalRequests() - before; got != 6 {
		t.Errorf("%d requests, want 6", got)
	}

	// "latest" moves: it is asked every time and sees a new version.
	id3 := mustRegister(t, srv, "orders-value", TypeJSON, jsonSchema)
	s, err := r.SchemaBySubjectVersion(ctx, "orders-value", "latest")
	if err != nil || s.ID != id3 || s.Version != 3 || s.Type != TypeJSON {
		t.Fatalf("latest after a new version = %+v, %v", s, err)
	}
	if n := srv.Requests("/subjects/orders-value/versions/latest"); n != 2 {
		t.Errorf("latest asked %d times, want 2", n)
	}
	// Numbered versions are cached, including one that "latest" named (version 3 was
	// asked once above, when it did not exist yet).
	for range 3 {
		for _, v := range []string{"1", "3"} {
			if _, err := r.SchemaBySubjectVersion(ctx, "orders-value", v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n1, n3 := srv.Requests("/subjects/orders-value/versions/1"), srv.Requests("/subjects/orders-value/versions/3"); n1 != 1 || n3 != 1 {
		t.Errorf("version 1 asked %d times, version 3 %d times; want 1 and 1", n1, n3)
	}
}

func TestRegistryRegister(t *testing.T) {
	var contentTypes sync.Map
	srv := registrytest.NewServer()
	defer srv.Close()
	// Check the request's Content-Type on the way through to the test registry.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost {
			contentTypes.Store(req.Header.Get("Content-Type"), true)
		}
		srv.ServeHTTP(w, req)
	}))
	defer front.Close()
	r := newTestRegistry(t, srv, RegistryConfig{URL: front.URL, MaxRetries: -1})
	ctx := context.Background()

	addrID, err := r.Register(ctx, "address", &Schema{Text: avroAddress})
	if err != nil || addrID != 1 {
		t.Fatalf("Register address = %d, %v; want 1", addrID, err)
	}
	cases := []struct {
		name    string
		subject string
		schema  Schema
		id      int32
		err     error
	}{
		{name: "same schema again", subject: "address", schema: Schema{Text: avroAddress, Type: TypeAvro}, id: 1},
		{name: "same schema, other subject", subject: "shipping", schema: Schema{Text: avroAddress}, id: 1},
		{name: "with a reference", subject: "customer", id: 2, schema: Schema{Text: avroCustomer,
			References: []Reference{{Name: "com.acme.Address", Subject: "address", Version: 1}}}},
		{name: "json", subject: "clicks", schema: Schema{Text: jsonSchema, Type: TypeJSON}, id: 3},
		{name: "protobuf", subject: "pb", schema: Schema{Text: `syntax = "proto3"; message M {}`, Type: "protobuf"}, id: 4},
		{name: "invalid", subject: "bad", schema: Schema{Text: "{not json"}, err: ErrInvalidSchema},
		{name: "missing reference", subject: "bad", err: ErrInvalidSchema, schema: Schema{Text: avroCustomer,
			References: []Reference{{Name: "com.acme.Address", Subject: "address", Version: 7}}}},
	}
	for _, tc := range cases {
		id, err := r.Register(ctx, tc.subject, &tc.schema)
		if tc.err != nil {
			var re *RegistryError
			if !errors.Is(err, tc.err) || !errors.As(err, &re) || re.StatusCode != 422 {
				t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || id != tc.id {
			t.Errorf("%s: Register = %d, %v; want %d", tc.name, id, err, tc.id)
		}
	}

	s, err := r.SchemaByID(ctx, 4)
	if err != nil || s.Type != TypeProtobuf {
		t.Errorf("SchemaByID(4) = %+v, %v; want a PROTOBUF schema", s, err)
	}

	srv.FailNext(1, http.StatusConflict)
	if _, err := r.Register(ctx, "address", &Schema{Text: avroCustomer}); !errors.Is(err, ErrIncompatibleSchema) {
		t.Errorf("Register over a 409: %v, want ErrIncompatibleSchema", err)
	}
	if _, err := r.Register(ctx, "", &Schema{Text: avroAddress}); err == nil {
		t.Error("Register with an empty subject: no error")
	}
	contentTypes.Range(func(k, _ any) bool {
		if k != "application/vnd.schemaregistry.v1+json" {
			t.Errorf("POST with Content-Type %q", k)
		}
		return true
	})
}

func TestRegistryReferences(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	addrID := mustRegister(t, srv, "address", "", avroAddress)
	custID := mustRegister(t, srv, "customer", "", avroCustomer, registrytest.Reference{Name: "com.acme.Address", Subject: "address", Version: 1})
	orderID := mustRegister(t, srv, "order", "", avroOrder,
		registrytest.Reference{Name: "com.acme.Customer", Subject: "customer", Version: 1},
		registrytest.Reference{Name: "com.acme.Address", Subject: "address", Version: 1})
	r := newTestRegistry(t, srv, RegistryConfig{})
	ctx := context.Background()

	order, err := r.SchemaByID(ctx, orderID)
	if err != nil {
		t.Fatal(err)
	}
	cust, addr := order.Resolved["com.acme.Customer"], order.Resolved["com.acme.Address"]
	if cust == nil || addr == nil || len(order.Resolved) != 2 || len(order.References) != 2 {
		t.Fatalf("order.Resolved = %v", order.Resolved)
	}
	if cust.ID != custID || cust.Subject != "customer" || cust.Version != 1 || cust.Text != avroCustomer {
		t.Errorf("customer = %+v", cust)
	}
	if addr.ID != addrID || addr.Subject != "address" || addr.Text != avroAddress || addr.Resolved != nil {
		t.Errorf("address = %+v", addr)
	}
	if cust.Resolved["com.acme.Address"] != addr {
		t.Errorf("customer's address %p is not the order's %p: the version cache was not used", cust.Resolved["com.acme.Address"], addr)
	}
	deps := order.Dependencies()
	if len(deps) != 2 || deps[0] != addr || deps[1] != cust {
		t.Errorf("Dependencies = %v, want address then customer", deps)
	}
	if n := srv.Requests("/subjects/address/versions/1"); n != 1 {
		t.Errorf("address version 1 fetched %d times, want 1", n)
	}

	// By subject and version the references resolve the same way, from the cache.
	c, err := r.SchemaBySubjectVersion(ctx, "customer", "latest")
	if err != nil || c.Resolved["com.acme.Address"] != addr {
		t.Errorf("customer latest = %+v, %v", c, err)
	}
	if n := srv.Requests("/subjects/address/versions/1"); n != 1 {
		t.Errorf("address version 1 fetched %d times, want 1", n)
	}
}

// TestRegistryReferenceCycle serves two schemas that reference each other, which a real
// registry refuses to store: the client must fail, not loop or deadlock.
func TestRegistryReferenceCycle(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		other := map[string]string{"/subjects/a/versions/1": "b", "/subjects/b/versions/1": "a", "/schemas/ids/1": "a"}[req.URL.Path]
		if other == "" {
			http.NotFound(w, req)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"id": 1, "subject": strings.Split(req.URL.Path, "/")[2], "version": 1, "schema": "{}",
			"references": []Reference{{Name: other, Subject: other, Version: 1}}})
	}))
	defer ts.Close()
	r, err := NewRegistry(RegistryConfig{URL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, lookup := range []func() error{
		func() error { _, err := r.SchemaByID(ctx, 1); return err },
		func() error { _, err := r.SchemaBySubjectVersion(ctx, "a", "1"); return err },
	} {
		if err := lookup(); err == nil || !strings.Contains(err.Error(), "cycle") {
			t.Errorf("cyclic references: error %v, want a cycle", err)
		}
	}
}

func TestRegistryCache(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	id := mustRegister(t, srv, "orders-value", "", avroAddress)
	r := newTestRegistry(t, srv, RegistryConfig{})
	ctx := context.Background()
	path := fmt.Sprintf("/schemas/ids/%d", id)

	first, err := r.SchemaByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.SchemaByID(ctx, id)
	if err != nil || second != first {
		t.Fatalf("second lookup = %p, %v; want the cached %p", second, err, first)
	}
	if n := srv.Requests(path); n != 1 {
		t.Errorf("%d requests for two lookups, want 1", n)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.SchemaByID(ctx, id); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a cached SchemaByID allocates %v times, want 0", allocs)
	}

	// Concurrent lookups of an uncached id share one request.
	id2 := mustRegister(t, srv, "orders-value", "", avroCustomer)
	srv.SetDelay(100 * time.Millisecond)
	const n = 20
	var wg sync.WaitGroup
	got := make([]*Schema, n)
	for i := range n {
		wg.Go(func() {
			s, err := r.SchemaByID(ctx, id2)
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		})
	}
	wg.Wait()
	if c := srv.Requests(fmt.Sprintf("/schemas/ids/%d", id2)); c != 1 {
		t.Errorf("%d concurrent lookups made %d requests, want 1", n, c)
	}
	for i := range got {
		if got[i] == nil || got[i] != got[0] {
			t.Fatalf("caller %d got %p, caller 0 %p", i, got[i], got[0])
		}
	}
}

// TestRegistrySharedLookupSurvivesCancel checks that a caller giving up on a shared
// lookup fails alone: the others still get the schema from the one request.
func TestRegistrySharedLookupSurvivesCancel(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	id := mustRegister(t, srv, "s", "", avroAddress)
	r := newTestRegistry(t, srv, RegistryConfig{})
	srv.SetDelay(200 * time.Millisecond)

	impatient, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := r.SchemaByID(impatient, id) // starts the shared lookup
		errc <- err
	}()
	time.Sleep(5 * time.Millisecond)
	s, err := r.SchemaByID(context.Background(), id)
	if err != nil || s.ID != id {
		t.Fatalf("patient caller: %+v, %v", s, err)
	}
	if err := <-errc; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("impatient caller: %v, want DeadlineExceeded", err)
	}
	if n := srv.Requests(fmt.Sprintf("/schemas/ids/%d", id)); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestRegistryRetries(t *testing.T) {
	cases := []struct {
		name       string
		fail       int // injected failures
		status     int
		maxRetries int
		requests   int // requests the lookup makes
		err        bool
	}{
		{name: "500 then success", fail: 2, status: 500, requests: 3},
		{name: "503 then success", fail: 1, status: 503, requests: 2},
		{name: "429 then success", fail: 3, status: 429, requests: 4},
		{name: "500 past MaxRetries", fail: 10, status: 500, maxRetries: 2, requests: 3, err: true},
		{name: "retries disabled", fail: 1, status: 500, maxRetries: -1, requests: 1, err: true},
		{name: "404 is not retried", fail: 3, status: 404, requests: 1, err: true},
		{name: "401 is not retried", fail: 3, status: 401, requests: 1, err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := registrytest.NewServer()
			defer srv.Close()
			id := mustRegister(t, srv, "s", "", avroAddress)
			r := newTestRegistry(t, srv, RegistryConfig{MaxRetries: tc.maxRetries})
			srv.FailNext(tc.fail, tc.status)
			_, err := r.SchemaByID(context.Background(), id)
			if n := srv.TotalRequests(); n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
			if !tc.err {
				if err != nil {
					t.Errorf("error %v, want success", err)
				}
				return
			}
			var re *RegistryError
			if !errors.As(err, &re) || re.StatusCode != tc.status {
				t.Errorf("error %v, want a *RegistryError with status %d", err, tc.status)
			}
		})
	}
}

func TestRegistryRetryAfter(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	id := mustRegister(t, srv, "s", "", avroAddress)
	r := newTestRegistry(t, srv, RegistryConfig{})
	srv.FailNext(1, http.StatusTooManyRequests)
	srv.SetRetryAfter(1)
	start := time.Now()
	if _, err := r.SchemaByID(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("retried after %s, want Retry-After's 1s", waited)
	}
}

func TestRegistryFailover(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	id := mustRegister(t, srv, "s", "", avroAddress)
	// A port nothing listens on: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()

	r := newTestRegistry(t, srv, RegistryConfig{URL: dead + " , " + srv.URL() + "/"})
	if _, err := r.SchemaByID(context.Background(), id); err != nil {
		t.Fatalf("with the first URL down: %v", err)
	}
	// The next request starts at the URL that answered.
	if _, err := r.SchemaBySubjectVersion(context.Background(), "s", "latest"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SchemaBySubjectVersion(context.Background(), "s", "latest"); err != nil {
		t.Fatal(err)
	}

	// With every URL down, the connection error comes back after the retries.
	r2 := newTestRegistry(t, srv, RegistryConfig{URL: dead, MaxRetries: 2})
	_, err = r2.SchemaByID(context.Background(), id)
	var op *net.OpError
	if !errors.As(err, &op) || !strings.Contains(err.Error(), "giving up after 3 attempts") {
		t.Errorf("all URLs down: %v", err)
	}
}

func TestRegistryAuth(t *testing.T) {
	const (
		user   = "apikey"
		pass   = "s3cr3t-Pa55"
		token  = "eyJhbGciOiJIUzI1NiJ9.token"
		wrongP = "wr0ng-Pa55"
		wrongT = "not-the-token"
	)
	cases := []struct {
		name    string
		bearer  bool // the server wants a bearer token, not basic auth
		cfg     RegistryConfig
		inURL   string // userinfo put into the URL
		ok      bool
		secrets []string // must not appear in the error
	}{
		{name: "basic", cfg: RegistryConfig{Username: user, Password: pass}, ok: true},
		{name: "basic in URL", inURL: user + ":" + pass, ok: true},
		{name: "basic wrong password", cfg: RegistryConfig{Username: user, Password: wrongP}, secrets: []string{wrongP}},
		{name: "basic wrong password in URL", inURL: user + ":" + wrongP, secrets: []string{wrongP}},
		{name: "basic missing", cfg: RegistryConfig{}},
		{name: "bearer", bearer: true, cfg: RegistryConfig{BearerToken: token}, ok: true},
		{name: "bearer wrong", bearer: true, cfg: RegistryConfig{BearerToken: wrongT}, secrets: []string{wrongT}},
		{name: "bearer given basic", bearer: true, cfg: RegistryConfig{Username: user, Password: pass}, secrets: []string{pass}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := registrytest.NewServer()
			defer srv.Close()
			id := mustRegister(t, srv, "s", "", avroAddress)
			if tc.bearer {
				srv.RequireBearerToken(token)
			} else {
				srv.RequireBasicAuth(user, pass)
			}
			cfg := tc.cfg
			cfg.URL = srv.URL()
			if tc.inURL != "" {
				cfg.URL = strings.Replace(cfg.URL, "://", "://"+tc.inURL+"@", 1)
			}
			r := newTestRegistry(t, srv, cfg)
			ctx := context.Background()
			_, err := r.SchemaByID(ctx, id)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := r.Register(ctx, "s2", &Schema{Text: avroCustomer}); err != nil {
					t.Errorf("Register: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("error %v, want ErrUnauthorized", err)
			}
			if n := srv.TotalRequests(); n != 1 {
				t.Errorf("%d requests, want 1: a 401 is not retried", n)
			}
			msg := fmt.Sprintf("%v %+v %#v", err, err, cfg)
			for _, secret := range append(tc.secrets, pass, token) {
				if strings.Contains(msg, secret) {
					t.Errorf("secret %q printed: %s", secret, msg)
				}
			}
		})
	}
}

func TestRegistryConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  RegistryConfig
		want string
	}{
		{"no URL", RegistryConfig{}, "no URL"},
		{"blank URL in list", RegistryConfig{URL: "http://a:8081, "}, "want an http:// or https:// URL"},
		{"scheme", RegistryConfig{URL: "ftp://registry"}, "want an http:// or https:// URL"},
		{"no host", RegistryConfig{URL: "http://"}, "no host"},
		{"query", RegistryConfig{URL: "http://registry:8081/?x=1"}, "no query"},
		{"bad URL keeps its secret", RegistryConfig{URL: "http://user:hunter2@reg istry:8081"}, "invalid character"},
		{"password alone", RegistryConfig{URL: "http://r", Password: "hunter2"}, "password set without a username"},
		{"bearer and basic", RegistryConfig{URL: "http://r", Username: "u", BearerToken: "hunter2"}, "conflict"},
		{"credentials twice", RegistryConfig{URL: "http://u:hunter2@r", Username: "u"}, "carries credentials"},
		{"cert without key", RegistryConfig{URL: "https://r", CertFile: "c.pem"}, "both a certificate file and a key file"},
		{"missing CA", RegistryConfig{URL: "https://r", CAFile: filepath.Join(dir, "nope.pem")}, "no such file"},
		{"CA not PEM", RegistryConfig{URL: "https://r", CAFile: notPEM}, "no PEM certificate"},
		{"missing client cert", RegistryConfig{URL: "https://r", CertFile: filepath.Join(dir, "c.pem"), KeyFile: filepath.Join(dir, "k.pem")}, "no such file"},
	}
	for _, tc := range cases {
		_, err := NewRegistry(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error prints the secret: %v", tc.name, err)
		}
	}
}

func TestRegistryConfigString(t *testing.T) {
	cfg := RegistryConfig{URL: "https://k:hunter2@a:8081,https://b:8081", Username: "k", Password: "hunter2", BearerToken: "tok3n"}
	for _, s := range []string{cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%+v", &cfg), fmt.Sprintf("%#v", cfg)} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "tok3n") || !strings.Contains(s, "https://a:8081,https://b:8081") {
			t.Errorf("config printed as %s", s)
		}
	}
}

func TestRegistryTimeouts(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	id := mustRegister(t, srv, "s", "", avroAddress)
	srv.SetDelay(5 * time.Second)

	// Each request times out after Timeout and is retried.
	r := newTestRegistry(t, srv, RegistryConfig{Timeout: 50 * time.Millisecond, MaxRetries: 1})
	start := time.Now()
	_, err := r.SchemaByID(context.Background(), id)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("request timeout: %v, want DeadlineExceeded", err)
	}
	if n := srv.TotalRequests(); n != 2 {
		t.Errorf("%d requests, want 2 (one retry)", n)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}

	// The caller's deadline ends the retries too.
	r = newTestRegistry(t, srv, RegistryConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = r.SchemaBySubjectVersion(ctx, "s", "1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller deadline: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
}

// testPKI is a CA with a server certificate for 127.0.0.1 and a client certificate, in PEM
// files.
type testPKI struct {
	caFile, clientCert, clientKey string
	caPool                        *x509.CertPool
	server                        tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	writePEM := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	now := time.Now()
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		key := newKey()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	p := testPKI{caPool: x509.NewCertPool()}
	p.caPool.AddCert(ca)
	p.caFile = writePEM("ca.pem", "CERTIFICATE", caDER)

	serverDER, serverKey := issue(2, "registry", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.server = tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}

	clientDER, clientKey := issue(3, "sluice", x509.ExtKeyUsageClientAuth, nil)
	keyDER, err := x509.MarshalPKCS8PrivateKey(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	p.clientCert = writePEM("client.pem", "CERTIFICATE", clientDER)
	p.clientKey = writePEM("client-key.pem", "PRIVATE KEY", keyDER)
	return p
}

func TestRegistryTLS(t *testing.T) {
	pki := newTestPKI(t)
	srv := registrytest.NewTLSServer(&tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.caPool,
	})
	defer srv.Close()
	id := mustRegister(t, srv, "s", "", avroAddress)

	cases := []struct {
		name string
		cfg  RegistryConfig
		want string // error substring; "" means success
	}{
		{"CA and client certificate", RegistryConfig{CAFile: pki.caFile, CertFile: pki.clientCert, KeyFile: pki.clientKey}, ""},
		{"skip verify with client certificate", RegistryConfig{InsecureSkipVerify: true, CertFile: pki.clientCert, KeyFile: pki.clientKey}, ""},
		{"no client certificate", RegistryConfig{CAFile: pki.caFile}, "certificate required"},
		{"unknown CA", RegistryConfig{CertFile: pki.clientCert, KeyFile: pki.clientKey}, "certificate signed by unknown authority"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.URL = srv.URL()
			cfg.RetryBackoff = 10 * time.Second // a retry would show in the elapsed time
			r := newTestRegistry(t, srv, cfg)
			start := time.Now()
			s, err := r.SchemaByID(context.Background(), id)
			if tc.want == "" {
				if err != nil || s.Text != avroAddress {
					t.Fatalf("SchemaByID = %+v, %v", s, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("a TLS failure took %s: it was retried", d)
			}
		})
	}
}

func BenchmarkSchemaByIDCached(b *testing.B) {
	srv := registrytest.NewServer()
	defer srv.Close()
	id, err := srv.Register("s", "", avroAddress)
	if err != nil {
		b.Fatal(err)
	}
	r, err := NewRegistry(RegistryConfig{URL: srv.URL()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := r.SchemaByID(ctx, int32(id)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.SchemaByID(ctx, int32(id)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func TestRegistryBackoff(t *testing.T) {
	cases := []struct {
		base   time.Duration
		n      int
		lo, hi time.Duration
	}{
		{200 * time.Millisecond, 0, 100 * time.Millisecond, 200 * time.Millisecond},
		{200 * time.Millisecond, 3, 800 * time.Millisecond, 1600 * time.Millisecond},
		{200 * time.Millisecond, 10, 5 * time.Second, 10 * time.Second},
		{200 * time.Millisecond, 1000, 5 * time.Second, 10 * time.Second},
		{time.Hour, 40, 5 * time.Second, 10 * time.Second}, // no overflow
	}
	for _, tc := range cases {
		r := &Registry{backoff: tc.base}
		for range 50 {
			if d := r.backoffDelay(tc.n); d < tc.lo || d > tc.hi {
				t.Fatalf("backoffDelay(%d) with base %s = %s, want in [%s, %s]", tc.n, tc.base, d, tc.lo, tc.hi)
			}
		}
	}
	for in, want := range map[string]time.Duration{"": 0, "2": 2 * time.Second, "-5": 0, "86400": time.Minute, "soon": 0} {
		if got := parseRetryAfter(in); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestRegistryLogsNoSecrets(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	id := mustRegister(t, srv, "s", "", avroAddress)
	srv.RequireBasicAuth("key", "hunter2")
	var logs strings.Builder
	var mu sync.Mutex
	r := newTestRegistry(t, srv, RegistryConfig{
		URL:    strings.Replace(srv.URL(), "://", "://key:hunter2@", 1),
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil)),
	})
	srv.FailNext(2, http.StatusServiceUnavailable)
	if _, err := r.SchemaByID(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := logs.String(); strings.Count(got, "retrying") != 2 || strings.Contains(got, "hunter2") || !strings.Contains(got, srv.URL()) {
		t.Errorf("logs:\n%s", got)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
