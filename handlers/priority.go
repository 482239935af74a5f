package handlers

import "runtime"

// Password hashing runs at the lowest scheduling priority the kernel offers, so that a flood of
// sign-ins slows other sign-ins, never the chat: the kernel gives the CPU to the server's other
// threads first and to hashing what they leave. A thread's priority can be lowered but, without
// privilege, never raised again, so each hash gets a thread of its own that ends with it (creating one
// costs far less than the tens of milliseconds of an argon2id hash). The server raises GOMAXPROCS by
// the number of hashing workers (cmd/messenger), so a hash that waits for the CPU holds a P of its
// own, not one the chat needs.

// hashPanic carries a panic out of the hashing thread to the caller's goroutine.
type hashPanic struct{ value any }

// runAtLowPriority runs fn on a new OS thread of the lowest priority and returns its result; a panic
// in fn is raised again in the caller.
func runAtLowPriority(fn func() error) error {
	done := make(chan any, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine instead of going back, slowed, to the
		// runtime's pool.
		runtime.LockOSThread()
		defer func() {
			if p := recover(); p != nil {
				done <- hashPanic{p}
			}
		}()
		lowerThreadPriority()
		done <- fn()
	}()
	switch r := (<-done).(type) {
	case hashPanic:
		panic(r.value)
	case error:
		return r
	default:
		return nil
	}
}
