package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

func setupVersion(*flag.FlagSet) runFunc {
	return func(_ context.Context, _ []string, out, _ io.Writer) error {
		info, ok := debug.ReadBuildInfo()
		if !ok {
			info = &debug.BuildInfo{Main: debug.Module{Version: "(unknown)"}}
		}
		writeVersion(out, info)
		return nil
	}
}

// writeVersion prints the module version and, when the build recorded them (go build in a git
// checkout does; go run and builds outside one do not), the VCS revision, its time and whether the
// working tree had uncommitted changes.
func writeVersion(w io.Writer, info *debug.BuildInfo) {
	vcs := map[string]string{}
	for _, s := range info.Settings {
		vcs[s.Key] = s.Value
	}
	fmt.Fprintf(w, "messenger %s\n", info.Main.Version)
	if rev := vcs["vcs.revision"]; rev != "" {
		fmt.Fprintf(w, "revision  %s\n", rev)
		fmt.Fprintf(w, "time      %s\n", vcs["vcs.time"])
		fmt.Fprintf(w, "modified  %s\n", vcs["vcs.modified"])
	} else {
		fmt.Fprint(w, "revision  unknown (built without VCS information, e.g. by go run)\n")
	}
	fmt.Fprintf(w, "go        %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
