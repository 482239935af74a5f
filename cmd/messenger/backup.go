package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"messenger/models/store"
)

func setupBackup(*flag.FlagSet) runFunc {
	return func(ctx context.Context, args []string, out, _ io.Writer) error {
		url, err := databaseURL()
		if err != nil {
			return err
		}
		if err := store.Backup(ctx, url, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(out, "Backed up the database to %s.\n", args[0])
		return nil
	}
}
