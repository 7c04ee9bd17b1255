package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/internal/testservers"
)

// startApp starts the test app with env added to its own, answering at the returned base URL;
// it is killed when the spec ends.
func startApp(env ...string) (base string, session *gexec.Session) {
	GinkgoHelper()
	port, err := testservers.FreePort()
	Expect(err).NotTo(HaveOccurred())
	cmd := exec.Command(bin)
	cmd.Env = append([]string{fmt.Sprintf("PORT=%d", port), "CF_INSTANCE_INDEX=2", "CF_INSTANCE_GUID=guid-x"}, env...)
	session, err = gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { session.Kill().Wait(5 * time.Second) })
	Eventually(session).Should(gbytes.Say(fmt.Sprintf("testapp listening on port %d", port)))
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	Eventually(func() error { _, err := http.Get(base + "/"); return err }).Should(Succeed())
	return base, session
}

var _ = Describe("the test app", func() {
	var (
		base    string
		session *gexec.Session
	)

	BeforeEach(func() {
		base, session = startApp()
	})

	get := func(path string) (int, string) {
		GinkgoHelper()
		resp, err := (&http.Client{Timeout: time.Second}).Get(base + path)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	status := func(path string) int {
		GinkgoHelper()
		code, _ := get(path)
		return code
	}

	It("answers its index and guid, its environment, and flips /ready", func() {
		_, body := get("/")
		Expect(body).To(Equal("2 guid-x"))
		_, body = get("/env")
		env := map[string]string{}
		Expect(json.Unmarshal([]byte(body), &env)).To(Succeed())
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_GUID", "guid-x"))
		Expect(status("/ready")).To(Equal(200))
		Expect(status("/ready?state=fail")).To(Equal(500))
		Expect(status("/ready")).To(Equal(500))
		Expect(status("/ready?state=pass")).To(Equal(200))
		Expect(status("/ready?state=maybe")).To(Equal(400))
		resp, err := (&http.Client{Timeout: time.Second}).Get(base + "/nothing")
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(404))
		Expect(resp.Header.Get("X-Testapp-Instance")).To(Equal("2 guid-x"), "every answer names the instance")
	})

	It("prints lines on stdout and stderr", func() {
		get("/log?lines=3&text=hello")
		Eventually(session.Out).Should(gbytes.Say("hello 1\nhello 2\nhello 3\n"))
		get("/log")
		Eventually(session.Out).Should(gbytes.Say("log line 1\n"))
		get("/stderr?text=" + strings.ReplaceAll("on stderr", " ", "+"))
		Eventually(session.Err).Should(gbytes.Say("on stderr\n"))
		Expect(status("/log?lines=x")).To(Equal(400))
	})

	It("allocates memory and keeps it", func() {
		Expect(status("/alloc?mb=16")).To(Equal(200))
		rss, err := exec.Command("grep", "VmRSS", fmt.Sprintf("/proc/%d/status", session.Command.Process.Pid)).Output()
		Expect(err).NotTo(HaveOccurred())
		var kb int
		fmt.Sscanf(strings.TrimPrefix(string(rss), "VmRSS:"), "%d", &kb)
		Expect(kb).To(BeNumerically(">=", 16*1024))
		Expect(status("/alloc?mb=-1")).To(Equal(400))
	})

	It("sets a session cookie naming its instance on /session", func() {
		resp, err := (&http.Client{Timeout: time.Second}).Get(base + "/session")
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		Expect(string(b)).To(Equal("2 guid-x"))
		Expect(resp.Cookies()).To(ContainElement(And(
			HaveField("Name", "JSESSIONID"), HaveField("Value", "guid-x"))))
	})

	It("prints what is POSTed to /record before answering, and refuses a GET there", func() {
		resp, err := (&http.Client{Timeout: time.Second}).Post(base+"/record", "text/plain", strings.NewReader("post-17"))
		Expect(err).NotTo(HaveOccurred())
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		Expect(string(b)).To(Equal("recorded"))
		Eventually(session.Out).Should(gbytes.Say("record: post-17\n"))
		Expect(status("/record")).To(Equal(http.StatusMethodNotAllowed))

		start := time.Now()
		resp, err = (&http.Client{Timeout: 2 * time.Second}).Post(base+"/record?ms=300", "text/plain", strings.NewReader("post-18"))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(time.Since(start)).To(BeNumerically(">=", 300*time.Millisecond))
		Eventually(session.Out).Should(gbytes.Say("record: post-18\n"))
	})

	It("exits with the code asked for", func() {
		Expect(status("/exit?code=7")).To(Equal(200))
		Eventually(session).Should(gexec.Exit(7))
	})

	It("stops answering after /hang", func() {
		client := &http.Client{Timeout: 300 * time.Millisecond}
		_, err := client.Get(base + "/hang")
		Expect(err).To(HaveOccurred())
		_, err = client.Get(base + "/")
		Expect(err).To(MatchError(ContainSubstring("Client.Timeout")))
		Expect(session.ExitCode()).To(Equal(-1), "still running")
	})
})

var _ = Describe("the test app on SIGTERM", func() {
	// sleepInFlight starts GET /sleep?ms=1000 and returns once the app has it; the outcome
	// (the error, nil for a 200) arrives on the channel.
	sleepInFlight := func(base string) <-chan error {
		outcome := make(chan error, 1)
		go func() {
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + "/sleep?ms=1000")
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			outcome <- err
		}()
		time.Sleep(200 * time.Millisecond)
		return outcome
	}

	It("finishes the requests in flight and exits 0 by default", func() {
		base, session := startApp()
		outcome := sleepInFlight(base)
		session.Terminate()
		Eventually(outcome, 5*time.Second).Should(Receive(BeNil()), "the request in flight is answered")
		Eventually(session, 5*time.Second).Should(gexec.Exit(0))
	})

	It("exits at once with 143 under TESTAPP_ON_SIGTERM=exit, dropping the requests in flight", func() {
		base, session := startApp("TESTAPP_ON_SIGTERM=exit")
		outcome := sleepInFlight(base)
		terminated := time.Now()
		session.Terminate()
		Eventually(session, 5*time.Second).Should(gexec.Exit(143))
		Expect(time.Since(terminated)).To(BeNumerically("<", 500*time.Millisecond), "it did not wait for the request in flight")
		Eventually(outcome, 5*time.Second).Should(Receive(HaveOccurred()), "the request in flight gets no answer")
		Expect(session.Out).To(gbytes.Say("testapp: SIGTERM, exiting at once"))
	})

	It("refuses any other TESTAPP_ON_SIGTERM, naming it", func() {
		cmd := exec.Command(bin)
		cmd.Env = []string{"PORT=0", "TESTAPP_ON_SIGTERM=later"}
		session, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(session, 5*time.Second).Should(gexec.Exit(2))
		Expect(session.Err).To(gbytes.Say(`TESTAPP_ON_SIGTERM="later": must be "exit" or unset`))
	})
})
