package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The real binary exits with a code that says what kind of failure stopped it, so that
// an orchestrator can tell a configuration to fix from a peer to wait for.
func TestExitCodes(t *testing.T) {
	cluster := newCluster(t, "events", 1)
	produce(t, cluster, events("events", 0, 20)...)
	produce(t, cluster, &kgo.Record{Topic: "events", Value: []byte(`{"id":"not a number"}`)})
	dir := t.TempDir()
	unsupported := filepath.Join(dir, "future")
	if err := os.MkdirAll(filepath.Join(unsupported, "_delta_log"), 0o755); err != nil {
		t.Fatal(err)
	}
	v0 := `{"protocol":{"minReaderVersion":9,"minWriterVersion":9}}
{"metaData":{"id":"f","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[{\"name\":\"id\",\"type\":\"long\",\"nullable\":false,\"metadata\":{}}]}","partitionColumns":[],"configuration":{},"createdTime":1}}
`
	if err := os.WriteFile(filepath.Join(unsupported, "_delta_log", "00000000000000000000.json"), []byte(v0), 0o644); err != nil {
		t.Fatal(err)
	}
	config := func(brokers, location string) string {
		return fmt.Sprintf(`name: codes
kafka: {bootstrap_servers: %q}
startup_timeout: 2s
tables:
  - {name: events, topics: [events], location: %q, schema: [{name: id, type: long, nullable: false}]}
`, brokers, location)
	}
	for _, c := range []struct {
		name   string
		config string
		want   int
	}{
		{"config error", "name: x\ntables: []\n", 2},
		{"kafka unreachable", config("127.0.0.1:1", filepath.Join(dir, "a")), 3},
		{"bad message", config(cluster.ListenAddrs()[0], filepath.Join(dir, "b")), 4},
		{"unsupported table", config(cluster.ListenAddrs()[0], unsupported), 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sluice.yaml")
			if err := os.WriteFile(path, []byte(c.config), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(sluiceBinary(t), "run", "-c", path, "--until-caught-up").CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != c.want {
				t.Fatalf("exit %v, want code %d\n%s", err, c.want, out)
			}
		})
	}
}
