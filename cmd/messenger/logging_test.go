package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
)

// LOG_FORMAT=json makes every line the server writes a JSON object, the access lines among them;
// LOG_LEVEL=warn leaves the access lines out.
func TestLogFormatAndLevel(t *testing.T) {
	for _, tc := range []struct {
		level      string
		wantAccess bool
	}{{"info", true}, {"warn", false}} {
		t.Run(tc.level, func(t *testing.T) {
			srv := startServer(t, "sqlite", "LOG_FORMAT=json", "LOG_LEVEL="+tc.level)
			u := newHTTPUser(t, srv)
			u.register("alice", "Alice", "Liddell")
			if code, _ := u.get("/"); code != http.StatusOK {
				t.Fatalf("GET /: %d", code)
			}
			if _, err := srv.stop(syscall.SIGTERM); err != nil {
				t.Fatalf("stop: %v", err)
			}
			access := 0
			for _, line := range strings.Split(strings.TrimSpace(srv.logs.String()), "\n") {
				if strings.HasPrefix(line, "----- ") {
					continue // the harness's own markers
				}
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("a line is not JSON: %q", line)
				}
				if rec["msg"] == "request" {
					access++
					if rec["route"] == nil || rec["request_id"] == nil || rec["status"] == nil {
						t.Errorf("an access line lacks route, request_id or status: %q", line)
					}
				} else if level := rec["level"]; tc.level == "warn" && level != "WARN" && level != "ERROR" {
					t.Errorf("LOG_LEVEL=warn let through: %q", line)
				}
			}
			if got := access > 0; got != tc.wantAccess {
				t.Fatalf("LOG_LEVEL=%s: %d access lines, want some: %v", tc.level, access, tc.wantAccess)
			}
		})
	}
}

// A LOG_LEVEL or LOG_FORMAT the server does not know stops it at start, with a reason, before it
// creates anything.
func TestBadLogSettingsStopTheServer(t *testing.T) {
	for _, env := range []string{"LOG_LEVEL=loud", "LOG_FORMAT=xml"} {
		dir := t.TempDir()
		code, _, stderr := runBinary(t, dir, []string{"ADDR=127.0.0.1:0", env})
		name := strings.SplitN(env, "=", 2)[0]
		if code != 1 || !strings.Contains(stderr, name) {
			t.Errorf("%s: exit %d, stderr %q; want 1 and a reason naming %s", env, code, stderr, name)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s: the refused start left %d files", env, len(entries))
		}
	}
}

// Administration commands log only problems, in LOG_FORMAT; an unknown format falls back to text.
func TestQuietLoggerKeepsTheFormat(t *testing.T) {
	for format, want := range map[string]string{"json": `{"time":`, "": "time=", "xml": "time="} {
		t.Setenv("LOG_FORMAT", format)
		var out bytes.Buffer
		log := quietLogger(&out)
		log.Info("ordinary")
		log.Warn("a problem")
		if got := out.String(); !strings.HasPrefix(got, want) || strings.Contains(got, "ordinary") || !strings.Contains(got, "a problem") {
			t.Errorf("LOG_FORMAT=%q: logged %q; want one warning starting %q", format, got, want)
		}
	}
}
