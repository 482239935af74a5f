// Command messenger serves Messenger: configuration from the environment, database opened and migrated,
// the application built by handlers.New, and a graceful stop on SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"messenger/handlers"
	"messenger/handlers/realtime"
	"messenger/migrations"
	"messenger/models/store"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(log); err != nil {
		log.Error("messenger stopped", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	addr := envOr("ADDR", ":8080")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	db, err := store.Open(openCtx, os.Getenv("DATABASE_URL"), log)
	cancel()
	if err != nil {
		return err
	}
	defer db.Close()

	keys, err := sessionKeys(os.Getenv("SESSION_KEYS"), envOr("SESSION_KEY_FILE", ".messenger-session-key"))
	if err != nil {
		return err
	}
	var broker realtime.Broker
	if db.Dialect() == migrations.Postgres {
		if broker, err = realtime.NewPGBroker(db.URL(), log); err != nil {
			return err
		}
	}
	app, srv, err := handlers.New(handlers.Deps{
		Store: db, Logger: log, SessionKeys: keys, BaseURL: os.Getenv("BASE_URL"), Broker: broker,
	})
	if err != nil {
		return err
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	go srv.Run(runCtx)

	listenErr := make(chan error, 1)
	go func() { listenErr <- app.Listen(addr) }()
	log.Info("messenger listening", "addr", addr, "database", string(db.Dialect()))
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
