// Command healthcheck checks an instance from inside its container: a TCP connection, or an HTTP
// GET answered 200, to a port on the container's first non-loopback IPv4 address. Flags, exit
// codes and messages are upstream healthcheck's, which the executor's crash reasons quote:
//
//	-port (8080), -timeout (1s), -uri (HTTP path; empty = TCP), -network (tcp)
//	-startup-interval D  check every D until one passes (exit 0), giving up after -startup-timeout
//	                     (60s; 0 = never) with "Timed out after ..."
//	-liveness-interval D check every D until one fails ("Liveness check unsuccessful: ...")
//	-readiness-interval D check every D until one fails ("Readiness check unsuccessful: ...")
//	-until-ready-interval D check every D until one passes
//	none of them: check once
//
// Exit codes: 0 passed; 1 interfaces unreadable; 3 no suitable interface; 4 TCP refused or
// failed; 5 HTTP connection failed; 6 HTTP status not 200 or request invalid; 64 TCP timeout;
// 65 HTTP timeout; 127 anything else.
//
// It is built static (CGO_ENABLED=0) from the standard library only, to run in any rootfs.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// checkError is a failed check: its message and the exit code that names the kind of failure.
type checkError struct {
	code int
	msg  string
}

func (e *checkError) Error() string { return e.msg }

type checker struct {
	network, uri, port string
	timeout            time.Duration
}

func main() {
	var c checker
	flag.StringVar(&c.network, "network", "tcp", "network type to dial with (e.g. unix, tcp)")
	flag.StringVar(&c.uri, "uri", "", "uri to healthcheck (empty: a TCP check)")
	flag.StringVar(&c.port, "port", "8080", "port to healthcheck")
	flag.DurationVar(&c.timeout, "timeout", time.Second, "dial or request timeout")
	startupInterval := flag.Duration("startup-interval", 0, "if set, check every interval until a check passes")
	startupTimeout := flag.Duration("startup-timeout", 60*time.Second, "with -startup-interval: fail after this long without a passing check (0: never)")
	livenessInterval := flag.Duration("liveness-interval", 0, "if set, check every interval until a check fails")
	readinessInterval := flag.Duration("readiness-interval", 0, "if set, check every interval until a check fails")
	untilReadyInterval := flag.Duration("until-ready-interval", 0, "if set, check every interval until a check passes")
	flag.Parse()

	ifaces, err := net.Interfaces()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Failed to get interfaces: %s\n", err)
		os.Exit(1)
	}
	check := func() error { return c.check(ifaces) }

	switch {
	case *startupInterval > 0:
		startup(check, *startupInterval, *startupTimeout)
	case *livenessInterval > 0:
		untilFailure(check, *livenessInterval, "Liveness check unsuccessful: ")
	case *readinessInterval > 0:
		untilFailure(check, *readinessInterval, "Readiness check unsuccessful: ")
	case *untilReadyInterval > 0:
		for check() != nil {
			time.Sleep(*untilReadyInterval)
		}
		os.Exit(0)
	}
	if err := check(); err != nil {
		fail("", err)
	}
}

// startup checks every interval until a check passes; with a timeout it fails with the last
// check's error once the timeout passes, even while a check is still running.
func startup(check func() error, interval, timeout time.Duration) {
	var expired <-chan time.Time
	if timeout > 0 {
		expired = time.After(timeout)
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var last error
	for attempt := 1; ; attempt++ {
		result := make(chan error, 1)
		go func() { result <- check() }()
		timedOut := func() {
			fail(fmt.Sprintf("Timed out after %s (%d attempts) waiting for startup check to succeed: ", timeout, attempt), last)
		}
		select {
		case last = <-result:
			if last == nil {
				os.Exit(0)
			}
		case <-expired:
			timedOut()
		}
		select {
		case <-ticker.C:
		case <-expired:
			timedOut()
		}
	}
}

func untilFailure(check func() error, interval time.Duration, prefix string) {
	for {
		if err := check(); err != nil {
			fail(prefix, err)
		}
		time.Sleep(interval)
	}
}

// fail writes prefix and the error on stderr and exits with the error's code.
func fail(prefix string, err error) {
	var ce *checkError
	if errors.As(err, &ce) {
		fmt.Fprintf(os.Stderr, "%s%s\n", prefix, ce.msg)
		os.Exit(ce.code)
	}
	fmt.Fprintf(os.Stderr, "%sUnknown error encountered in healthcheck: %v\n", prefix, err)
	os.Exit(127)
}

// check runs the check against the first non-loopback IPv4 address: the container's own.
func (c *checker) check(ifaces []net.Interface) error {
	for _, iface := range ifaces {
		addrs, err := iface.Addrs()
		if err != nil {
			fmt.Fprintf(os.Stderr, "Warning: failed getting addresses for interface %v\n", iface)
			continue
		}
		for _, a := range addrs {
			ipnet, ok := a.(*net.IPNet)
			if !ok || ipnet.IP.IsLoopback() || ipnet.IP.To4() == nil {
				continue
			}
			if c.uri == "" {
				return c.tcp(ipnet.IP.String())
			}
			return c.http(ipnet.IP.String())
		}
	}
	return &checkError{code: 3, msg: "failure to find suitable interface"}
}

func (c *checker) tcp(ip string) error {
	addr := net.JoinHostPort(ip, c.port)
	conn, err := net.DialTimeout(c.network, addr, c.timeout)
	if err == nil {
		conn.Close()
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &checkError{code: 64, msg: fmt.Sprintf("failed to make TCP connection to %s: timed out after %.2f seconds", addr, c.timeout.Seconds())}
	}
	return &checkError{code: 4, msg: fmt.Sprintf("failed to make TCP connection to %s: %s", addr, err)}
}

func (c *checker) http(ip string) error {
	req, err := http.NewRequest(http.MethodGet, "http://"+net.JoinHostPort(ip, c.port)+c.uri, nil)
	if err != nil {
		return &checkError{code: 6, msg: fmt.Sprintf("failed to create an HTTP request to '%s' on port %s", c.uri, c.port)}
	}
	req.Header.Set("User-Agent", "diego-healthcheck")
	req.Header.Set("X-Forwarded-Proto", "https")
	began := time.Now()
	resp, err := (&http.Client{Timeout: c.timeout}).Do(req)
	took := time.Since(began)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return &checkError{code: 65, msg: fmt.Sprintf("failed to make HTTP request to '%s' on port %s: timed out after %.2f seconds", c.uri, c.port, c.timeout.Seconds())}
		}
		return &checkError{code: 5, msg: fmt.Sprintf("failed to make HTTP request to '%s' on port %s: connection refused", c.uri, c.port)}
	}
	defer resp.Body.Close()
	// Read the body so that the server does not see the request aborted.
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return &checkError{code: 6, msg: fmt.Sprintf("failed to make HTTP request to '%s' on port %s: received status code %d in %sms", c.uri, c.port, resp.StatusCode, strconv.FormatInt(took.Milliseconds(), 10))}
	}
	return nil
}
