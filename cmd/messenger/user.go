package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"messenger/handlers/realtime"
	"messenger/migrations"
	"messenger/models"
	"messenger/models/store"
)

func setupUserCreate(fs *flag.FlagSet) runFunc {
	first := fs.String("first-name", "", "first name shown beside the username (default: the username)")
	last := fs.String("last-name", "", "last name (optional)")
	return func(ctx context.Context, args []string, out, errOut io.Writer) error {
		username, msg := models.NormalizeUsername(args[0])
		if msg != "" {
			return errors.New(msg)
		}
		if *first == "" {
			*first = username
		}
		errs := models.FieldErrors{}
		p := models.CheckProfile(*first, *last, "", errs)
		for _, field := range []string{"first_name", "last_name"} {
			if msg := errs[field]; msg != "" {
				return errors.New(msg)
			}
		}
		password, err := readNewPassword(errOut, username)
		if err != nil {
			return err
		}
		hash, err := models.HashPassword(password)
		if err != nil {
			return err
		}
		db, err := openStore(ctx, quietLogger(errOut))
		if err != nil {
			return err
		}
		defer db.Close()
		u := models.User{Username: username, FirstName: p.FirstName, LastName: p.LastName, Password: hash}
		if err := db.CreateUser(ctx, &u); errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("the username %s is taken (or looks like one that is)", username)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(out, "Created %s (user id %d); they can sign in now.\n", u.Username, u.UserID)
		return nil
	}
}

func setupUserDisable(*flag.FlagSet) runFunc {
	return func(ctx context.Context, args []string, out, errOut io.Writer) error {
		return withUser(ctx, args[0], errOut, func(db *store.Store, u models.User) error {
			if u.DisabledAt != nil {
				fmt.Fprintf(errOut, "Note: %s was already disabled (since %s).\n", u.Username, u.DisabledAt.UTC().Format("2 Jan 2006 15:04 UTC"))
			}
			notify, err := sessionNotifier(db)
			if err != nil {
				return err
			}
			ended, err := db.DisableUser(ctx, u.UserID, notify)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Disabled %s: %d session(s) ended, their open pages closed; signing in is refused until \"messenger user enable %s\".\n",
				u.Username, len(ended), u.Username)
			return nil
		})
	}
}

func setupUserEnable(*flag.FlagSet) runFunc {
	return func(ctx context.Context, args []string, out, errOut io.Writer) error {
		return withUser(ctx, args[0], errOut, func(db *store.Store, u models.User) error {
			if u.DisabledAt == nil {
				fmt.Fprintf(errOut, "Note: %s was not disabled.\n", u.Username)
			}
			if err := db.EnableUser(ctx, u.UserID); err != nil {
				return err
			}
			fmt.Fprintf(out, "Enabled %s: they can sign in again.\n", u.Username)
			return nil
		})
	}
}

func setupUserResetPassword(*flag.FlagSet) runFunc {
	return func(ctx context.Context, args []string, out, errOut io.Writer) error {
		return withUser(ctx, args[0], errOut, func(db *store.Store, u models.User) error {
			password, err := readNewPassword(errOut, u.Username)
			if err != nil {
				return err
			}
			hash, err := models.HashPassword(password)
			if err != nil {
				return err
			}
			notify, err := sessionNotifier(db)
			if err != nil {
				return err
			}
			ended, err := db.ResetPassword(ctx, u.UserID, hash, notify)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "New password set for %s: %d session(s) ended; the old password no longer works.\n", u.Username, len(ended))
			return nil
		})
	}
}

// withUser opens the database and runs do with the user named username.
func withUser(ctx context.Context, username string, errOut io.Writer, do func(*store.Store, models.User) error) error {
	db, err := openStore(ctx, quietLogger(errOut))
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := db.UserByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user is called %q", username)
	} else if err != nil {
		return err
	}
	return do(db, u)
}

// sessionNotifier tells the running servers on PostgreSQL which sessions a command ended, so that
// each closes their sockets at once (SQLite servers notice the write themselves). It is nil on SQLite.
func sessionNotifier(db *store.Store) (store.SessionNotifier, error) {
	if db.Dialect() != migrations.Postgres {
		return nil, nil
	}
	broker, err := realtime.NewPGBroker(db.URL(), nil)
	if err != nil {
		return nil, err
	}
	notifier, ok := broker.(realtime.TxNotifier)
	if !ok {
		return nil, errors.New("the PostgreSQL broker cannot notify inside a transaction")
	}
	return func(hashes []string) (string, []string) {
		events := make([]realtime.Event, len(hashes))
		for i, h := range hashes {
			events[i] = realtime.Event{Kind: realtime.KindSessionEnded, SessionID: h}
		}
		return notifier.Notifications(events)
	}, nil
}

// readNewPassword reads a password from standard input: on a terminal a prompt without echo, twice;
// otherwise its first line. It applies the rules of registration.
func readNewPassword(errOut io.Writer, username string) (string, error) {
	var password string
	if fd := int(os.Stdin.Fd()); term.IsTerminal(fd) {
		fmt.Fprint(errOut, "New password: ")
		first, err := term.ReadPassword(fd)
		fmt.Fprintln(errOut)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(errOut, "Again: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(errOut)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(first) != string(again) {
			return "", errors.New("the two passwords differ")
		}
		password = string(first)
	} else {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		return "", errors.New("no password given on standard input")
	}
	if msg := models.CheckPassword(password, username); msg != "" {
		return "", errors.New(msg)
	}
	return password, nil
}
