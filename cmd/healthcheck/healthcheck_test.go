package main_test

import (
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

var _ = Describe("healthcheck", func() {
	// The binary checks the first non-loopback IPv4 address, so servers listen on every address.
	listen := func() (net.Listener, string) {
		l, err := net.Listen("tcp4", "0.0.0.0:0")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { l.Close() })
		return l, strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	}
	// closedPort is a port nothing listens on.
	closedPort := func() string {
		l, port := listen()
		l.Close()
		return port
	}
	check := func(args ...string) *gexec.Session {
		s, err := gexec.Start(exec.Command(healthcheckBin, args...), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(s.Kill)
		return s
	}
	serve := func(status *atomic.Int32) string {
		l, port := listen()
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/health" || r.Header.Get("User-Agent") != "diego-healthcheck" {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			w.WriteHeader(int(status.Load()))
		})}
		go srv.Serve(l)
		DeferCleanup(func() { srv.Close() })
		return port
	}

	It("passes a TCP check when the port accepts", func() {
		_, port := listen()
		Eventually(check("-port", port)).Should(gexec.Exit(0))
	})

	It("fails a TCP check with exit 4 and upstream's message", func() {
		port := closedPort()
		s := check("-port=" + port)
		Eventually(s).Should(gexec.Exit(4))
		Expect(string(s.Err.Contents())).To(MatchRegexp(`^failed to make TCP connection to [0-9.]+:%s: dial tcp [0-9.]+:%s: connect: connection refused\n$`, port, port))
	})

	It("passes an HTTP check on 200 and fails with exit 6 and the status otherwise", func() {
		var status atomic.Int32
		status.Store(http.StatusOK)
		port := serve(&status)
		Eventually(check("-port="+port, "-uri=/health")).Should(gexec.Exit(0))
		status.Store(http.StatusInternalServerError)
		s := check("-port="+port, "-uri=/health")
		Eventually(s).Should(gexec.Exit(6))
		Expect(string(s.Err.Contents())).To(MatchRegexp(`^failed to make HTTP request to '/health' on port %s: received status code 500 in \d+ms\n$`, port))
	})

	It("fails an HTTP check that cannot connect with exit 5", func() {
		s := check("-port="+closedPort(), "-uri=/health")
		Eventually(s).Should(gexec.Exit(5))
		Expect(string(s.Err.Contents())).To(MatchRegexp(`^failed to make HTTP request to '/health' on port \d+: connection refused\n$`))
	})

	It("times out an HTTP check with exit 65", func() {
		l, port := listen()
		accepted := make(chan net.Conn, 10)
		DeferCleanup(func() {
			l.Close()
			for {
				select {
				case c := <-accepted:
					c.Close()
				default:
					return
				}
			}
		})
		go func() {
			// Accept and never answer; the conns close at cleanup.
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				accepted <- c
			}
		}()
		s := check("-port="+port, "-uri=/health", "-timeout=100ms")
		Eventually(s).Should(gexec.Exit(65))
		Expect(string(s.Err.Contents())).To(Equal("failed to make HTTP request to '/health' on port " + port + ": timed out after 0.10 seconds\n"))
	})

	It("in startup mode waits for a passing check", func() {
		var status atomic.Int32
		status.Store(http.StatusServiceUnavailable)
		port := serve(&status)
		s := check("-port="+port, "-uri=/health", "-startup-interval=20ms")
		Consistently(s, 200*time.Millisecond).ShouldNot(gexec.Exit())
		status.Store(http.StatusOK)
		Eventually(s).Should(gexec.Exit(0))
	})

	It("in startup mode gives up after the startup timeout, with the last failure", func() {
		s := check("-port="+closedPort(), "-startup-interval=20ms", "-startup-timeout=200ms")
		Eventually(s).Should(gexec.Exit(4))
		Expect(string(s.Err.Contents())).To(MatchRegexp(`^Timed out after 200ms \(\d+ attempts\) waiting for startup check to succeed: failed to make TCP connection to .*: connect: connection refused\n$`))
	})

	It("in startup mode with a zero timeout never gives up", func() {
		s := check("-port="+closedPort(), "-startup-interval=10ms", "-startup-timeout=0s")
		Consistently(s, 300*time.Millisecond).ShouldNot(gexec.Exit())
	})

	It("in liveness mode runs until a check fails", func() {
		var status atomic.Int32
		status.Store(http.StatusOK)
		port := serve(&status)
		s := check("-port="+port, "-uri=/health", "-liveness-interval=20ms")
		Consistently(s, 200*time.Millisecond).ShouldNot(gexec.Exit())
		status.Store(http.StatusInternalServerError)
		Eventually(s).Should(gexec.Exit(6))
		Expect(string(s.Err.Contents())).To(HavePrefix("Liveness check unsuccessful: failed to make HTTP request to '/health' on port " + port + ": received status code 500"))
	})

	It("in readiness mode runs until a check fails, and in until-ready mode until one passes", func() {
		var status atomic.Int32
		status.Store(http.StatusOK)
		port := serve(&status)
		ready := check("-port="+port, "-uri=/health", "-readiness-interval=20ms")
		Consistently(ready, 100*time.Millisecond).ShouldNot(gexec.Exit())
		status.Store(http.StatusInternalServerError)
		Eventually(ready).Should(gexec.Exit(6))
		Expect(string(ready.Err.Contents())).To(HavePrefix("Readiness check unsuccessful: "))

		until := check("-port="+port, "-uri=/health", "-until-ready-interval=20ms")
		Consistently(until, 100*time.Millisecond).ShouldNot(gexec.Exit())
		status.Store(http.StatusOK)
		Eventually(until).Should(gexec.Exit(0))
	})
})
