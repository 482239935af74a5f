package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"messenger/handlers"
)

// defaultBaseURL is where `make run` serves; invitation links use it when BASE_URL is unset.
const defaultBaseURL = "http://localhost:8080"

func setupInvite(fs *flag.FlagSet) runFunc {
	expires := fs.Duration("expires", 7*24*time.Hour, "how long the invitation can be used, e.g. 48h")
	return func(ctx context.Context, _ []string, out, errOut io.Writer) error {
		if *expires <= 0 {
			return errors.New("-expires must be a positive duration, e.g. 168h")
		}
		registration, err := handlers.ParseRegistration(os.Getenv("REGISTRATION"))
		if err != nil {
			return err
		}
		db, err := openStore(ctx, quietLogger(errOut))
		if err != nil {
			return err
		}
		defer db.Close()
		token, err := db.CreateInvite(ctx, *expires)
		if err != nil {
			return err
		}
		base := strings.TrimRight(os.Getenv("BASE_URL"), "/")
		if base == "" {
			base = defaultBaseURL
			fmt.Fprintf(errOut, "Note: BASE_URL is not set, so the link points at %s; set BASE_URL to the address people use.\n", base)
		}
		switch registration {
		case handlers.RegistrationOpen:
			fmt.Fprintln(errOut, "Note: REGISTRATION is open, so anyone can register without an invitation; set REGISTRATION=invite.")
		case handlers.RegistrationClosed:
			fmt.Fprintln(errOut, "Note: REGISTRATION is closed, so this invitation will not work until REGISTRATION=invite.")
		}
		fmt.Fprintf(errOut, "One registration, until %s:\n", time.Now().UTC().Add(*expires).Format("2 Jan 2006 15:04 UTC"))
		fmt.Fprintln(out, base+"/register?invite="+token)
		return nil
	}
}
