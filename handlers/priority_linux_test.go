package handlers

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// threadNice is the nice value of the calling thread (the raw system call answers 20 - nice).
func threadNice() (int, error) {
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	return 20 - prio, err
}

// Hashing runs on threads of the lowest priority, each ended with its hash: a flood of sign-ins gets
// the CPU the chat leaves, and no other goroutine ever runs on a slowed thread.
func TestHashingRunsAtTheLowestPriority(t *testing.T) {
	ts := startServer(t, testOptions{})
	runtime.LockOSThread()
	base, err := threadNice()
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
	if base == lowestNice {
		t.Fatalf("the test runs at nice %d already: it cannot tell hashing apart", base)
	}
	for i := range 20 {
		err := ts.srv.hasher.do(t.Context(), func() error {
			nice, err := threadNice()
			if err == nil && nice != lowestNice {
				err = fmt.Errorf("hashing at nice %d, want %d", nice, lowestNice)
			}
			return err
		})
		if err != nil {
			t.Fatalf("hash %d: %v", i, err)
		}
	}
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if nice, err := threadNice(); err != nil || nice != base {
				t.Errorf("a thread of the runtime's pool at nice %d (%v) after hashing, want %d", nice, err, base)
			}
		})
	}
	wg.Wait()
}

// A panic while hashing is raised in the caller's goroutine, where the request's recovery answers it.
func TestHashingPanicReachesTheCaller(t *testing.T) {
	defer func() {
		if p := recover(); p != "hash failed" {
			t.Fatalf("recovered %v, want the hashing panic", p)
		}
	}()
	_ = runAtLowPriority(func() error { panic("hash failed") })
	t.Fatal("runAtLowPriority returned after a panic")
}
