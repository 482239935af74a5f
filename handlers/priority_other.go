//go:build !linux

package handlers

// lowerThreadPriority does nothing where a thread's priority is not its own: hashing is still bounded
// by the number of workers.
func lowerThreadPriority() {}
