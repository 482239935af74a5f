//go:build pprof

// Profiling for local measurement only: built with `go build -tags pprof`, the server also serves
// net/http/pprof on PPROF_ADDR (default 127.0.0.1:6060). Release builds do not contain it.
package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	addr := os.Getenv("PPROF_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6060"
	}
	go func() { _ = http.ListenAndServe(addr, nil) }()
}
