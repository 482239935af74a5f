// Command messenger runs Messenger. With no subcommand, or "serve", it serves: configuration from the
// environment, database opened and migrated, the application built by handlers.New, and a graceful
// stop on SIGINT or SIGTERM. Other subcommands are administration tasks on the same database.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"messenger/handlers"
	"messenger/handlers/realtime"
	"messenger/internal/hashproc"
	"messenger/internal/logging"
	"messenger/internal/metrics"
	"messenger/migrations"
	"messenger/models/store"
)

// command is one subcommand. setup defines its flags on fs and returns the function that runs it with
// what is left of the arguments after the flags.
type command struct {
	name    string
	args    string // what follows the flags in the usage line: one word per argument the command takes
	summary string
	setup   func(fs *flag.FlagSet) runFunc
}

// runFunc runs a subcommand with as many arguments as its usage line names: its result goes to out (a
// link, a table), notes for the person to errOut.
type runFunc func(ctx context.Context, args []string, out, errOut io.Writer) error

// commands are the subcommands, in the order the usage lists them. The first one runs when none is named.
var commands = []command{
	{name: "serve", summary: "run the server (the default when no subcommand is given)", setup: setupServe},
	{name: "migrate", summary: "apply the database migrations that are due, say which, and exit", setup: setupMigrate},
	{name: "invite", summary: "create a single-use invitation and print its link (for REGISTRATION=invite)", setup: setupInvite},
	{name: "user create", args: " USERNAME", summary: "create an account; the password is read from standard input (a prompt without echo on a terminal)", setup: setupUserCreate},
	{name: "user disable", args: " USERNAME", summary: "stop an account signing in and end its sessions and open pages at once", setup: setupUserDisable},
	{name: "user enable", args: " USERNAME", summary: "let a disabled account sign in again", setup: setupUserEnable},
	{name: "user reset-password", args: " USERNAME", summary: "set a new password read from standard input and end the account's sessions", setup: setupUserResetPassword},
	{name: "backup", args: " FILE", summary: "write a consistent copy of the SQLite database to a new FILE while the server runs", setup: setupBackup},
	{name: "version", summary: "print the version and the VCS revision the binary was built from", setup: setupVersion},
}

func main() {
	if os.Getenv(hashproc.EnvVar) == "1" { // a child of a server, hashing passwords (serve)
		os.Exit(hashproc.Main())
	}
	os.Exit(runCLI(os.Args[1:], os.Stdout, os.Stderr))
}

// runCLI runs the subcommand named by args and returns the exit status: 0 done, 1 failed, 2 misused.
// -h or --help anywhere prints usage and does nothing else.
func runCLI(args []string, stdout, stderr io.Writer) int {
	cmd := commands[0]
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if wantsHelp(args) {
			usage(stdout)
			return 0
		}
	} else {
		words := 0
		for _, c := range commands {
			name := strings.Fields(c.name)
			if len(name) <= len(args) && slices.Equal(name, args[:len(name)]) {
				cmd, words = c, len(name)
			}
		}
		switch {
		case args[0] == "help" || (words == 0 && wantsHelp(args)):
			usage(stdout)
			return 0
		case words == 0:
			fmt.Fprintf(stderr, "messenger: unknown command %q\n\n", strings.Join(args[:min(2, len(args))], " "))
			usage(stderr)
			return 2
		}
		args = args[words:]
	}
	fs := flag.NewFlagSet("messenger "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	run := cmd.setup(fs)
	fs.Usage = func() { commandUsage(fs.Output(), cmd, fs) }
	if wantsHelp(args) {
		fs.SetOutput(stdout)
		fs.Usage()
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if want := strings.Fields(cmd.args); fs.NArg() != len(want) {
		if len(want) == 0 {
			fmt.Fprintf(stderr, "messenger %s: unexpected argument %q\n\n", cmd.name, fs.Arg(0))
		} else {
			fmt.Fprintf(stderr, "messenger %s: expected %s\n\n", cmd.name, strings.Join(want, " "))
		}
		fs.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, fs.Args(), stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "messenger %s: %v\n", cmd.name, err)
		return 1
	}
	return 0
}

// wantsHelp reports whether -h, -help or --help is among the arguments, wherever it is: asking for
// help must never start a server or touch a database.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "--h", "-help", "--help":
			return true
		}
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprint(w, "Messenger: a one-to-one messenger for the browser.\n\nUsage:\n  messenger [command] [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-20s %s\n", c.name+c.args, c.summary)
	}
	fmt.Fprint(w, "\nConfiguration comes from the environment (ADDR, DATABASE_URL, BASE_URL, REGISTRATION, ...;\n"+
		"see README.md). Run \"messenger COMMAND -h\" for a command's flags.\n")
}

func commandUsage(w io.Writer, c command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage:\n  messenger %s [flags]%s\n\n%s.\n", c.name, c.args, upperFirst(c.summary))
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprint(w, "\nFlags:\n")
		fs.PrintDefaults()
	}
	fmt.Fprint(w, "\nConfiguration comes from the environment; see README.md.\n")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// newLogger is the process's logger, as LOG_LEVEL and LOG_FORMAT say.
func newLogger() (*slog.Logger, error) {
	return logging.New(os.Stderr, os.Getenv("LOG_LEVEL"), os.Getenv("LOG_FORMAT"))
}

