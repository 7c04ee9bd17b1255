package testservers_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-go/diego/internal/repo"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/tlsconfig"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

const helperEnv = "TESTSERVERS_PDEATHSIG_HELPER_DIR"

func TestTestservers(t *testing.T) {
	if dir := os.Getenv(helperEnv); dir != "" {
		runPdeathsigHelper(dir)
		return
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "Testservers Suite")
}

// runPdeathsigHelper starts nats-server, reports its pid and waits to be killed.
func runPdeathsigHelper(dir string) {
	server, err := testservers.StartNATS(dir)
	if err != nil {
		fmt.Println("helper failed:", err)
		os.Exit(1)
	}
	fmt.Printf("nats-server pid %d\n", server.Pid())
	time.Sleep(time.Minute)
	_ = server.Stop()
	os.Exit(1)
}

// gone tells whether no process with this pid runs any more (a zombie waiting for a parent that
// does not reap counts as gone).
func gone(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) STATE ...
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// printLogOnFailure prints a server's log when the current spec fails.
func printLogOnFailure(name string, logs func() string) {
	DeferCleanup(func() {
		if CurrentSpecReport().Failed() {
			fmt.Fprintf(GinkgoWriter, "----- %s log -----\n%s\n", name, logs())
		}
	})
}

var _ = Describe("a missing binary", func() {
	It("says to run make deps", func() {
		GinkgoT().Setenv(repo.DepsBinEnv, GinkgoT().TempDir())
		_, err := testservers.StartEtcd(GinkgoT().TempDir())
		Expect(err).To(MatchError(ContainSubstring("run make deps")))
	})
})

var _ = Describe("FreePort", func() {
	It("returns a port that can be bound on loopback", func() {
		port, err := testservers.FreePort()
		Expect(err).NotTo(HaveOccurred())
		Expect(port).To(BeNumerically(">", 0))
	})

	It("never returns a port twice in a process", func() {
		// the kernel may pick a port just closed again: two daemons of one world were once given
		// the same port for two listeners and one of them could not start
		seen := map[int]bool{}
		for range 2000 {
			port, err := testservers.FreePort()
			Expect(err).NotTo(HaveOccurred())
			Expect(seen).NotTo(HaveKey(port))
			seen[port] = true
		}
	})
})

