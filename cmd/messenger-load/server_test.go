package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var serverBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// spawnConfig returns the flags of a tiny run against a server spawned from a binary built once for
// the whole test binary: 4 users, 2 pairs, 1 s.
func spawnConfig(t *testing.T, args ...string) config {
	t.Helper()
	serverBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "messenger-load-test-*")
		if err != nil {
			serverBin.err = err
			return
		}
		serverBin.path = filepath.Join(dir, "messenger")
		serverBin.out, serverBin.err = exec.Command("go", "build", "-o", serverBin.path, "messenger/cmd/messenger").CombinedOutput()
	})
	if serverBin.err != nil {
		t.Fatalf("go build messenger/cmd/messenger: %v\n%s", serverBin.err, serverBin.out)
	}
	base := []string{"-spawn", "-server-bin", serverBin.path, "-users", "4", "-pairs", "2", "-duration", "1s", "-max-time", "2m"}
	cfg, err := parseFlags(append(base, args...), discard{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func testContext(t *testing.T, cfg config) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.maxTime)
	t.Cleanup(cancel)
	return ctx
}

func TestMain(m *testing.M) {
	code := m.Run()
	if serverBin.path != "" {
		_ = os.RemoveAll(filepath.Dir(serverBin.path))
	}
	os.Exit(code)
}

// noErrors fails the test when the run counted errors or the server logged warnings.
func noErrors(t *testing.T, info runInfo) {
	t.Helper()
	if len(info.Errors) > 0 || len(info.ServerLog) > 0 {
		t.Fatalf("errors %v, server log %v", info.Errors, info.ServerLog)
	}
	if info.Registered != info.Users || info.Users == 0 {
		t.Fatalf("%d of %d users registered", info.Registered, info.Users)
	}
}

// reportSays fails the test unless the text report contains every one of wants.
func reportSays(t *testing.T, r result, wants ...string) {
	t.Helper()
	var text strings.Builder
	r.write(&text)
	for _, want := range wants {
		if !strings.Contains(text.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, text.String())
		}
	}
}