// quietLogger is for administration commands: only problems are worth a log line, their output is
// what they print. They keep LOG_FORMAT, so a JSON log collector reads their lines too; an unknown
// format falls back to text, since the command's own error says what went wrong.
func quietLogger(w io.Writer) *slog.Logger {
	if log, err := logging.New(w, "warn", os.Getenv("LOG_FORMAT")); err == nil {
		return log
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// dataDir is DATA_DIR (unset: the working directory), created readable by its owner only when it is
// missing: the SQLite file, the session key file and attachments live there unless their own
// variables say otherwise, so a service never writes to the directory it happens to start in.
func dataDir() (string, error) {
	dir := os.Getenv("DATA_DIR")
	if dir == "" {
		return ".", nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("DATA_DIR: %w", err)
	}
	return dir, nil
}

// databaseURL is DATABASE_URL, or when it is unset the SQLite file messenger.db in DATA_DIR.
func databaseURL() (string, error) {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u, nil
	}
	dir, err := dataDir()
	if err != nil {
		return "", err
	}
	return "sqlite:" + filepath.Join(dir, "messenger.db"), nil
}

// openStore opens and migrates the database databaseURL names.
func openStore(ctx context.Context, log *slog.Logger) (*store.Store, error) {
	url, err := databaseURL()
	if err != nil {
		return nil, err
	}
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return store.Open(openCtx, url, log)
}

func setupServe(*flag.FlagSet) runFunc {
	return func(ctx context.Context, _ []string, _, _ io.Writer) error {
		log, err := newLogger()
		if err != nil {
			return err
		}
		return serve(ctx, log)
	}
}

func serve(ctx context.Context, log *slog.Logger) error {
	addr := envOr("ADDR", ":8080")
	registration, err := handlers.ParseRegistration(os.Getenv("REGISTRATION"))
	if err != nil {
		return err
	}
	flow, err := flowLimitsFromEnv()
	if err != nil {
		return err
	}
	deps, err := limitsFromEnv()
	if err != nil {
		return err
	}
	if deps.Attachments, err = attachmentLimitsFromEnv(); err != nil {
		return err
	}
	dir, err := dataDir()
	if err != nil {
		return err
	}
	deps.AttachmentsDir = attachmentsDir(dir)
	db, err := openStore(ctx, log)
	if err != nil {
		return err
	}
	defer db.Close()

	keys, err := sessionKeys(os.Getenv("SESSION_KEYS"), envOr("SESSION_KEY_FILE", filepath.Join(dir, ".messenger-session-key")))
	if err != nil {
		return err
	}
	var broker realtime.Broker
	if db.Dialect() == migrations.Postgres {
		if broker, err = realtime.NewPGBroker(db.URL(), log); err != nil {
			return err
		}
	}
	deps.Store, deps.Logger, deps.SessionKeys, deps.BaseURL, deps.Broker = db, log, keys, os.Getenv("BASE_URL"), broker
	deps.Registration, deps.Flow, deps.Metrics = registration, flow, metrics.New()
	// Passwords are hashed in children of this binary at the lowest priority, so that a rush of
	// sign-ins waits for the CPU instead of the chats beside it.
	if exe, err := os.Executable(); err == nil {
		passwords := hashproc.NewPool(exe, log)
		defer passwords.Close()
		deps.Passwords = passwords
	} else {
		log.Warn("password hashing runs in the server process", "err", err)
	}
	app, srv, err := handlers.New(deps)
	if err != nil {
		return err
	}
	if addr := os.Getenv("METRICS_ADDR"); addr != "" {
		stopMetrics, err := deps.Metrics.Serve(addr, log)
		if err != nil {
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		defer stopMetrics()
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	go srv.Run(runCtx)

	listenErr := make(chan error, 1)
	go func() { listenErr <- app.Listen(addr) }()
	log.Info("messenger listening", "addr", addr, "database", string(db.Dialect()), "registration", string(registration))
	select {
	case err := <-listenErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancelShut := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShut()
	srv.Shutdown(shutCtx)
	if err := app.ShutdownWithContext(shutCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	return nil
}

// limitsFromEnv reads what bounds a client's cost: LOGIN_LIMIT and REGISTER_LIMIT (unset: the
// defaults; 0: no limit) and TRUSTED_PROXIES (comma-separated CIDRs or addresses; unset: none).
func limitsFromEnv() (handlers.Deps, error) {
	var d handlers.Deps
	for key, dst := range map[string]*int{"LOGIN_LIMIT": &d.LoginLimit, "REGISTER_LIMIT": &d.RegisterLimit} {
		n, err := envLimit(key, false)
		if err != nil {
			return d, err
		}
		*dst = int(n)
	}
	for _, part := range strings.Split(os.Getenv("TRUSTED_PROXIES"), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(part)
		if err != nil {
			addr, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return d, fmt.Errorf("TRUSTED_PROXIES: %q is not a CIDR (10.0.0.0/8) or an address", part)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		d.TrustedProxies = append(d.TrustedProxies, prefix.Masked())
	}
	return d, nil
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// sessionKeys reads the cookie-signing keys: SESSION_KEYS (comma-separated hex, 32 bytes or more each;
// the first signs, all verify) or a key file, created once with a random key and kept, so a restart
// never signs everyone out.
func sessionKeys(fromEnv, path string) ([][]byte, error) {
	raw := fromEnv
	if raw == "" {
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			key := make([]byte, 32)
			if _, err := rand.Read(key); err != nil {
				return nil, err
			}
			raw = hex.EncodeToString(key)
			if err := os.WriteFile(path, []byte(raw+"\n"), 0o600); err != nil {
				return nil, fmt.Errorf("session key file %s: %w", path, err)
			}
		case err != nil:
			return nil, fmt.Errorf("session key file %s: %w", path, err)
		default:
			raw = string(b)
		}
	}
	var keys [][]byte
	for _, part := range strings.Split(strings.TrimSpace(raw), ",") {
		key, err := hex.DecodeString(strings.TrimSpace(part))
		if err != nil || len(key) < 32 {
			return nil, errors.New("session keys must be hex strings of at least 32 bytes (64 hex digits)")
		}
		keys = append(keys, key)
	}
	return keys, nil
}
