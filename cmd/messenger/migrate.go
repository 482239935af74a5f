package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

func setupMigrate(*flag.FlagSet) runFunc {
	return func(ctx context.Context, _ []string, out, errOut io.Writer) error {
		db, err := openStore(ctx, quietLogger(errOut))
		if err != nil {
			return err
		}
		defer db.Close()
		res := db.Migrated()
		if len(res.Applied) == 0 {
			fmt.Fprintf(out, "Nothing to apply: the %s schema is at version %d.\n", db.Dialect(), res.Version)
			return nil
		}
		names := make([]string, len(res.Applied))
		for i, v := range res.Applied {
			names[i] = fmt.Sprintf("%05d", v)
		}
		fmt.Fprintf(out, "Applied %s; the %s schema is at version %d.\n", strings.Join(names, ", "), db.Dialect(), res.Version)
		return nil
	}
}
