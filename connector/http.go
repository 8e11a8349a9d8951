package connector

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveHTTP serves /metrics (Prometheus), /healthz (the poll loop is alive), /readyz
// (consuming, not shutting down) and, with metrics.pprof, /debug/pprof/ on
// metrics.listen.
func (c *Connector) serveHTTP() (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(c.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		last := time.Unix(0, c.lastPoll.Load())
		if c.lastPoll.Load() != 0 && time.Since(last) > time.Minute {
			http.Error(w, fmt.Sprintf("poll loop stuck since %s", last.Format(time.RFC3339)), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !c.ready.Load() {
			http.Error(w, "not consuming", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if c.cfg.Metrics.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	ln, err := net.Listen("tcp", c.cfg.Metrics.Listen)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", c.cfg.Metrics.Listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	c.log.Info("serving /metrics, /healthz, /readyz", "address", ln.Addr().String(), "pprof", c.cfg.Metrics.Pprof)
	return srv, nil
}
