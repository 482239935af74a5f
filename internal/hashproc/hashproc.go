// Package hashproc hashes and checks passwords in child processes of the server's own binary, run at
// the lowest CPU priority (nice 19). A sign-in costs tens of milliseconds of CPU; in a goroutine it
// takes its turn on the core beside the live path, and a rush of sign-ins slows every chat on that
// core. A child process at nice 19 gets the CPU only when the server does not want it, so sign-ins
// wait instead of chats. The password goes to the child over a pipe, never in its arguments or
// environment.
package hashproc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"messenger/models"
)

// EnvVar, set to "1" in a child's environment, makes the binary serve hashing requests on its standard
// input and output (Main) instead of running its command line.
const EnvVar = "MESSENGER_HASH_PROCESS"

// Nice is the children's scheduling priority: the lowest.
const Nice = 19

// maxField bounds a request's password or hash: a longer one is refused (the handlers accept
// passwords of at most a few hundred bytes).
const maxField = 1 << 16

const (
	opHash   = 'h'
	opVerify = 'v'

	answerNo    = 0 // Verify: no match
	answerYes   = 1 // Verify: a match; Hash: the hash follows
	answerError = 2 // the error's text follows
)

// Main serves requests on stdin and stdout until stdin ends: the child's whole life. It returns the
// exit status.
func Main() int {
	if err := Serve(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hash process:", err)
		return 1
	}
	return 0
}

// Serve answers one request at a time from r on w until r ends.
func Serve(r io.Reader, w io.Writer) error {
	br, bw := bufio.NewReader(r), bufio.NewWriter(w)
	for {
		op, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		password, err := readField(br)
		if err != nil {
			return err
		}
		hash, err := readField(br)
		if err != nil {
			return err
		}
		answer, payload := answerNo, ""
		switch op {
		case opHash:
			if payload, err = models.HashPassword(password); err == nil {
				answer = answerYes
			}
		case opVerify:
			var ok bool
			if ok, err = models.VerifyPassword(password, hash); ok {
				answer = answerYes
			}
		default:
			err = fmt.Errorf("unknown request %q", op)
		}
		if err != nil {
			answer, payload = answerError, err.Error()
		}
		if err := bw.WriteByte(byte(answer)); err != nil {
			return err
		}
		if err := writeField(bw, payload); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	}
}

func readField(r *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return "", err
	}
	if n > maxField {
		return "", fmt.Errorf("a field of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

func writeField(w *bufio.Writer, s string) error {
	if _, err := w.Write(binary.AppendUvarint(nil, uint64(len(s)))); err != nil {
		return err
	}
	_, err := w.WriteString(s)
	return err
}

// Pool starts children of the binary at path on demand and keeps the idle ones. Each call uses one
// child for itself, so the pool holds as many children as calls ever ran at once (the handlers
// bound that with their hashing slots). When a child cannot be started, the call hashes in this
// process instead, and says so in the log once.
type Pool struct {
	path string
	log  *slog.Logger
	// timeout bounds one request on a child (a hash takes tens of milliseconds): a child that does
	// not answer in time is killed, and the request runs on a new one.
	timeout time.Duration

	mu       sync.Mutex
	idle     []*child
	all      map[*child]bool
	closed   bool
	warnOnce sync.Once
}

type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	w   *bufio.Writer
}

// NewPool prepares a pool of children of the binary at path (os.Executable for the server).
func NewPool(path string, log *slog.Logger) *Pool {
	return &Pool{path: path, log: log, timeout: 30 * time.Second, all: map[*child]bool{}}
}

// Hash returns an argon2id hash of password (models.HashPassword).
func (p *Pool) Hash(password string) (string, error) {
	answer, payload, err := p.call(opHash, password, "")
	if errors.Is(err, errNoChild) {
		return models.HashPassword(password)
	}
	if err != nil {
		return "", err
	}
	if answer != answerYes {
		return "", fmt.Errorf("hash process: %s", payload)
	}
	return payload, nil
}

// Verify reports whether password matches hash (models.VerifyPassword).
func (p *Pool) Verify(password, hash string) (bool, error) {
	answer, payload, err := p.call(opVerify, password, hash)
	if errors.Is(err, errNoChild) {
		return models.VerifyPassword(password, hash)
	}
	if err != nil {
		return false, err
	}
	if answer == answerError {
		return false, fmt.Errorf("hash process: %s", payload)
	}
	return answer == answerYes, nil
}

var errNoChild = errors.New("hash process: none can be started")

// call runs one request on an idle child or a new one. A child that fails mid-request is dropped and
// the request runs once more on a new child: a child killed from outside costs no sign-in.
func (p *Pool) call(op byte, password, hash string) (byte, string, error) {
	if len(password) > maxField || len(hash) > maxField {
		return 0, "", fmt.Errorf("hash process: a password or hash of over %d bytes", maxField)
	}
	var err error
	for range 2 {
		var c *child
		if c, err = p.take(); err != nil {
			return 0, "", err
		}
		var answer byte
		var payload string
		if answer, payload, err = c.exchange(op, password, hash, p.timeout); err == nil {
			p.put(c)
			return answer, payload, nil
		}
		p.drop(c)
	}
	return 0, "", fmt.Errorf("hash process: %w", err)
}

func (c *child) exchange(op byte, password, hash string, timeout time.Duration) (byte, string, error) {
	stuck := time.AfterFunc(timeout, func() { _ = c.cmd.Process.Kill() }) // the read below then fails
	defer stuck.Stop()
	if err := c.w.WriteByte(op); err != nil {
		return 0, "", err
	}
	if err := writeField(c.w, password); err != nil {
		return 0, "", err
	}
	if err := writeField(c.w, hash); err != nil {
		return 0, "", err
	}
	if err := c.w.Flush(); err != nil {
		return 0, "", err
	}
	answer, err := c.out.ReadByte()
	if err != nil {
		return 0, "", err
	}
	payload, err := readField(c.out)
	return answer, payload, err
}

func (p *Pool) take() (*child, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("hash process: the pool is closed")
	}
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	c, err := p.start()
	if err != nil {
		p.warnOnce.Do(func() {
			p.log.Warn("password hashing runs in the server process: no child process could be started", "err", err)
		})
		return nil, errNoChild
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.stop()
		return nil, errors.New("hash process: the pool is closed")
	}
	p.all[c] = true
	return c, nil
}

func (p *Pool) start() (*child, error) {
	cmd := exec.Command(p.path)
	cmd.Env = append(os.Environ(), EnvVar+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// Lowered before its first request: nothing it does competes with the server at full priority.
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, cmd.Process.Pid, Nice); err != nil {
		c := &child{cmd: cmd, in: in}
		c.stop()
		return nil, fmt.Errorf("lower its priority: %w", err)
	}
	return &child{cmd: cmd, in: in, out: bufio.NewReader(out), w: bufio.NewWriter(in)}, nil
}

func (p *Pool) put(c *child) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.stop()
		return
	}
	p.idle = append(p.idle, c)
}

func (p *Pool) drop(c *child) {
	p.mu.Lock()
	delete(p.all, c)
	p.mu.Unlock()
	c.stop()
}

// stop ends the child (it holds nothing worth a graceful exit) and reaps it.
func (c *child) stop() {
	c.in.Close()
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// Pids lists the children's process ids.
func (p *Pool) Pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	for c := range p.all {
		pids = append(pids, c.cmd.Process.Pid)
	}
	return pids
}

// Close ends every child; calls after it fail.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	all := p.all
	p.all, p.idle = map[*child]bool{}, nil
	p.mu.Unlock()
	for c := range all {
		c.stop()
	}
}
