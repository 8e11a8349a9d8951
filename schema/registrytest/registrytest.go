// Package registrytest is an in-process Confluent Schema Registry for tests and for
// `sluice demo`. It speaks the subset of the REST API that schema.Registry uses, with
// Confluent's JSON shapes and error bodies: registering schemas, schemas by id, subjects
// and their versions. It keeps everything in memory, checks no compatibility, and can be
// told to require credentials, fail requests or answer slowly, and counts the requests it
// gets. `sluice run` never uses it: production talks to a real registry.
package registrytest

import (
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Schema types, as in the "schemaType" field.
const (
	TypeAvro     = "AVRO"
	TypeJSON     = "JSON"
	TypeProtobuf = "PROTOBUF"
)

const contentType = "application/vnd.schemaregistry.v1+json"

// Reference is a schema reference as the registry's JSON carries it.
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// Server is an in-memory schema registry. It is an http.Handler; NewServer and
// NewTLSServer also serve it on a loopback port. Its methods are safe for concurrent use.
type Server struct {
	ts  *httptest.Server
	mux *http.ServeMux

	mu         sync.Mutex
	schemas    []stored         // schemas[id-1]
	ids        map[string]int   // schema content → id, so equal schemas share an id
	subjects   map[string][]int // subject → id of each version, version n at n-1
	user, pass string
	basic      bool
	token      string
	failN      int
	failStatus int
	retryAfter int
	delay      time.Duration
	requests   map[string]int
}

type stored struct {
	Type string
	Text string
	Refs []Reference
}

// NewServer starts a registry on a loopback port over plain HTTP. Close it when done.
func NewServer() *Server {
	s := newServer()
	s.ts = httptest.NewServer(s)
	return s
}

// NewTLSServer starts a registry over HTTPS with cfg, for TLS tests: set Certificates to
// serve a certificate of your own CA (otherwise httptest's is used), and ClientAuth and
// ClientCAs to require client certificates. Close it when done.
func NewTLSServer(cfg *tls.Config) *Server {
	s := newServer()
	s.ts = httptest.NewUnstartedServer(s)
	s.ts.TLS = cfg
	s.ts.StartTLS()
	return s
}

func newServer() *Server {
	s := &Server{
		mux:      http.NewServeMux(),
		ids:      make(map[string]int),
		subjects: make(map[string][]int),
		requests: make(map[string]int),
	}
	s.mux.HandleFunc("GET /schemas/ids/{id}", s.getSchema)
	s.mux.HandleFunc("GET /subjects", s.listSubjects)
	s.mux.HandleFunc("GET /subjects/{subject}/versions", s.listVersions)
	s.mux.HandleFunc("POST /subjects/{subject}/versions", s.postVersion)
	s.mux.HandleFunc("GET /subjects/{subject}/versions/{version}", s.getVersion)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, 404, "HTTP 404 Not Found")
	})
	return s
}

// URL is the base URL of a server started by NewServer or NewTLSServer.
func (s *Server) URL() string { return s.ts.URL }

// Client is an http.Client that trusts a server started by NewTLSServer (and works for
// NewServer). It presents no client certificate.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close shuts the server down, waiting for requests in progress; those held by SetDelay
// end when their client goes away.
func (s *Server) Close() { s.ts.Close() }

// RequireBasicAuth makes every request without these basic-auth credentials fail with
// 401 and Confluent's error body. It replaces RequireBearerToken.
func (s *Server) RequireBasicAuth(user, pass string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.pass, s.basic, s.token = user, pass, true, ""
}

// RequireBearerToken makes every request without "Authorization: Bearer token" fail with
// 401 and Confluent's error body. It replaces RequireBasicAuth.
func (s *Server) RequireBearerToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token, s.basic, s.user, s.pass = token, false, "", ""
}

// FailNext makes the next n requests, whatever their path, fail with status and a
// Confluent error body (error_code status·100+1, as 50001 for 500 and 42901 for 429;
// plain status for 401, 403 and 409). Failures come before the credential check.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// SetRetryAfter makes failures injected with status 429 or 503 carry "Retry-After:
// seconds". Defaults to 0: no header.
func (s *Server) SetRetryAfter(seconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAfter = seconds
}

// SetDelay makes every request wait d before it is answered, or until its client goes
// away. Defaults to 0.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Requests returns how many requests have reached the server for path (as
// "/schemas/ids/1", unescaped, without query), failed and unauthorized ones included.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// TotalRequests returns how many requests have reached the server.
func (s *Server) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.requests {
		n += c
	}
	return n
}

// Register registers a schema under subject without going through HTTP, for setting a
// test up, and returns its id. schemaType "" means Avro. It follows the rules of POST
// /subjects/{subject}/versions: an equal schema gets the id it already has, and a subject
// that already has it gets no new version.
func (s *Server) Register(subject, schemaType, text string, refs ...Reference) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.register(subject, schemaType, text, refs)
}

