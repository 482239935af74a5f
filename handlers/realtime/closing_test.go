package realtime

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"messenger/internal/syncbuf"
)

// A page that goes away while its socket's writer is reading the database for it is ordinary: the
// render fails with the socket's cancelled context, and that is a DEBUG line, not an ERROR. A render
// that fails on an open socket still is an error.
func TestClosingSocketIsNoError(t *testing.T) {
	var logs syncbuf.Buffer
	h := newTestHub(t, HubConfig{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	conn := newFakeConn()
	sock := h.Register(1, "", conn)
	started := make(chan struct{})
	sock.Do(func(ctx context.Context, _ *Socket) ([]byte, error) {
		close(started)
		<-ctx.Done() // a query that the closing socket cancels
		return nil, ctx.Err()
	})
	<-started
	h.Unregister(sock) // returns once the writer has finished, and logged
	if log := logs.String(); strings.Contains(log, "level=ERROR") || !strings.Contains(log, `level=DEBUG msg="realtime: nothing written, socket closed"`) {
		t.Fatalf("a socket closing under a render: want one DEBUG line and no ERROR, got:\n%s", log)
	}

	open := h.Register(2, "", newFakeConn())
	done := make(chan struct{})
	open.Do(func(context.Context, *Socket) ([]byte, error) { return nil, context.DeadlineExceeded })
	open.Do(func(context.Context, *Socket) ([]byte, error) { close(done); return nil, nil })
	<-done
	if log := logs.String(); !strings.Contains(log, `level=ERROR msg="realtime: nothing written" user_id=2`) {
		t.Fatalf("a render failing on an open socket is not an ERROR:\n%s", log)
	}
}
