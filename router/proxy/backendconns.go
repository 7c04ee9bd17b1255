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

// roundTrip sends req to req.URL.Host. A kept-alive connection the backend had closed is
// replaced by a new one and the request sent again, as net/http's Transport does: it has no
// body and the backend did not answer on it.
func (t *backendConns) roundTrip(req *http.Request) (*http.Response, error) {
	addr := req.URL.Host
	for {
		c, reused := t.get(addr)
		if c == nil {
			var err error
			if c, err = t.dial(req.Context(), addr); err != nil {
				return nil, err
			}
		}
		res, err := t.exchange(c, req)
		if err == nil {
			return res, nil
		}
		c.Close()
		if !reused || !staleConn(err) || req.Context().Err() != nil {
			return nil, err
		}
	}
}

// staleConn: the error of a request on a connection the backend had closed while it was idle.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (t *backendConns) dial(ctx context.Context, addr string) (*backendConn, error) {
	conn, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &backendConn{Conn: conn, addr: addr, br: bufio.NewReaderSize(conn, 4096), bw: bufio.NewWriterSize(conn, 4096)}, nil
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
		if now.Sub(c.idleFrom) < t.idleTimeout {
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
