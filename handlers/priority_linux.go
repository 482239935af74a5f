package handlers

import "golang.org/x/sys/unix"

// lowestNice is the weakest priority: the kernel runs such a thread when nothing else wants the CPU,
// and gives it about 1.5% of a core beside a busy thread of the default priority.
const lowestNice = 19

// lowerThreadPriority gives the calling thread (on Linux the nice value is a thread's) the lowest
// priority. It cannot fail for a lower priority; if it did, hashing would just run at the usual one.
func lowerThreadPriority() {
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), lowestNice)
}
