package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"messenger/models/store/storetest"
)

// Two instances of the server on one PostgreSQL, sharing a session key: with -url listing both, the
// two people of each pair are on different instances, so every message crosses from one to the
// other (through the database's NOTIFY), and the server figures are the two processes' sums.
func TestChatAcrossTwoInstances(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	cfg := spawnConfig(t) // builds the server once
	ctx := testContext(t, cfg)
	var urls, pids, logs []string
	keyFile := ""
	for range 2 {
		srv, err := startServer(ctx, serverBin.path, "postgres", dbURL, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			srv.stop()
			srv.remove()
		})
		if keyFile == "" {
			keyFile = filepath.Join(srv.dir, "session-key")
		}
		urls, pids, logs = append(urls, srv.url), append(pids, strconv.Itoa(srv.pid())), append(logs, srv.logPath)
	}
	cfg, err := parseFlags([]string{"-url", strings.Join(urls, ","), "-pid", strings.Join(pids, ","),
		"-users", "4", "-pairs", "2", "-duration", "2s", "-rate", "2", "-max-time", "2m"}, discard{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := run(ctx, cfg, discard{})
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, rep.runInfo)
	d := rep.Delivery
	if d.Sent == 0 || d.Delivered != d.Sent || d.Lost != 0 || d.Duplicates != 0 || !rep.complete() {
		t.Fatalf("across two instances: %+v", d)
	}
	one, err := readProc(rep.cfg.pids[0])
	if err != nil || rep.ServerAfter == nil || rep.ServerAfter.Threads <= one.Threads {
		t.Fatalf("the server figures are not the sum of both processes: after %+v, first alone %+v (%v)", rep.ServerAfter, one, err)
	}
	reportSays(t, rep, urls[0]+", "+urls[1])
	for i, path := range logs { // each instance upgraded sockets of its own (two, one per pair)
		if log, err := os.ReadFile(path); err != nil || bytes.Count(log, []byte("route=/ws status=101")) != 2 {
			t.Fatalf("instance %d did not open two sockets (%v); its log:\n%s", i+1, err, log)
		}
	}
}