var _ = Describe("Etcd", func() {
	var (
		dir    string
		etcd   *testservers.Etcd
		client *clientv3.Client
	)

	BeforeEach(func() {
		dir = GinkgoT().TempDir()
		var err error
		etcd, err = testservers.StartEtcd(dir)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(etcd.Stop)
		printLogOnFailure("etcd", etcd.Logs)

		client, err = clientv3.New(clientv3.Config{
			Endpoints:   []string{etcd.ClientURL()},
			DialTimeout: 5 * time.Second,
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(client.Close)
	})

	put := func(key, value string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := client.Put(ctx, key, value)
		Expect(err).NotTo(HaveOccurred())
	}
	get := func(key string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := client.Get(ctx, key)
		if err != nil {
			return "", err
		}
		if len(resp.Kvs) == 0 {
			return "", errors.New("not found")
		}
		return string(resp.Kvs[0].Value), nil
	}

	It("serves puts and gets on a loopback client URL", func() {
		Expect(etcd.ClientURL()).To(HavePrefix("http://127.0.0.1:"))
		put("/testservers/a", "1")
		Expect(get("/testservers/a")).To(Equal("1"))
	})

	It("keeps its data through a kill and a restart", func() {
		put("/testservers/survivor", "still here")
		oldPid := etcd.Pid()
		Expect(etcd.Kill()).To(Succeed())
		Expect(gone(oldPid)).To(BeTrue())

		_, err := get("/testservers/survivor")
		Expect(err).To(HaveOccurred())

		Expect(etcd.Restart()).To(Succeed())
		Expect(etcd.Pid()).NotTo(Equal(oldPid))
		Eventually(func() (string, error) { return get("/testservers/survivor") }).
			WithTimeout(10 * time.Second).Should(Equal("still here"))
	})

	It("restarts gracefully while running", func() {
		put("/testservers/b", "2")
		Expect(etcd.Restart()).To(Succeed())
		Eventually(func() (string, error) { return get("/testservers/b") }).
			WithTimeout(10 * time.Second).Should(Equal("2"))
	})

	It("leaves nothing running after Stop, and Stop is safe twice", func() {
		pid := etcd.Pid()
		Expect(gone(pid)).To(BeFalse())
		Expect(etcd.Stop()).To(Succeed())
		Expect(gone(pid)).To(BeTrue())
		Expect(etcd.Stop()).To(Succeed())
		Expect(etcd.Kill()).To(Succeed())
	})

	It("writes its log in the directory it was given", func() {
		Expect(etcd.LogPath()).To(Equal(filepath.Join(dir, "etcd.log")))
		Expect(etcd.Logs()).To(ContainSubstring("testservers: etcd starting"))
	})
})

var _ = Describe("Etcd over mutual TLS", func() {
	It("serves only clients presenting a certificate signed by the CA, on an https URL", func() {
		dir := GinkgoT().TempDir()
		certs, err := tlstest.Generate(dir)
		Expect(err).NotTo(HaveOccurred())
		etcd, err := testservers.StartEtcdTLS(filepath.Join(dir, "etcd"), testservers.EtcdTLS{
			CAFile: certs.CACert, CertFile: certs.ServerCert, KeyFile: certs.ServerKey,
			ClientCertFile: certs.ClientCert, ClientKeyFile: certs.ClientKey,
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(etcd.Stop)
		printLogOnFailure("etcd", etcd.Logs)
		Expect(etcd.ClientURL()).To(HavePrefix("https://127.0.0.1:"))

		put := func(certFile, keyFile string) error {
			cfg, err := tlsconfig.Client(certFile, keyFile, certs.CACert)
			Expect(err).NotTo(HaveOccurred())
			client, err := clientv3.New(clientv3.Config{Endpoints: []string{etcd.ClientURL()}, DialTimeout: 5 * time.Second, TLS: cfg})
			Expect(err).NotTo(HaveOccurred())
			defer client.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_, err = client.Put(ctx, "/testservers/tls", "1")
			return err
		}
		Expect(put(certs.ClientCert, certs.ClientKey)).To(Succeed())
		Expect(put(certs.UntrustedClientCert, certs.UntrustedClientKey)).NotTo(Succeed())
		Expect(etcd.Restart()).To(Succeed()) // the health check presents the client certificate
		Expect(put(certs.ClientCert, certs.ClientKey)).To(Succeed())
	})
})

var _ = Describe("Consul", func() {
	var consul *testservers.Consul

	BeforeEach(func() {
		var err error
		consul, err = testservers.StartConsul(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(consul.Stop)
		printLogOnFailure("consul", consul.Logs)
	})

	do := func(method, path, body string) (int, string) {
		req, err := http.NewRequest(method, consul.URL()+path, strings.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		return resp.StatusCode, string(b)
	}

	It("serves KV puts and gets through its HTTP API on loopback", func() {
		Expect(consul.HTTPAddr()).To(HavePrefix("127.0.0.1:"))
		Expect(consul.DNSAddr()).To(HavePrefix("127.0.0.1:"))

		code, body := do("PUT", "/v1/kv/testservers/key", "value")
		Expect(code).To(Equal(http.StatusOK), body)
		Expect(strings.TrimSpace(body)).To(Equal("true"))

		code, body = do("GET", "/v1/kv/testservers/key?raw", "")
		Expect(code).To(Equal(http.StatusOK), body)
		Expect(body).To(Equal("value"))
	})

	It("accepts session TTLs shorter than Consul's default 10s minimum", func() {
		code, body := do("PUT", "/v1/session/create", `{"TTL":"2s","LockDelay":"1ms","Behavior":"delete"}`)
		Expect(code).To(Equal(http.StatusOK), body)
		Expect(body).To(ContainSubstring(`"ID"`))
	})

	It("keeps its KV data through a kill and a restart", func() {
		code, body := do("PUT", "/v1/kv/testservers/survivor", "still here")
		Expect(code).To(Equal(http.StatusOK), body)

		oldPid := consul.Pid()
		Expect(consul.Kill()).To(Succeed())
		Expect(gone(oldPid)).To(BeTrue())
		Expect(consul.Restart()).To(Succeed())

		code, body = do("GET", "/v1/kv/testservers/survivor?raw", "")
		Expect(code).To(Equal(http.StatusOK), body)
		Expect(body).To(Equal("still here"))
	})

	It("waits on restart for a port another process took while it was down", func() {
		code, body := do("PUT", "/v1/kv/testservers/survivor", "still here")
		Expect(code).To(Equal(http.StatusOK), body)
		Expect(consul.Kill()).To(Succeed())

		squatter, err := net.Listen("tcp", consul.HTTPAddr())
		Expect(err).NotTo(HaveOccurred())
		time.AfterFunc(time.Second, func() { squatter.Close() })

		Expect(consul.Restart()).To(Succeed())
		code, body = do("GET", "/v1/kv/testservers/survivor?raw", "")
		Expect(code).To(Equal(http.StatusOK), body)
		Expect(body).To(Equal("still here"))
	})

	It("leaves nothing running after Stop, and Stop is safe twice", func() {
		pid := consul.Pid()
		Expect(consul.Stop()).To(Succeed())
		Expect(gone(pid)).To(BeTrue())
		Expect(consul.Stop()).To(Succeed())
	})
})

var _ = Describe("NATS", func() {
	var server *testservers.NATS

	BeforeEach(func() {
		var err error
		server, err = testservers.StartNATS(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(server.Stop)
		printLogOnFailure("nats-server", server.Logs)
	})

	It("delivers a published message to a subscriber", func() {
		Expect(server.URL()).To(HavePrefix("nats://127.0.0.1:"))
		nc, err := nats.Connect(server.URL())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(nc.Close)

		sub, err := nc.SubscribeSync("router.register")
		Expect(err).NotTo(HaveOccurred())
		Expect(nc.Flush()).To(Succeed())

		pub, err := nats.Connect(server.URL())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(pub.Close)
		Expect(pub.Publish("router.register", []byte(`{"host":"10.0.0.1","port":61000}`))).To(Succeed())
		Expect(pub.Flush()).To(Succeed())

		msg, err := sub.NextMsg(5 * time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(msg.Data)).To(Equal(`{"host":"10.0.0.1","port":61000}`))
	})

	Describe("restarting when another process took its port while it was down", func() {
		var squatter net.Listener

		BeforeEach(func() {
			Expect(server.Stop()).To(Succeed())
			var err error
			squatter, err = net.Listen("tcp", server.Addr())
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { squatter.Close() })
		})

		It("waits for the port and restarts on it", func() {
			time.AfterFunc(500*time.Millisecond, func() { squatter.Close() })
			Expect(server.Restart()).To(Succeed())
			nc, err := nats.Connect(server.URL())
			Expect(err).NotTo(HaveOccurred())
			nc.Close()
		})

		It("fails naming the port when it stays taken", func() {
			saved := testservers.RestartPortWait
			testservers.RestartPortWait = time.Second
			DeferCleanup(func() { testservers.RestartPortWait = saved })

			started := time.Now()
			err := server.Restart()
			var taken *testservers.PortTakenError
			Expect(errors.As(err, &taken)).To(BeTrue(), "got %v", err)
			Expect(taken.Port).To(Equal(server.Addr() + " (client)"))
			Expect(err.Error()).To(ContainSubstring("cannot restart nats-server: port " + server.Addr()))
			Expect(time.Since(started)).To(BeNumerically(">=", time.Second))
			Expect(server.Pid()).NotTo(BeZero())
			Expect(gone(server.Pid())).To(BeTrue(), "no server left running on a failed restart")
		})
	})

	It("leaves nothing running after Stop, and Stop is safe twice", func() {
		pid := server.Pid()
		Expect(server.Stop()).To(Succeed())
		Expect(gone(pid)).To(BeTrue())
		Expect(server.Stop()).To(Succeed())
	})
})

var _ = Describe("a server started by a test binary that dies", func() {
	It("dies with it (Pdeathsig)", func() {
		// Run this test binary again as a helper that starts nats-server, prints its pid and
		// sleeps; then SIGKILL the helper and watch nats-server go.
		helper := exec.Command(os.Args[0], "-test.run=^TestTestservers$")
		helper.Env = append(os.Environ(), helperEnv+"="+GinkgoT().TempDir())
		stdout, err := helper.StdoutPipe()
		Expect(err).NotTo(HaveOccurred())
		helper.Stderr = GinkgoWriter
		Expect(helper.Start()).To(Succeed())
		DeferCleanup(func() { _ = helper.Process.Kill(); _ = helper.Wait() })

		var serverPid int
		line, err := bufio.NewReader(stdout).ReadString('\n')
		Expect(err).NotTo(HaveOccurred(), "helper printed %q", line)
		_, err = fmt.Sscanf(line, "nats-server pid %d", &serverPid)
		Expect(err).NotTo(HaveOccurred(), "helper printed %q", line)
		Expect(gone(serverPid)).To(BeFalse())

		Expect(helper.Process.Signal(syscall.SIGKILL)).To(Succeed())
		_ = helper.Wait()
		Eventually(func() bool { return gone(serverPid) }).WithTimeout(10 * time.Second).Should(BeTrue())
	})
})