// ServeHTTP answers one registry request: count it, wait SetDelay, inject a FailNext
// failure, check credentials, then route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.URL.Path]++
	delay := s.delay
	fail, retryAfter := 0, 0
	if s.failN > 0 {
		s.failN--
		fail, retryAfter = s.failStatus, s.retryAfter
	}
	authorized := s.authorized(r)
	s.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if fail != 0 {
		if retryAfter > 0 && (fail == http.StatusTooManyRequests || fail == http.StatusServiceUnavailable) {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		}
		code := fail*100 + 1
		switch fail {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict:
			code = fail
		}
		writeError(w, fail, code, "injected failure: "+http.StatusText(fail))
		return
	}
	if !authorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="registrytest"`)
		writeError(w, http.StatusUnauthorized, 401, "Unauthorized")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// authorized is called with s.mu held.
func (s *Server) authorized(r *http.Request) bool {
	switch {
	case s.basic:
		u, p, ok := r.BasicAuth()
		return ok && equal(u, s.user) && equal(p, s.pass)
	case s.token != "":
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return ok && equal(tok, s.token)
	}
	return true
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// schemaJSON is the shape of GET /schemas/ids/{id} and, with the subject fields, of GET
// /subjects/{subject}/versions/{version}. Like Confluent, it omits schemaType for Avro.
type schemaJSON struct {
	Subject    string      `json:"subject,omitempty"`
	Version    int         `json:"version,omitempty"`
	ID         int         `json:"id,omitempty"`
	SchemaType string      `json:"schemaType,omitempty"`
	References []Reference `json:"references,omitempty"`
	Schema     string      `json:"schema"`
}

func (st stored) json() schemaJSON {
	j := schemaJSON{Schema: st.Text, References: st.Refs}
	if st.Type != TypeAvro {
		j.SchemaType = st.Type
	}
	return j
}

func (s *Server) getSchema(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 || id > len(s.schemas) {
		writeError(w, http.StatusNotFound, 40403, fmt.Sprintf("Schema %s not found", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, s.schemas[id-1].json())
}

func (s *Server) listSubjects(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	subjects := make([]string, 0, len(s.subjects))
	for sub := range s.subjects {
		subjects = append(subjects, sub)
	}
	slices.Sort(subjects)
	writeJSON(w, http.StatusOK, subjects)
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	subject := r.PathValue("subject")
	ids, ok := s.subjects[subject]
	if !ok {
		writeError(w, http.StatusNotFound, 40401, fmt.Sprintf("Subject '%s' not found.", subject))
		return
	}
	versions := make([]int, len(ids))
	for i := range ids {
		versions[i] = i + 1
	}
	writeJSON(w, http.StatusOK, versions)
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	subject, v := r.PathValue("subject"), r.PathValue("version")
	version := -1
	if v != "latest" && v != "-1" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusUnprocessableEntity, 42202,
				fmt.Sprintf("The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", v))
			return
		}
		version = n
	}
	ids, ok := s.subjects[subject]
	if !ok {
		writeError(w, http.StatusNotFound, 40401, fmt.Sprintf("Subject '%s' not found.", subject))
		return
	}
	if version == -1 {
		version = len(ids)
	}
	if version > len(ids) {
		writeError(w, http.StatusNotFound, 40402, fmt.Sprintf("Version %d not found.", version))
		return
	}
	id := ids[version-1]
	j := s.schemas[id-1].json()
	j.Subject, j.Version, j.ID = subject, version, id
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) postVersion(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Schema     string      `json:"schema"`
		SchemaType string      `json:"schemaType"`
		References []Reference `json:"references"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, 400, "Unrecognized request body: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.register(r.PathValue("subject"), req.SchemaType, req.Schema, req.References)
	if err != nil {
		var re *registerError
		if errors.As(err, &re) {
			writeError(w, re.status, re.code, re.msg)
			return
		}
		writeError(w, http.StatusInternalServerError, 50001, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"id": id})
}

type registerError struct {
	status, code int
	msg          string
}

func (e *registerError) Error() string {
	return fmt.Sprintf("%d (error_code %d): %s", e.status, e.code, e.msg)
}

func invalid(format string, args ...any) error {
	return &registerError{http.StatusUnprocessableEntity, 42201, fmt.Sprintf(format, args...)}
}

// register is called with s.mu held.
func (s *Server) register(subject, typ, text string, refs []Reference) (int, error) {
	if typ == "" {
		typ = TypeAvro
	}
	switch {
	case subject == "":
		return 0, invalid("Invalid schema: empty subject")
	case typ != TypeAvro && typ != TypeJSON && typ != TypeProtobuf:
		return 0, invalid("Invalid schema type %q", typ)
	case strings.TrimSpace(text) == "":
		return 0, invalid("Invalid schema: empty")
	case typ != TypeProtobuf && !json.Valid([]byte(text)):
		return 0, invalid("Invalid schema: %s schema is not valid JSON", typ)
	}
	var key strings.Builder
	key.WriteString(typ)
	key.WriteByte(0)
	key.WriteString(text)
	for _, ref := range refs {
		ids, ok := s.subjects[ref.Subject]
		if ref.Name == "" || !ok || ref.Version < 1 || ref.Version > len(ids) {
			return 0, invalid("Invalid schema: reference %q to subject %q version %d not found", ref.Name, ref.Subject, ref.Version)
		}
		fmt.Fprintf(&key, "\x00%s\x00%s\x00%d", ref.Name, ref.Subject, ref.Version)
	}
	id, ok := s.ids[key.String()]
	if !ok {
		s.schemas = append(s.schemas, stored{Type: typ, Text: text, Refs: slices.Clone(refs)})
		id = len(s.schemas)
		s.ids[key.String()] = id
	}
	if slices.Contains(s.subjects[subject], id) {
		return id, nil
	}
	s.subjects[subject] = append(s.subjects[subject], id)
	return id, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do about it
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, struct {
		Code    int    `json:"error_code"`
		Message string `json:"message"`
	}{code, msg})
}
