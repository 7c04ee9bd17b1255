package steps_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"time"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/steps"
	"github.com/diego-go/diego/internal/gardentest"
	"github.com/diego-go/diego/models"
)

var _ = Describe("on a real garden", Ordered, ContinueOnFailure, func() {
	const checkDir = "/etc/cf-assets/healthcheck"
	var (
		gdn      *gardentest.Garden
		hcDir    string
		c        garden.Container
		logs     *recorder
		info     executor.RunInfo
		deps     steps.Deps
		healthy  chan struct{}
		cancel   context.CancelFunc
		memLimit uint64
		fetcher  steps.Fetcher
	)

	BeforeAll(func() {
		gdn = gardentest.Start(gardentest.Options{})
		hcDir = gardentest.HealthcheckDir()
	})

	BeforeEach(func() {
		memLimit = 0
		logs = newRecorder("CELL")
		DeferCleanup(func() {
			if CurrentSpecReport().Failed() {
				GinkgoWriter.Printf("log lines: %q\n", logs.Lines())
			}
		})
		healthy = make(chan struct{})
		info = executor.RunInfo{LogConfig: executor.LogConfig{SourceName: "CELL"}, Env: []executor.EnvironmentVariable{{Name: "PORT", Value: "8080"}}}
	})

	// start creates the container and performs the run step in the background.
	start := func(cbs ...steps.Callbacks) <-chan error {
		var err error
		c, err = gdn.Client.Create(garden.ContainerSpec{
			RootFSPath: gdn.RootFS,
			BindMounts: []garden.BindMount{{SrcPath: hcDir, DstPath: checkDir, Mode: garden.BindMountModeRO}},
			Limits:     garden.Limits{Memory: garden.MemoryLimits{LimitInBytes: memLimit}},
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { gdn.Client.Destroy(c.Handle()) })
		deps = steps.Deps{
			Container: c, Logs: logs, Cache: fetcher, HealthCheckPath: filepath.Join(checkDir, "healthcheck"),
			UnhealthyInterval: 100 * time.Millisecond, HealthyInterval: 200 * time.Millisecond,
			GracePeriod: 10 * time.Second, ProcessIDPrefix: c.Handle(),
		}
		cb := steps.Callbacks{OnHealthy: func() { close(healthy) }}
		if len(cbs) > 0 {
			cb.OnReadinessChanged = cbs[0].OnReadinessChanged
		}
		_, run := steps.Build(info, deps, cb)
		ctx, cf := context.WithCancel(context.Background())
		cancel = cf
		DeferCleanup(cf)
		done := make(chan error, 1)
		go func() { done <- run.Perform(ctx) }()
		return done
	}
	// inContainer runs a shell command in the container and waits for it.
	inContainer := func(script string) {
		p, err := c.Run(garden.ProcessSpec{Path: "/bin/sh", Args: []string{"-c", script}}, garden.ProcessIO{Stdout: GinkgoWriter, Stderr: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Wait()).To(Equal(0))
	}
	app := func(args ...string) *models.Action {
		return wrapRun(&models.RunAction{Path: gardentest.TestAppPath(), Args: args, LogSource: "APP/PROC/WEB"})
	}
	sh := func(script string) *models.Action {
		return wrapRun(&models.RunAction{Path: "/bin/sh", Args: []string{"-c", script}, LogSource: "APP/PROC/WEB"})
	}

	It("crashes with the exit status and logs the output", func() {
		info.Action = sh("echo hello; echo oops >&2; exit 3")
		Eventually(start(), 10*time.Second).Should(Receive(MatchError("APP/PROC/WEB: Exited with status 3")))
		Expect(logs.Lines()).To(ContainElements("APP/PROC/WEB stdout: hello", "APP/PROC/WEB stderr: oops", "APP/PROC/WEB stdout: Exit status 3"))
	})

	It("names an out-of-memory kill", func() {
		memLimit = 32 << 20
		info.Action = sh(`a=$(head -c 200000000 /dev/zero | tr '\0' x); echo survived ${#a}`)
		Eventually(start(), 20*time.Second).Should(Receive(MatchError("APP/PROC/WEB: Exited with status 137 (out of memory)")))

		info.Action = sh("exit 3")
		again := deps
		again.ProcessIDPrefix += "-again"
		_, next := steps.Build(info, again, steps.Callbacks{})
		Expect(next.Perform(context.Background())).To(MatchError("APP/PROC/WEB: Exited with status 3"), "the earlier process's kill is not this one's")
	})

	It("is healthy once a TCP check passes against the app, and crashes when the app stops answering", func() {
		info.Action = app()
		info.CheckDefinition = &models.CheckDefinition{Checks: []*models.Check{tcpCheck(8080)}}
		done := start()
		Eventually(healthy, 10*time.Second).Should(BeClosed())
		Consistently(done, time.Second).ShouldNot(Receive())
		inContainer("wget -q -O- http://127.0.0.1:8080/exit?code=0 || true")
		var runErr error
		Eventually(done, 10*time.Second).Should(Receive(&runErr))
		Expect(runErr.Error()).To(MatchRegexp(`^Instance became unhealthy: Liveness check unsuccessful: failed to make TCP connection to [0-9.]+:8080: dial tcp [0-9.]+:8080: connect: connection refused$`))
		Expect(logs.Lines()).To(ContainElements("CELL stdout: Starting health monitoring of container", "CELL stdout: Container became healthy", "CELL stderr: Container became unhealthy"))
		Expect(logs.Lines()).To(ContainElement(HavePrefix("HEALTH stderr: Liveness check unsuccessful: ")))
	})

	It("is healthy once an HTTP check passes, and never healthy when it does not within the start timeout", func() {
		info.Action = app()
		info.CheckDefinition = &models.CheckDefinition{Checks: []*models.Check{httpCheck(8080, "/", 0)}}
		start()
		Eventually(healthy, 10*time.Second).Should(BeClosed())

		healthy = make(chan struct{})
		info.CheckDefinition = &models.CheckDefinition{Checks: []*models.Check{httpCheck(8080, "/", 0), tcpCheck(9090)}}
		info.StartTimeoutMs = 1500
		var runErr error
		Eventually(start(), 10*time.Second).Should(Receive(&runErr))
		Expect(runErr.Error()).To(MatchRegexp(`^Instance never healthy after 1\.[0-9]+s: Timed out after 1\.5s \(\d+ attempts\) waiting for startup check to succeed: failed to make TCP connection to [0-9.]+:9090: dial tcp [0-9.]+:9090: connect: connection refused$`))
		Expect(healthy).NotTo(BeClosed())
	})

	It("flips readiness as the app's readiness endpoint fails and passes, without crashing", func() {
		readiness := make(chan bool, 10)
		info.Action = app()
		info.CheckDefinition = &models.CheckDefinition{ReadinessChecks: []*models.Check{httpCheck(8080, "/ready", 100)}}
		done := start(steps.Callbacks{OnReadinessChanged: func(r bool) { readiness <- r }})
		Eventually(readiness, 10*time.Second).Should(Receive(BeTrue()))
		inContainer("wget -q -O- 'http://127.0.0.1:8080/ready?state=fail' || true")
		Eventually(readiness, 10*time.Second).Should(Receive(BeFalse()))
		inContainer("wget -q -O- 'http://127.0.0.1:8080/ready?state=pass' || true")
		Eventually(readiness, 10*time.Second).Should(Receive(BeTrue()))
		Expect(done).NotTo(Receive())
	})

	It("adopted, skips the downloads before a running process and attaches to it", func() {
		var tarball bytes.Buffer
		tw := tar.NewWriter(&tarball)
		tw.WriteHeader(&tar.Header{Name: "greeting", Mode: 0644, Size: 5})
		tw.Write([]byte("hello"))
		tw.Close()
		first := &fakeFetcher{data: tarball.String()}
		info.Action = serial(
			download(&models.DownloadAction{From: "http://blobs/app.tar", To: "/home/app"}),
			sh("cat /home/app/greeting; echo; trap 'exit 7' TERM; while true; do sleep 0.1; done"),
		)
		fetcher = first
		start() // the first executor: never stopped, as if it had been killed
		Eventually(healthy, 10*time.Second).Should(BeClosed())
		Eventually(logs.Lines, 5*time.Second).Should(ContainElement("APP/PROC/WEB stdout: hello"))

		again := &fakeFetcher{data: tarball.String()}
		adopted := deps
		adopted.Cache, adopted.Adopt = again, true
		adoptedLogs := newRecorder("CELL")
		adopted.Logs = adoptedLogs
		adoptedHealthy := make(chan struct{})
		_, run := steps.Build(info, adopted, steps.Callbacks{OnHealthy: func() { close(adoptedHealthy) }})
		done := make(chan error, 1)
		go func() { done <- run.Perform(context.Background()) }()
		Eventually(adoptedHealthy, 10*time.Second).Should(BeClosed())
		Expect(again.Calls()).To(BeEmpty())
		ci, err := c.Info()
		Expect(err).NotTo(HaveOccurred())
		Expect(ci.ProcessIDs).To(Equal([]string{c.Handle() + "-action-1"}))

		inContainer("kill -TERM $(pidof sh | tr ' ' '\\n' | sort -n | head -1)")
		Eventually(done, 10*time.Second).Should(Receive(MatchError("APP/PROC/WEB: Exited with status 7")))
		Expect(adoptedLogs.Lines()).To(ContainElement("APP/PROC/WEB stdout: Exit status 7"))
	})

	It("adopted, does not run again a process that ran to its end and that garden no longer knows", func() {
		info.Action = sh("echo ran >> /tmp/runs")
		Eventually(start(), 10*time.Second).Should(Receive(BeNil()))
		props, err := c.Properties()
		Expect(err).NotTo(HaveOccurred())
		Expect(props).To(HaveKeyWithValue(steps.StartedProperty(c.Handle()+"-action"), "true"))

		// garden forgets an exited process after a while: a container with the same properties
		// and no processes is what an executor adopting it then finds
		forgot, err := gdn.Client.Create(garden.ContainerSpec{RootFSPath: gdn.RootFS, Properties: props})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { gdn.Client.Destroy(forgot.Handle()) })
		adopted := deps
		adopted.Container, adopted.Adopt = forgot, true
		_, run := steps.Build(info, adopted, steps.Callbacks{})
		Expect(run.Perform(context.Background())).To(MatchError("APP/PROC/WEB: " + steps.ReasonExitedWhileAway))
		_, err = forgot.StreamOut(garden.StreamOutSpec{Path: "/tmp/runs", User: "root"})
		Expect(err).To(HaveOccurred(), "the action did not run in the adopted container")
	})

	It("stops with SIGTERM, and SIGKILL after the container's grace period when that is ignored", func() {
		info.Action = sh(`trap 'echo got TERM' TERM; while true; do sleep 0.1; done`)
		info.GracePeriod = 700 * time.Millisecond
		done := start()
		Eventually(healthy, 10*time.Second).Should(BeClosed())
		time.Sleep(200 * time.Millisecond) // the trap is set
		began := time.Now()
		cancel()
		var err error
		Eventually(done, 10*time.Second).Should(Receive(&err))
		Expect(errors.Is(err, steps.ErrCancelled)).To(BeTrue())
		Expect(time.Since(began)).To(BeNumerically(">=", 700*time.Millisecond))
		Expect(logs.Lines()).To(ContainElements("APP/PROC/WEB stdout: got TERM", "APP/PROC/WEB stdout: Exit status 137 (exceeded 700ms graceful shutdown interval)"))

		info.Action = app()
		done = start()
		Eventually(healthy, 10*time.Second).Should(BeClosed())
		began = time.Now()
		cancel()
		Eventually(done, 10*time.Second).Should(Receive(&err))
		Expect(errors.Is(err, steps.ErrCancelled)).To(BeTrue())
		Expect(time.Since(began)).To(BeNumerically("<", 700*time.Millisecond))
	})
})
