package registrytest

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

const (
	avroA = `{"type":"record","name":"A","fields":[{"name":"x","type":"long"}]}`
	avroB = `{"type":"record","name":"B","fields":[{"name":"a","type":"A"}]}`
)

// call sends one request and returns the status, the Content-Type and the body.
func call(t *testing.T, s *Server, method, path, body string, header ...string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), strings.TrimSpace(string(b))
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// sameJSON reports whether a and b are equal JSON values, keys in any order.
func sameJSON(a, b string) bool {
	var va, vb any
	return json.Unmarshal([]byte(a), &va) == nil && json.Unmarshal([]byte(b), &vb) == nil && reflect.DeepEqual(va, vb)
}

func TestServerAPI(t *testing.T) {
	s := NewServer()
	defer s.Close()
	if _, err := s.Register("a-value", "", avroA); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		method, path, body string
		status             int
		want               string // exact JSON answer
	}{
		{"GET", "/schemas/ids/1", "", 200, mustJSON(map[string]any{"schema": avroA})},
		{"GET", "/schemas/ids/2", "", 404, `{"error_code":40403,"message":"Schema 2 not found"}`},
		{"GET", "/schemas/ids/x", "", 404, `{"error_code":40403,"message":"Schema x not found"}`},
		// Registering B, which references A, under a subject with a slash in it.
		{"POST", "/subjects/b%2Fvalue/versions", mustJSON(map[string]any{
			"schema": avroB, "references": []Reference{{"A", "a-value", 1}}}), 200, `{"id":2}`},
		// The same schema again: same id, no new version.
		{"POST", "/subjects/b%2Fvalue/versions", mustJSON(map[string]any{
			"schema": avroB, "schemaType": "AVRO", "references": []Reference{{"A", "a-value", 1}}}), 200, `{"id":2}`},
		// A under another subject: same id, new subject.
		{"POST", "/subjects/c/versions", mustJSON(map[string]any{"schema": avroA}), 200, `{"id":1}`},
		{"POST", "/subjects/c/versions", mustJSON(map[string]any{"schema": `{"type":"object"}`, "schemaType": "JSON"}), 200, `{"id":3}`},
		{"GET", "/schemas/ids/3", "", 200, `{"schemaType":"JSON","schema":"{\"type\":\"object\"}"}`},
		{"GET", "/schemas/ids/2", "", 200, mustJSON(map[string]any{
			"references": []Reference{{"A", "a-value", 1}}, "schema": avroB})},
		{"GET", "/subjects", "", 200, `["a-value","b/value","c"]`},
		{"GET", "/subjects/c/versions", "", 200, `[1,2]`},
		{"GET", "/subjects/nope/versions", "", 404, `{"error_code":40401,"message":"Subject 'nope' not found."}`},
		{"GET", "/subjects/c/versions/1", "", 200, `{"subject":"c","version":1,"id":1,"schema":` + mustJSON(avroA) + `}`},
		{"GET", "/subjects/c/versions/latest", "", 200, `{"subject":"c","version":2,"id":3,"schemaType":"JSON","schema":"{\"type\":\"object\"}"}`},
		{"GET", "/subjects/c/versions/-1", "", 200, `{"subject":"c","version":2,"id":3,"schemaType":"JSON","schema":"{\"type\":\"object\"}"}`},
		{"GET", "/subjects/b%2Fvalue/versions/1", "", 200, mustJSON(map[string]any{
			"subject": "b/value", "version": 1, "id": 2, "references": []Reference{{"A", "a-value", 1}}, "schema": avroB})},
		{"GET", "/subjects/c/versions/3", "", 404, `{"error_code":40402,"message":"Version 3 not found."}`},
		{"GET", "/subjects/nope/versions/1", "", 404, `{"error_code":40401,"message":"Subject 'nope' not found."}`},
		{"GET", "/subjects/c/versions/zero", "", 422, `{"error_code":42202,"message":"The specified version 'zero' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""}`},
		{"POST", "/subjects/c/versions", mustJSON(map[string]any{"schema": "not json"}), 422, `{"error_code":42201,"message":"Invalid schema: AVRO schema is not valid JSON"}`},
		{"POST", "/subjects/c/versions", mustJSON(map[string]any{"schema": "{}", "schemaType": "XML"}), 422, `{"error_code":42201,"message":"Invalid schema type \"XML\""}`},
		{"POST", "/subjects/c/versions", mustJSON(map[string]any{"schema": avroB, "references": []Reference{{"A", "a-value", 9}}}), 422,
			`{"error_code":42201,"message":"Invalid schema: reference \"A\" to subject \"a-value\" version 9 not found"}`},
		{"POST", "/subjects/c/versions", `{"schema":`, 400, ""},
		{"DELETE", "/subjects/c", "", 404, `{"error_code":404,"message":"HTTP 404 Not Found"}`},
		{"GET", "/config", "", 404, `{"error_code":404,"message":"HTTP 404 Not Found"}`},
	}
	for _, st := range steps {
		status, ct, body := call(t, s, st.method, st.path, st.body)
		if status != st.status || (st.want != "" && !sameJSON(body, st.want)) {
			t.Errorf("%s %s = %d %s\nwant %d %s", st.method, st.path, status, body, st.status, st.want)
		}
		if ct != contentType {
			t.Errorf("%s %s: Content-Type %q", st.method, st.path, ct)
		}
	}
	if got := s.Requests("/subjects/b/value/versions"); got != 2 {
		t.Errorf("Requests(/subjects/b/value/versions) = %d, want 2", got)
	}
	if got := s.TotalRequests(); got != len(steps) {
		t.Errorf("TotalRequests = %d, want %d", got, len(steps))
	}
}

