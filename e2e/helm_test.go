package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/sluicelake/sluice/connector"
)

// helmBinary returns .tools/bin/helm, building it from tools/helm (Helm pinned there)
// when make has not.
func helmBinary(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, ".tools", "bin", "helm")
	if st, err := os.Stat(bin); err == nil && st.Mode().IsRegular() {
		return bin
	}
	cmd := exec.Command("go", "build", "-o", bin, "helm.sh/helm/v3/cmd/helm")
	cmd.Dir = filepath.Join(root, "tools", "helm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build helm: %v\n%s", err, out)
	}
	return bin
}

func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.Bytes()
}

// manifest is the part of a rendered Kubernetes object the test looks at.
type manifest struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Template struct {
			Spec struct {
				TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
				Containers                    []struct {
					Args  []string `yaml:"args"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					LivenessProbe struct {
						HTTPGet struct {
							Path string `yaml:"path"`
						} `yaml:"httpGet"`
					} `yaml:"livenessProbe"`
					ReadinessProbe struct {
						HTTPGet struct {
							Path string `yaml:"path"`
						} `yaml:"httpGet"`
					} `yaml:"readinessProbe"`
					EnvFrom []struct {
						SecretRef struct {
							Name string `yaml:"name"`
						} `yaml:"secretRef"`
					} `yaml:"envFrom"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// render runs helm template with flags (--set …) and returns the objects by kind.
func render(t *testing.T, flags ...string) map[string]manifest {
	t.Helper()
	args := append([]string{"template", "sluice", "../deploy/helm/sluice"}, flags...)
	out := map[string]manifest{}
	for _, doc := range strings.Split(string(helm(t, args...)), "\n---") {
		var m manifest
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("rendered manifest: %v\n%s", err, doc)
		}
		if m.Kind != "" {
			out[m.Kind] = m
		}
	}
	return out
}

// The Helm chart lints, and renders (StatefulSet and Deployment, ServiceMonitor on)
// to manifests whose configuration Sluice validates, with probes on the health
// endpoints, the metrics port from the config, a grace period longer than
// shutdown_timeout, static membership by pod name, and credentials from Secrets only.
func TestHelmChart(t *testing.T) {
	helm(t, "lint", "--strict", "../deploy/helm/sluice")
	t.Run("configText", func(t *testing.T) {
		text := "name: verbatim\nkafka: {bootstrap_servers: \"k:9092\", instance_id: \"${POD_NAME}\"}\nmetrics: {listen: \":9090\"}\n" +
			"tables:\n  - {name: t, topics: [t], location: /lake/t, schema: [{name: ts, type: timestamp}],\n     columns: {hour: \"hour(ts)\", day: \"date(ts)\"}}\n"
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		objs := render(t, "--set-file", "configText="+path)
		got := objs["ConfigMap"].Data["config.yaml"]
		if strings.TrimSpace(got) != strings.TrimSpace(text) {
			t.Fatalf("configText rendered as\n%s\nwant it verbatim:\n%s", got, text)
		}
		t.Setenv("POD_NAME", "sluice-0")
		cfg, err := connector.ParseConfig("configmap config.yaml", []byte(got))
		if err != nil {
			t.Fatal(err)
		}
		if cols := cfg.Tables[0].Columns; len(cols) != 2 || cols[0].Key != "hour" {
			t.Fatalf("derived columns %v: want hour, then day, in the text's order", cols)
		}
	})
	for _, kind := range []string{"StatefulSet", "Deployment"} {
		t.Run(kind, func(t *testing.T) {
			objs := render(t, "--set", "kind="+kind, "--set", "serviceMonitor.enabled=true", "--set", "shutdownTimeoutSeconds=45")
			for _, k := range []string{"ConfigMap", kind, "Service", "ServiceAccount", "ServiceMonitor"} {
				if _, ok := objs[k]; !ok {
					t.Fatalf("no %s rendered", k)
				}
			}
			text := objs["ConfigMap"].Data["config.yaml"]
			t.Setenv("POD_NAME", "sluice-0")
			t.Setenv("S3_ACCESS_KEY_ID", "id")
			t.Setenv("S3_SECRET_ACCESS_KEY", "secret")
			cfg, err := connector.ParseConfig("configmap config.yaml", []byte(text))
			if err != nil {
				t.Fatalf("the rendered config does not validate: %v\n%s", err, text)
			}
			if strings.Contains(text, "secret\n") || !strings.Contains(text, "${S3_SECRET_ACCESS_KEY}") {
				t.Fatalf("credentials must come from the environment, not the ConfigMap:\n%s", text)
			}
			wantInstance := ""
			if kind == "StatefulSet" {
				wantInstance = "sluice-0"
			}
			if cfg.Kafka.InstanceID != wantInstance {
				t.Fatalf("kafka.instance_id %q, want %q", cfg.Kafka.InstanceID, wantInstance)
			}
			if time.Duration(cfg.ShutdownTimeout) != 45*time.Second {
				t.Fatalf("shutdown_timeout %v, want 45s", time.Duration(cfg.ShutdownTimeout))
			}
			pod := objs[kind].Spec.Template.Spec
			if pod.TerminationGracePeriodSeconds <= 45 {
				t.Fatalf("terminationGracePeriodSeconds %d: want more than shutdown_timeout (45 s)", pod.TerminationGracePeriodSeconds)
			}
			c := pod.Containers[0]
			if len(c.Ports) != 1 || cfg.Metrics.Listen != ":"+strconv.Itoa(c.Ports[0].ContainerPort) {
				t.Fatalf("metrics.listen %q, container ports %+v", cfg.Metrics.Listen, c.Ports)
			}
			if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Fatalf("probes %+v %+v", c.LivenessProbe, c.ReadinessProbe)
			}
			if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef.Name != "sluice-credentials" {
				t.Fatalf("envFrom %+v", c.EnvFrom)
			}
			if strings.Join(c.Args, " ") != "run -c /etc/sluice/config.yaml" {
				t.Fatalf("args %v", c.Args)
			}
		})
	}
}
