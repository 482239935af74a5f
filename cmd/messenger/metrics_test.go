package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// METRICS_ADDR serves /metrics on a listener of its own, never on the public address; unset, nothing
// serves metrics.
func TestMetricsAddr(t *testing.T) {
	metricsAddr := freeAddr(t)
	srv := startServer(t, "sqlite", "METRICS_ADDR="+metricsAddr)
	u := newHTTPUser(t, srv)
	u.register("alice", "Alice", "Liddell")
	code, body := httpGet(t, "http://"+metricsAddr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics on METRICS_ADDR: %d", code)
	}
	for _, want := range []string{
		"messenger_sockets_open 0", `messenger_http_request_duration_seconds_count{method="POST",route="/register",status="303"} 1`,
		"go_goroutines", "process_resident_memory_bytes", `go_sql_in_use_connections{db_name="reader"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the metrics lack %q", want)
		}
	}
	if code, _ := httpGet(t, "http://"+metricsAddr+"/"); code != http.StatusNotFound {
		t.Errorf("GET / on METRICS_ADDR: %d, want 404 (only /metrics is served there)", code)
	}
	if code, _ := httpGet(t, srv.URL+"/metrics"); code != http.StatusNotFound {
		t.Errorf("GET /metrics on the public address: %d, want 404", code)
	}
	if !strings.Contains(srv.logs.String(), "metrics listening") {
		t.Errorf("the log does not say where metrics are served:\n%s", srv.logs.String())
	}

	quiet := startServer(t, "sqlite")
	if code, _ := httpGet(t, quiet.URL+"/metrics"); code != http.StatusNotFound {
		t.Errorf("without METRICS_ADDR, GET /metrics on the public address: %d, want 404", code)
	}
	if strings.Contains(quiet.logs.String(), "metrics") {
		t.Errorf("without METRICS_ADDR the server mentions metrics:\n%s", quiet.logs.String())
	}
	if got := quiet.listeningPorts(t); len(got) != 1 {
		t.Errorf("without METRICS_ADDR the server listens on %d TCP ports (%v), want 1", len(got), got)
	}
	if got := srv.listeningPorts(t); len(got) != 2 {
		t.Errorf("with METRICS_ADDR the server listens on %d TCP ports (%v), want 2", len(got), got)
	}
}

// listeningPorts lists the TCP ports the server process listens on, from /proc: its sockets' inodes
// among the listening sockets of /proc/net/tcp and tcp6.
func (s *testServer) listeningPorts(t *testing.T) []string {
	t.Helper()
	s.mu.Lock()
	pid := s.cmd.Process.Pid
	s.mu.Unlock()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("the server's descriptors: %v", err)
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(target, "socket:["); ok {
			mine[strings.TrimSuffix(inode, "]")] = true
		}
	}
	var ports []string
	for _, table := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) > 9 && f[3] == "0A" && mine[f[9]] {
				ports = append(ports, f[1])
			}
		}
	}
	return ports
}