func TestServerAuth(t *testing.T) {
	s := NewServer()
	defer s.Close()
	cases := []struct {
		name   string
		setup  func()
		header []string
		status int
	}{
		{"open", func() {}, nil, 200},
		{"basic ok", func() { s.RequireBasicAuth("key", "secret") }, []string{"Authorization", "Basic a2V5OnNlY3JldA=="}, 200},
		{"basic wrong", func() {}, []string{"Authorization", "Basic a2V5Ondyb25n"}, 401},
		{"basic missing", func() {}, nil, 401},
		{"bearer ok", func() { s.RequireBearerToken("tok") }, []string{"Authorization", "Bearer tok"}, 200},
		{"bearer wrong", func() {}, []string{"Authorization", "Bearer nope"}, 401},
		{"bearer given basic", func() {}, []string{"Authorization", "Basic a2V5OnNlY3JldA=="}, 401},
	}
	for _, tc := range cases {
		tc.setup()
		status, _, body := call(t, s, "GET", "/subjects", "", tc.header...)
		if status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, status, tc.status)
		}
		if status == 401 && body != `{"error_code":401,"message":"Unauthorized"}` {
			t.Errorf("%s: body %s", tc.name, body)
		}
	}
}

func TestServerFailNext(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.FailNext(2, 429)
	s.SetRetryAfter(3)
	for i := range 2 {
		req, _ := http.NewRequest("GET", s.URL()+"/subjects", nil)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" ||
			string(b) != `{"error_code":42901,"message":"injected failure: Too Many Requests"}`+"\n" {
			t.Errorf("request %d: %d Retry-After %q %s", i, resp.StatusCode, resp.Header.Get("Retry-After"), b)
		}
	}
	if status, _, _ := call(t, s, "GET", "/subjects", ""); status != 200 {
		t.Errorf("third request: status %d, want 200", status)
	}
	s.FailNext(1, 500)
	if status, _, body := call(t, s, "GET", "/subjects", ""); status != 500 || !strings.Contains(body, `"error_code":50001`) {
		t.Errorf("injected 500: %d %s", status, body)
	}
	if got := s.Requests("/subjects"); got != 4 {
		t.Errorf("Requests(/subjects) = %d, want 4", got)
	}
}
