package main_test

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/bbstest"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

func TestDiegoCmd(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "cmd/diego Suite")
}

// Short timings: Consul runs with session_ttl_min 1s (testservers).
const (
	lockTTL   = 2 * time.Second
	lockRetry = 500 * time.Millisecond
)

var (
	diegoPath    string
	certs        tlstest.Files
	bbsURL       string
	natsURL      string
	bbsClient    *bbs.Client
	consulClient *locket.Client
	logger       *slog.Logger
)

var _ = BeforeSuite(func() {
	logger = slog.New(slog.NewJSONHandler(GinkgoWriter, nil))
	diegoPath = daemontest.Build("github.com/diego-go/diego/cmd/diego")[0]
	b := bbstest.Start(nil)
	bbsClient, bbsURL, certs, consulClient = b.Client, b.URL, b.Certs, b.Locket

	nats, err := testservers.StartNATS(filepath.Join(GinkgoT().TempDir(), "nats"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = nats.Stop() })
	natsURL = nats.URL()
})

// cleanEnv is this process's environment without the CLI's own variables, so that only what a
// spec gives reaches the CLI.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "BBS_") || strings.HasPrefix(name, "REP_") || strings.HasPrefix(name, "DIEGO_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// bbsFlags configure the CLI for the suite's BBS.
func bbsFlags() []string {
	return []string{"--bbs-url", bbsURL, "--bbs-ca-cert-file", certs.CACert, "--bbs-cert-file", certs.ClientCert, "--bbs-key-file", certs.ClientKey}
}

// start starts the CLI with args and extra environment variables.
func start(env []string, args ...string) *gexec.Session {
	GinkgoHelper()
	cmd := exec.Command(diegoPath, args...)
	cmd.Env = append(cleanEnv(), env...)
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Kill().Wait(5 * time.Second) })
	return s
}

// run runs the CLI with args to its end.
func run(env []string, args ...string) *gexec.Session {
	GinkgoHelper()
	s := start(env, args...)
	Eventually(s, 20*time.Second).Should(gexec.Exit())
	return s
}

// diego runs the CLI against the suite's BBS and returns its output; it must succeed.
func diego(args ...string) string {
	GinkgoHelper()
	return diegoWithEnv(nil, args...)
}

// diegoWithEnv is diego with extra environment variables.
func diegoWithEnv(env []string, args ...string) string {
	GinkgoHelper()
	s := run(env, append(bbsFlags(), args...)...)
	Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
	return string(s.Out.Contents())
}

// fails runs the CLI with args and env, expects a non-zero exit, and returns its stderr.
func fails(env []string, args ...string) string {
	GinkgoHelper()
	s := run(env, args...)
	Expect(s.ExitCode()).NotTo(Equal(0), string(s.Out.Contents()))
	return string(s.Err.Contents())
}
