package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is a Messenger process this tool started (-spawn).
type server struct {
	cmd     *exec.Cmd
	dir     string // temporary: key file, SQLite file, log
	logPath string
	url     string
	exited  chan struct{}
	waitErr error
}

// startServer builds the server when bin is empty, starts it on a free loopback port with its own
// key file (and SQLite file), and waits until /readyz answers. A keyFile shares another instance's
// session key (the key file in its dir), so a session signed by one is good on the other.
func startServer(ctx context.Context, bin, db, databaseURL, keyFile string) (*server, error) {
	dir, err := os.MkdirTemp("", "messenger-load-*")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, logPath: filepath.Join(dir, "server.log"), exited: make(chan struct{})}
	fail := func(err error) (*server, error) {
		s.stop()
		return nil, err
	}
	if bin == "" {
		bin = filepath.Join(dir, "messenger")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "messenger/cmd/messenger")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fail(fmt.Errorf("build the server (run inside the messenger module, or pass -server-bin): %w", err))
		}
	}
	switch db {
	case "sqlite":
		if databaseURL == "" {
			databaseURL = "sqlite:" + filepath.Join(dir, "messenger.db")
		}
	case "postgres":
		if databaseURL == "" {
			return fail(errors.New("-db postgres needs -database-url"))
		}
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.url = "http://" + addr
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return fail(err)
	}
	defer logFile.Close()
	if keyFile == "" {
		keyFile = filepath.Join(dir, "session-key")
	}
	s.cmd = exec.Command(bin)
	s.cmd.Env = append(os.Environ(),
		"ADDR="+addr,
		"DATABASE_URL="+databaseURL,
		"SESSION_KEYS=",
		"SESSION_KEY_FILE="+keyFile,
		"BASE_URL=",
		// The tool sends fast from few sockets and opens every user's socket from one address.
		"SEND_RATE=0", "MAX_SOCKETS=0", "MAX_SOCKETS_PER_ADDRESS=0",
		"REGISTER_LIMIT=0", "LOGIN_LIMIT=0", // every user registers and signs in from this one address
		"TRUSTED_PROXIES=",
	)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return fail(fmt.Errorf("start the server: %w", err))
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.exited:
			return fail(fmt.Errorf("the server exited at start (%v); its log:\n%s", s.waitErr, tail(s.logPath, 20)))
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := client.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("the server was not ready within 60s; its log:\n%s", tail(s.logPath, 20)))
		}
	}
}

func (s *server) pid() int {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// stop ends the server gracefully (SIGTERM, then SIGKILL after 15s) and removes its directory unless
// keep is set.
func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(15 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.exited
			}
		}
	}
}

func (s *server) remove() { _ = os.RemoveAll(s.dir) }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// procSample is what /proc tells about a process at one moment.
type procSample struct {
	RSSKiB  int64   // VmRSS
	HWMKiB  int64   // VmHWM: peak RSS since start
	CPUSecs float64 // user + system time
	Threads int
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

func readProc(pid int) (procSample, error) {
	var p procSample
	if pid <= 0 {
		return p, errors.New("no process")
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch key {
		case "VmRSS":
			p.RSSKiB = n
		case "VmHWM":
			p.HWMKiB = n
		case "Threads":
			p.Threads = int(n)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, err
	}
	// The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
	rest := string(stat)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	fields := strings.Fields(rest)
	// rest starts at field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) > 12 {
		ut, _ := strconv.ParseFloat(fields[11], 64)
		st, _ := strconv.ParseFloat(fields[12], 64)
		p.CPUSecs = (ut + st) / clockTicks
	}
	return p, nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logSummary counts the server's WARN and ERROR log lines by message.
func logSummary(path string) []errorCount {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	counts := newErrorCounts()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		var level string
		switch {
		case strings.Contains(line, "level=WARN"):
			level = "WARN"
		case strings.Contains(line, "level=ERROR"):
			level = "ERROR"
		default:
			continue
		}
		msg := line
		if i := strings.Index(line, "msg="); i >= 0 {
			msg = line[i+4:]
			if strings.HasPrefix(msg, `"`) {
				if j := strings.Index(msg[1:], `"`); j >= 0 {
					msg = msg[1 : j+1]
				}
			} else if j := strings.IndexByte(msg, ' '); j >= 0 {
				msg = msg[:j]
			}
		}
		if i := strings.Index(line, " err="); i >= 0 {
			msg += " (" + shortErr(line[i+5:]) + ")"
		}
		counts.add(level + " " + msg)
	}
	return counts.list()
}

// shortErr keeps the start of a logged error value, enough to tell errors apart.
func shortErr(s string) string {
	if strings.HasPrefix(s, `"`) {
		if v, err := strconv.QuotedPrefix(s); err == nil {
			if u, err := strconv.Unquote(v); err == nil {
				s = u
			}
		}
	} else if j := strings.IndexByte(s, ' '); j >= 0 {
		s = s[:j]
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// machineCPU reads the busy and total jiffies of all CPUs from /proc/stat.
func machineCPU() (busy, total float64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0, false
	}
	for i, f := range fields[1:] {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0, 0, false
		}
		// guest and guest_nice (fields 9, 10) are already counted in user and nice.
		if i >= 8 {
			break
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, true
}

// loadAverage is the 1-minute load average from /proc/loadavg, or -1.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return -1
	}
	return v
}
