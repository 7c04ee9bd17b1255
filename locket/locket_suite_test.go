package locket_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/locket"
)

// The suite runs one real Consul agent (session_ttl_min 1s) and short timings.
const (
	testTTL   = 2 * time.Second
	testRetry = 200 * time.Millisecond
)

var (
	consul *testservers.Consul
	client *locket.Client
	logger *slog.Logger
)

func TestLocket(t *testing.T) {
	if addr := os.Getenv(lockHelperEnv); addr != "" {
		runLockHelper(addr)
		return
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "Locket Suite")
}

// lockHelperEnv makes the test binary a lock holder (for kill -9 specs): it holds
// LOCKET_HELPER_KEY with TTL and retry of the suite, prints "acquired" and waits to be killed.
// With LOCKET_HELPER_KIND=presence it keeps a presence there instead.
const lockHelperEnv = "LOCKET_LOCK_HELPER_CONSUL"

// startHelper runs the test binary as a helper holding key (kind "lock" or "presence") and waits
// until it holds it; the helper is killed when the spec ends.
func startHelper(kind, key string) *gexec.Session {
	GinkgoHelper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLocket$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+consul.HTTPAddr(), "LOCKET_HELPER_KEY="+key, "LOCKET_HELPER_KIND="+kind)
	helper, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { helper.Kill().Wait() })
	Eventually(helper.Out, 10*time.Second).Should(gbytes.Say("acquired"))
	return helper
}

func runLockHelper(addr string) {
	c, err := locket.NewClient(addr)
	if err != nil {
		fmt.Println("helper:", err)
		os.Exit(2)
	}
	l := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	var r ifrit.Runner = locket.NewLock(l, c, locket.LockConfig{
		Key: os.Getenv("LOCKET_HELPER_KEY"), Value: []byte("helper"), TTL: testTTL, RetryInterval: testRetry,
	})
	if os.Getenv("LOCKET_HELPER_KIND") == "presence" {
		r = locket.NewPresence(l, c, os.Getenv("LOCKET_HELPER_KEY"), []byte("helper"), testTTL, testRetry)
	}
	p := ifrit.Background(r)
	select {
	case <-p.Ready():
		fmt.Println("acquired")
	case err := <-p.Wait():
		fmt.Println("helper exited:", err)
		os.Exit(3)
	}
	err = <-p.Wait()
	fmt.Println("helper lock exited:", err)
	os.Exit(4)
}

// agentCleanups stop every agent the suite started, at the end of the suite.
var agentCleanups []func()

var _ = BeforeSuite(func() {
	logger = slog.New(slog.NewJSONHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelDebug}))
	startConsul()
})

var _ = AfterSuite(func() {
	for _, cleanup := range agentCleanups {
		cleanup()
	}
})

func startConsul() {
	GinkgoHelper()
	dir, err := os.MkdirTemp("", "locket-consul-")
	Expect(err).NotTo(HaveOccurred())
	c, err := testservers.StartConsul(dir)
	agentCleanups = append(agentCleanups, func() {
		if c != nil {
			_ = c.Stop()
		}
		_ = os.RemoveAll(dir)
	})
	Expect(err).NotTo(HaveOccurred())
	consul = c
	client, err = locket.NewClient(consul.HTTPAddr())
	Expect(err).NotTo(HaveOccurred())
}

// restartConsul restarts the agent on its ports with its data. A restart can fail when another
// process took one of its ports while it was down (other suites pick random ports too): then the
// spec fails, but a fresh agent on new ports replaces it so that the specs after it still run.
func restartConsul() {
	GinkgoHelper()
	err := consul.Restart()
	if err != nil {
		GinkgoWriter.Printf("consul restart failed, starting a fresh agent for the next specs: %v\n", err)
		_ = consul.Kill()
		startConsul()
	}
	Expect(err).NotTo(HaveOccurred(), "restarting consul")
}

var _ = AfterEach(func() {
	if CurrentSpecReport().Failed() && consul != nil {
		logs := consul.Logs()
		if len(logs) > 6000 {
			logs = logs[len(logs)-6000:]
		}
		GinkgoWriter.Printf("--- consul log tail:\n%s\n", logs)
	}
})

var keySeq atomic.Int64

// uniqueKey returns a key no other spec uses.
func uniqueKey(prefix string) string {
	return prefix + "spec-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatInt(keySeq.Add(1), 10)
}

// start runs r in the background and stops it (signal, wait) when the spec ends.
func start(r ifrit.Runner) ifrit.Process {
	p := ifrit.Background(r)
	DeferCleanup(func() {
		p.Signal(os.Interrupt)
		Eventually(p.Wait(), 10*time.Second).Should(Receive())
	})
	return p
}

// Raw Consul HTTP API, independent of the code under test.

func consulDo(method, path string, body []byte) (int, []byte) {
	GinkgoHelper()
	req, err := http.NewRequest(method, consul.URL()+path, bytes.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, b
}

type kvEntry struct {
	Key     string
	Value   []byte
	Session string
}

// kvGet returns the key's entry, or nil when it does not exist.
func kvGet(key string) *kvEntry {
	GinkgoHelper()
	code, body := consulDo("GET", "/v1/kv/"+key, nil)
	if code == http.StatusNotFound {
		return nil
	}
	Expect(code).To(Equal(http.StatusOK), string(body))
	var entries []kvEntry
	Expect(json.Unmarshal(body, &entries)).To(Succeed())
	Expect(entries).To(HaveLen(1))
	return &entries[0]
}

// holderOf returns the session holding key ("" when free or absent).
func holderOf(key string) string {
	GinkgoHelper()
	if e := kvGet(key); e != nil {
		return e.Session
	}
	return ""
}

type sessionInfo struct {
	ID        string
	TTL       string
	LockDelay int64 // nanoseconds
	Behavior  string
}

func sessionInfoOf(id string) *sessionInfo {
	GinkgoHelper()
	code, body := consulDo("GET", "/v1/session/info/"+id, nil)
	Expect(code).To(Equal(http.StatusOK), string(body))
	var infos []sessionInfo
	Expect(json.Unmarshal(body, &infos)).To(Succeed())
	if len(infos) == 0 {
		return nil
	}
	return &infos[0]
}

func destroySession(id string) {
	GinkgoHelper()
	code, body := consulDo("PUT", "/v1/session/destroy/"+id, nil)
	Expect(code).To(Equal(http.StatusOK), string(body))
}
