package hashproc

import (
	"bytes"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"messenger/internal/syncbuf"
	"messenger/models"
)

// TestMain makes this test binary a hashing child when a pool starts it, as the server's binary is.
func TestMain(m *testing.M) {
	if os.Getenv(EnvVar) == "1" {
		os.Exit(Main())
	}
	os.Exit(m.Run())
}

func newPool(t *testing.T) (*Pool, *syncbuf.Buffer) {
	t.Helper()
	var logs syncbuf.Buffer
	p := NewPool(os.Args[0], slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(p.Close)
	return p, &logs
}

// niceOf reads a process's nice value from /proc/PID/stat (the 19th field).
func niceOf(t *testing.T, pid int) int {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:])) // after "pid (comm)"
	n, err := strconv.Atoi(fields[16])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPoolHashesAndChecksInLowPriorityChildren(t *testing.T) {
	p, logs := newPool(t)
	hash, err := p.Hash("correct horse")
	if err != nil || !strings.HasPrefix(hash, "$argon2id$") {
		t.Fatalf("Hash: %q, %v", hash, err)
	}
	if ok, err := models.VerifyPassword("correct horse", hash); !ok || err != nil {
		t.Fatalf("the child's hash does not verify here: %v %v", ok, err)
	}
	inProcess, err := models.HashPassword("battery staple")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		password, hash string
		want           bool
	}{{"correct horse", hash, true}, {"correct hors", hash, false}, {"battery staple", inProcess, true}, {"", inProcess, false}} {
		if ok, err := p.Verify(c.password, c.hash); ok != c.want || err != nil {
			t.Errorf("Verify(%q): %v %v, want %v", c.password, ok, err, c.want)
		}
	}
	if _, err := p.Verify("x", "$bcrypt$nope"); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("a malformed hash: %v, want the child's error", err)
	}
	pids := p.Pids()
	if len(pids) != 1 {
		t.Fatalf("%d children for calls one after another, want 1", len(pids))
	}
	if n := niceOf(t, pids[0]); n != Nice {
		t.Fatalf("the child runs at nice %d, want %d", n, Nice)
	}
	if pids[0] == os.Getpid() || strings.Contains(logs.String(), "runs in the server process") {
		t.Fatalf("hashing did not leave this process; log:\n%s", logs.String())
	}
}

// A child killed from outside, or one that stops answering (killed after the pool's timeout), costs
// no call: the call runs again on a new child, and the old one is gone.
func TestPoolReplacesAKilledOrStuckChild(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP} {
		t.Run(sig.String(), func(t *testing.T) {
			p, _ := newPool(t)
			p.timeout = 200 * time.Millisecond
			hash, err := p.Hash("pw")
			if err != nil {
				t.Fatal(err)
			}
			old := p.Pids()[0]
			if err := syscall.Kill(old, sig); err != nil {
				t.Fatal(err)
			}
			if ok, err := p.Verify("pw", hash); !ok || err != nil {
				t.Fatalf("after its child got %v: %v %v", sig, ok, err)
			}
			if pids := p.Pids(); len(pids) != 1 || pids[0] == old {
				t.Fatalf("children %v after %d got %v, want one new", pids, old, sig)
			}
			if err := syscall.Kill(old, 0); err == nil {
				t.Fatalf("the old child %d is still there", old)
			}
		})
	}
}

func TestPoolRunsConcurrentCallsOnChildrenOfTheirOwn(t *testing.T) {
	p, _ := newPool(t)
	const calls = 4
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := "password " + strconv.Itoa(i)
			hash, err := p.Hash(pw)
			if err == nil {
				var ok bool
				if ok, err = p.Verify(pw, hash); err == nil && !ok {
					err = os.ErrInvalid
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(p.Pids()); n < 1 || n > calls {
		t.Fatalf("%d children for %d concurrent calls", n, calls)
	}
	p.Close()
	if _, err := p.Hash("late"); err == nil {
		t.Fatal("a call after Close succeeded")
	}
}

// Without a binary to start, hashing happens in this process, and the log says so once.
func TestPoolFallsBackToThisProcess(t *testing.T) {
	var logs syncbuf.Buffer
	p := NewPool("/nonexistent/messenger", slog.New(slog.NewTextHandler(&logs, nil)))
	defer p.Close()
	for range 2 {
		hash, err := p.Hash("pw")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := p.Verify("pw", hash); !ok || err != nil {
			t.Fatalf("Verify: %v %v", ok, err)
		}
	}
	if n := strings.Count(logs.String(), "runs in the server process"); n != 1 {
		t.Fatalf("the fallback logged %d times, want once:\n%s", n, logs.String())
	}
}

func TestServeRefusesWhatIsNotARequest(t *testing.T) {
	var out bytes.Buffer
	// An unknown operation is answered with an error; a field longer than allowed ends the child.
	in := append([]byte{'x', 1, 'a', 0}, 'h', 0xff, 0xff, 0x7f)
	if err := Serve(bytes.NewReader(in), &out); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("Serve: %v", err)
	}
	if out.Len() == 0 || out.Bytes()[0] != answerError || !strings.Contains(out.String(), "unknown request") {
		t.Fatalf("answer to an unknown request: %q", out.String())
	}
}
