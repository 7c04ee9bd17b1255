package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// backendConns sends a request without a body (a GET, a HEAD...) to a backend on the
// handler's own goroutine, over a kept-alive connection: net/http's Transport writes and reads
// each request on two goroutines of its own, and the hand-offs between them cost more than the
// rest of the proxy on a busy machine. A request with a body, or an upgrade, goes through the
// Transport, which can send the body while it reads an early answer.
type backendConns struct {
	dialer          *net.Dialer
	responseTimeout time.Duration
	maxIdlePerHost  int
	idleTimeout     time.Duration

	mu        sync.Mutex
	idle      map[string][]*backendConn
	lastSweep time.Time
}

type backendConn struct {
	net.Conn
	addr     string
	br       *bufio.Reader
	bw       *bufio.Writer
	idleFrom time.Time
	// written counts the bytes written to the connection, all requests together.
	written int64
}

func newBackendConns(dialer *net.Dialer, responseTimeout time.Duration) *backendConns {
	return &backendConns{
		dialer:          dialer,
		responseTimeout: responseTimeout,
		maxIdlePerHost:  256,
		idleTimeout:     90 * time.Second,
		idle:            map[string][]*backendConn{},
	}
}

// handles is true for the requests these connections take.
func handles(req *http.Request) bool {
	return (req.Body == nil || req.Body == http.NoBody) && len(req.Header["Upgrade"]) == 0
}

// roundTrip sends req to req.URL.Host over an idle connection, or a new one. A reused
// connection the backend has closed while it was idle is found before anything is written to
// it and replaced. When a try on a reused connection fails after the request was written, the
// request is sent again (on another connection to the same backend) only when it is safe to
// repeat, net/http's own rule: a backend may have received a POST /exit before it closed, and
// must not get it twice.
func (t *backendConns) roundTrip(req *http.Request) (*http.Response, error) {
	addr := req.URL.Host
	var first error // the failure of a try that may have reached the backend
	for {
		c, reused := t.get(addr)
		if c == nil {
			var err error
			if c, err = t.dial(req.Context(), addr); err != nil {
				if first != nil {
					// Not "never sent": the earlier try may have reached the backend.
					return nil, first
				}
				return nil, err
			}
		}
		before := c.written
		res, err := t.exchange(c, req)
		if err == nil {
			return res, nil
		}
		c.Close()
		if !reused || req.Context().Err() != nil {
			return nil, err
		}
		if c.written > before {
			if !idempotent(req) || !staleConn(err) {
				return nil, err
			}
			first = err
		}
	}
}

// staleConn: the error of a request on a connection the backend closed before it answered.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (t *backendConns) dial(ctx context.Context, addr string) (*backendConn, error) {
	conn, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &backendConn{Conn: conn, addr: addr, br: bufio.NewReaderSize(conn, 4096)}
	c.bw = bufio.NewWriterSize(c, 4096)
	return c, nil
}

// Write counts what reached the socket, which tells a request the backend cannot have seen
// from one it may have.
func (c *backendConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written += int64(n)
	return n, err
}

// open is false when the backend has closed the idle connection (or sent on it, which an
// idle HTTP/1.1 connection must not): it peeks without waiting, since a read deadline in the
// past would not even look. A peer's FIN or RST is already there to be seen when the close
// happened before this request.
func (c *backendConn) open() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var b [1]byte
	err = raw.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = rerr == syscall.EAGAIN
		return true
	})
	return err == nil && alive
}

// aLongTimeAgo is a deadline that makes blocked reads and writes return at once.
var aLongTimeAgo = time.Unix(1, 0)

func (t *backendConns) exchange(c *backendConn, req *http.Request) (*http.Response, error) {
	// The client going away aborts the exchange, and the connection with it.
	stop := context.AfterFunc(req.Context(), func() { _ = c.SetDeadline(aLongTimeAgo) })
	if t.responseTimeout > 0 {
		_ = c.SetReadDeadline(time.Now().Add(t.responseTimeout))
	}
	err := req.Write(c.bw)
	if err == nil {
		err = c.bw.Flush()
	}
	var res *http.Response
	for err == nil {
		if res, err = http.ReadResponse(c.br, req); err != nil {
			break
		}
		// An informational answer (103 Early Hints...) precedes the real one.
		if res.StatusCode >= 200 || res.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	if err != nil {
		stop()
		if ctxErr := req.Context().Err(); ctxErr != nil {
			err = ctxErr
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			err = errResponseTimeout
		}
		return nil, err
	}
	if t.responseTimeout > 0 {
		_ = c.SetReadDeadline(time.Time{})
	}
	res.Body = &backendBody{body: res.Body, conn: c, conns: t, stop: stop, reusable: !res.Close && !req.Close}
	return res, nil
}

// errResponseTimeout is net/http's error for a backend too slow to send its headers.
var errResponseTimeout = timeoutError{"net/http: timeout awaiting response headers"}

type timeoutError struct{ msg string }

func (e timeoutError) Error() string   { return e.msg }
func (e timeoutError) Timeout() bool   { return true }
func (e timeoutError) Temporary() bool { return true }

// backendBody returns its connection to the idle ones once the body has been read to its end,
// and closes it when the body is closed before.
type backendBody struct {
	body     io.ReadCloser
	conn     *backendConn
	conns    *backendConns
	stop     func() bool
	reusable bool
	eof      bool
	done     bool
}

func (b *backendBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.eof = true
		b.release()
	}
	return n, err
}

func (b *backendBody) Close() error {
	b.release()
	return nil
}

func (b *backendBody) release() {
	if b.done {
		return
	}
	b.done = true
	_ = b.body.Close()
	// stop is false when the client went away: the connection's deadline is spoiled.
	if b.stop() && b.eof && b.reusable {
		b.conns.put(b.conn)
		return
	}
	_ = b.conn.Close()
}

func (t *backendConns) get(addr string) (*backendConn, bool) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.idle[addr]
	for len(list) > 0 {
		c := list[len(list)-1]
		list[len(list)-1] = nil
		list = list[:len(list)-1]
		if now.Sub(c.idleFrom) < t.idleTimeout && c.open() {
			t.idle[addr] = list
			return c, true
		}
		_ = c.Close()
	}
	delete(t.idle, addr)
	return nil, false
}

func (t *backendConns) put(c *backendConn) {
	now := time.Now()
	c.idleFrom = now
	t.mu.Lock()
	defer t.mu.Unlock()
	if list := t.idle[c.addr]; len(list) < t.maxIdlePerHost {
		t.idle[c.addr] = append(list, c)
	} else {
		_ = c.Close()
	}
	// Connections to backends that left (no request takes them any more) are closed here.
	if now.Sub(t.lastSweep) > t.idleTimeout/3 {
		t.lastSweep = now
		for addr, list := range t.idle {
			kept := list[:0]
			for _, c := range list {
				if now.Sub(c.idleFrom) < t.idleTimeout {
					kept = append(kept, c)
				} else {
					_ = c.Close()
				}
			}
			if len(kept) == 0 {
				delete(t.idle, addr)
			} else {
				t.idle[addr] = kept
			}
		}
	}
}
