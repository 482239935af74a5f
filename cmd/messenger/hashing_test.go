package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"messenger/internal/hashproc"
)

// childrenOf lists the processes whose parent is pid, with their nice values and executables.
func childrenOf(t *testing.T, pid int) map[int]struct {
	nice int
	exe  string
} {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]struct {
		nice int
		exe  string
	}{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:])) // state ppid … nice is the 17th
		if len(f) < 17 || f[1] != strconv.Itoa(pid) {
			continue
		}
		nice, _ := strconv.Atoi(f[16])
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		out[child] = struct {
			nice int
			exe  string
		}{nice, exe}
	}
	return out
}

// The server hashes passwords in children of its own binary at the lowest priority, and they end
// with it.
func TestPasswordsAreHashedInLowPriorityChildren(t *testing.T) {
	srv := startServer(t, "sqlite")
	srv.mu.Lock()
	pid := srv.cmd.Process.Pid
	srv.mu.Unlock()
	if kids := childrenOf(t, pid); len(kids) != 0 {
		t.Fatalf("children before any password was hashed: %v", kids)
	}
	u := newHTTPUser(t, srv)
	u.register("hasher", "Hash", "Er")
	kids := childrenOf(t, pid)
	if len(kids) != 1 {
		t.Fatalf("%d children after a registration, want 1: %v", len(kids), kids)
	}
	bin, err := filepath.EvalSymlinks(srv.bin)
	if err != nil {
		t.Fatal(err)
	}
	for child, k := range kids {
		if k.nice != hashproc.Nice || k.exe != bin {
			t.Fatalf("child %d: nice %d, binary %q; want nice %d, %q", child, k.nice, k.exe, hashproc.Nice, bin)
		}
		if strings.Contains(srv.logs.String(), "runs in the server process") {
			t.Fatalf("the server fell back to hashing itself:\n%s", srv.logs.String())
		}
		if _, err := srv.stop(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(child, 0); err == nil {
			t.Fatalf("the hashing child %d outlived its server", child)
		}
	}
}
