package steps_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/cache"
	"github.com/diego-go/diego/executor/steps"
	"github.com/diego-go/diego/models"
)

type fetch struct {
	url, cacheKey string
	sum           cache.Checksum
}

type fakeFetcher struct {
	mu    sync.Mutex
	calls []fetch
	data  string
	err   error
}

func (f *fakeFetcher) Fetch(_ context.Context, rawURL, cacheKey string, sum cache.Checksum) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fetch{rawURL, cacheKey, sum})
	if f.err != nil {
		return nil, f.err
	}
	return io.NopCloser(strings.NewReader(f.data)), nil
}

func (f *fakeFetcher) Calls() []fetch {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fetch{}, f.calls...)
}

var _ = Describe("Steps", func() {
	var (
		g         *fakeGarden
		logs      *recorder
		fetcher   *fakeFetcher
		info      executor.RunInfo
		deps      steps.Deps
		healthy   atomic.Int32
		readiness chan bool
		cancel    context.CancelFunc
	)

	BeforeEach(func() {
		g = newFakeGarden()
		logs = newRecorder("CELL")
		fetcher = &fakeFetcher{data: "tar!!"}
		healthy.Store(0)
		readiness = make(chan bool, 10)
		info = executor.RunInfo{
			LogConfig: executor.LogConfig{Guid: "log-guid", SourceName: "CELL"},
			Env:       []executor.EnvironmentVariable{{Name: "A", Value: "from-info"}, {Name: "B", Value: "b"}},
		}
		deps = steps.Deps{
			Container: g, Logs: logs, Cache: fetcher, HealthCheckPath: "/hc",
			UnhealthyInterval: 10 * time.Millisecond, HealthyInterval: 20 * time.Millisecond,
			GracePeriod: 10 * time.Second, ProcessIDPrefix: "guid",
		}
	})

	// start builds and performs the run step in the background.
	start := func() <-chan error {
		_, run := steps.Build(info, deps, steps.Callbacks{
			OnHealthy:          func() { healthy.Add(1) },
			OnReadinessChanged: func(r bool) { readiness <- r },
		})
		ctx, c := context.WithCancel(context.Background())
		cancel = c
		DeferCleanup(c)
		done := make(chan error, 1)
		go func() { done <- run.Perform(ctx) }()
		return done
	}
	isHealthy := func() bool { return healthy.Load() > 0 }

	Describe("Run", func() {
		var ra *models.RunAction
		BeforeEach(func() {
			nofile := uint64(77)
			ra = &models.RunAction{
				Path: "/app", Args: []string{"-x"}, Dir: "/home/vcap", User: "vcap", LogSource: "APP/PROC/WEB",
				Env:            []*models.EnvironmentVariable{{Name: "A", Value: "from-action"}},
				ResourceLimits: &models.ResourceLimits{Nofile: &nofile},
			}
			info.Action = wrapRun(ra)
		})

		It("starts the process as the action says, counts it healthy once started, and logs its output under the action's source", func() {
			done := start()
			p := g.Proc("/app")
			Expect(p.Spec.ID).To(Equal("guid-action"))
			Expect(p.Spec.Args).To(Equal([]string{"-x"}))
			Expect(p.Spec.Dir).To(Equal("/home/vcap"))
			Expect(p.Spec.User).To(Equal("vcap"))
			Expect(p.Spec.Env).To(Equal([]string{"A=from-info", "B=b", "A=from-action"}))
			Expect(*p.Spec.Limits.Nofile).To(BeEquivalentTo(77))
			Eventually(isHealthy).Should(BeTrue())
			p.Stdout().Write([]byte("hello\n"))
			p.Stderr().Write([]byte("oops\n"))
			p.Exit(0)
			Eventually(done).Should(Receive(BeNil()))
			Expect(logs.Lines()).To(Equal([]string{
				"APP/PROC/WEB stdout: hello", "APP/PROC/WEB stderr: oops", "APP/PROC/WEB stdout: Exit status 0",
			}))
		})

		It("fails with upstream's reason when the process exits non-zero", func() {
			done := start()
			g.Proc("/app").Exit(17)
			var err error
			Eventually(done).Should(Receive(&err))
			Expect(err).To(MatchError("APP/PROC/WEB: Exited with status 17"))
			Expect(errors.Is(err, steps.ErrCancelled)).To(BeFalse())
			Expect(logs.Lines()).To(ContainElement("APP/PROC/WEB stdout: Exit status 17"))
		})

		It("names the container's log source when the action has none", func() {
			ra.LogSource = ""
			done := start()
			g.Proc("/app").Exit(2)
			Eventually(done).Should(Receive(MatchError("CELL: Exited with status 2")))
		})

		It("names upstream's default source when neither the action nor the container names one", func() {
			ra.LogSource = ""
			info.LogConfig.SourceName = ""
			done := start()
			g.Proc("/app").Exit(2)
			Eventually(done).Should(Receive(MatchError("LOG: Exited with status 2")))
		})

		It("names an out-of-memory kill as garden reports it", func() {
			done := start()
			p := g.Proc("/app")
			g.AddEvent("oom")
			p.Exit(137)
			Eventually(done).Should(Receive(MatchError("APP/PROC/WEB: Exited with status 137 (out of memory)")))
			Expect(logs.Lines()).To(ContainElement("APP/PROC/WEB stdout: Exit status 137 (out of memory)"))
		})

		It("does not name an out-of-memory kill the container had before the process started", func() {
			g.Events = []string{"oom"}
			done := start()
			g.Proc("/app").Exit(137)
			Eventually(done).Should(Receive(MatchError("APP/PROC/WEB: Exited with status 137")))
		})

		It("discards the output and the exit line with suppress_log_output", func() {
			ra.SuppressLogOutput = true
			done := start()
			p := g.Proc("/app")
			Expect(p.Stdout()).To(Equal(io.Discard))
			Expect(p.Stderr()).To(Equal(io.Discard))
			p.Exit(1)
			Eventually(done).Should(Receive(HaveOccurred()))
			Expect(logs.Lines()).To(BeEmpty())
		})

		It("stops the process with SIGTERM when cancelled", func() {
			done := start()
			p := g.Proc("/app")
			cancel()
			var err error
			Eventually(done).Should(Receive(&err))
			Expect(errors.Is(err, steps.ErrCancelled)).To(BeTrue())
			Expect(p.Signals()).To(Equal([]garden.Signal{garden.SignalTerminate}))
			Expect(logs.Lines()).To(ContainElement("APP/PROC/WEB stdout: Exit status 143"))
		})

		It("kills it after the container's grace period (over the cell's) when SIGTERM does not end it", func() {
			info.GracePeriod = 100 * time.Millisecond
			done := start()
			p := g.Proc("/app")
			p.IgnoreTerm = true
			began := time.Now()
			cancel()
			var err error
			Eventually(done).Should(Receive(&err))
			Expect(time.Since(began)).To(BeNumerically(">=", 100*time.Millisecond))
			Expect(errors.Is(err, steps.ErrCancelled)).To(BeTrue())
			Expect(p.Signals()).To(Equal([]garden.Signal{garden.SignalTerminate, garden.SignalKill}))
			Expect(logs.Lines()).To(ContainElement("APP/PROC/WEB stdout: Exit status 137 (exceeded 100ms graceful shutdown interval)"))
		})

		It("names the process by its position alone without a prefix (garden refuses ids starting with '-')", func() {
			deps.ProcessIDPrefix = ""
			start()
			Expect(g.Proc("/app").Spec.ID).To(Equal("action"))
		})

		It("fails naming the path when garden cannot start the process", func() {
			g.RunReturns(nil, errors.New("no such file"))
			done := start()
			Eventually(done).Should(Receive(MatchError(ContainSubstring("creating process /app: no such file"))))
			Expect(isHealthy()).To(BeFalse())
		})
	})

	Describe("composition", func() {
		It("runs serial steps in order, stopping at the first failure", func() {
			info.Action = serial(run("/one"), run("/two"), run("/three"))
			done := start()
			g.Proc("/one").Exit(0)
			g.Proc("/two").Exit(3)
			Eventually(done).Should(Receive(MatchError("CELL: Exited with status 3")))
			Expect(g.Procs()).To(HaveLen(2))
			Expect(g.Procs()[1].Spec.ID).To(Equal("guid-action-1"))
		})

		It("runs parallel steps to their ends and joins their failures; it is healthy once all started", func() {
			info.Action = parallel(run("/one"), run("/two"), run("/three"))
			gate := make(chan struct{})
			g.Gate("/three", gate)
			done := start()
			one, two := g.Proc("/one"), g.Proc("/two")
			Consistently(isHealthy, 50*time.Millisecond).Should(BeFalse())
			close(gate)
			Eventually(isHealthy).Should(BeTrue())
			one.Exit(1)
			two.Exit(2)
			Consistently(done, 50*time.Millisecond).ShouldNot(Receive())
			g.Proc("/three").Exit(0)
			Eventually(done).Should(Receive(MatchError("CELL: Exited with status 1; CELL: Exited with status 2")))
		})

		It("stops codependent steps when one of them exits, even with 0", func() {
			info.Action = codependent(run("/one"), run("/two"))
			done := start()
			two := g.Proc("/two")
			g.Proc("/one").Exit(0)
			Eventually(done).Should(Receive(MatchError("Codependent step exited")))
			Expect(two.Signals()).To(Equal([]garden.Signal{garden.SignalTerminate}))
		})

		It("fails a step that runs past its timeout, naming it", func() {
			info.Action = timeout(50, run("/slow"))
			done := start()
			p := g.Proc("/slow")
			var err error
			Eventually(done).Should(Receive(&err))
			Expect(err).To(MatchError("exceeded 50ms timeout"))
			Expect(errors.Is(err, steps.ErrCancelled)).To(BeFalse())
			Expect(p.Signals()).To(ContainElement(garden.SignalTerminate))
		})

		It("ignores a tried step's failure", func() {
			info.Action = serial(try(run("/fails")), run("/next"))
			done := start()
			g.Proc("/fails").Exit(1)
			g.Proc("/next").Exit(0)
			Eventually(done).Should(Receive(BeNil()))
		})

		It("logs progress around a step", func() {
			info.Action = serial(emitProgress("starting", "worked", "broke", run("/ok")), emitProgress("", "", "broke", run("/fails")))
			done := start()
			g.Proc("/ok").Exit(0)
			g.Proc("/fails").Exit(4)
			Eventually(done).Should(Receive(HaveOccurred()))
			Expect(logs.Lines()).To(Equal([]string{
				"CELL stdout: starting", "CELL stdout: Exit status 0", "CELL stdout: worked",
				"CELL stdout: Exit status 4", "CELL stderr: broke: CELL: Exited with status 4",
			}))
		})

		It("reaches every running process at any depth when cancelled", func() {
			info.Action = serial(run("/first"), parallel(run("/a"), try(timeout(60000, codependent(run("/b"), emitProgress("", "", "", run("/c")))))))
			done := start()
			g.Proc("/first").Exit(0)
			a, b, c := g.Proc("/a"), g.Proc("/b"), g.Proc("/c")
			Expect(c.Spec.ID).To(Equal("guid-action-1-1-1"))
			Eventually(isHealthy).Should(BeTrue())
			cancel()
			var err error
			Eventually(done).Should(Receive(&err))
			Expect(errors.Is(err, steps.ErrCancelled)).To(BeTrue())
			for _, p := range []*fakeProc{a, b, c} {
				Expect(p.Signals()).To(Equal([]garden.Signal{garden.SignalTerminate}))
			}
		})
	})

	Describe("health", func() {
		BeforeEach(func() {
			info.Action = wrapRun(&models.RunAction{Path: "/app", LogSource: "APP/PROC/WEB"})
		})

		It("with no monitor or check: healthy when the process starts; an exit 0 ends the run step without a failure", func() {
			done := start()
			p := g.Proc("/app")
			Eventually(isHealthy).Should(BeTrue())
			p.Exit(0)
			Eventually(done).Should(Receive(BeNil()))
		})

		It("a sidecar's exit ends the instance", func() {
			info.Sidecars = []executor.Sidecar{{Action: wrapRun(&models.RunAction{Path: "/sidecar", LogSource: "SIDECAR"})}}
			done := start()
			app := g.Proc("/app")
			Expect(g.Proc("/sidecar").Spec.ID).To(Equal("guid-sidecar-0"))
			Eventually(isHealthy).Should(BeTrue())
			g.Proc("/sidecar").Exit(1)
			Eventually(done).Should(Receive(MatchError("SIDECAR: Exited with status 1")))
			Expect(app.Signals()).To(Equal([]garden.Signal{garden.SignalTerminate}))
		})

		It("with sidecars, the action exiting 0 stops them and ends the run step without a failure", func() {
			info.Sidecars = []executor.Sidecar{{Action: run("/sidecar")}}
			done := start()
			sidecar := g.Proc("/sidecar")
			g.Proc("/app").Exit(0)
			Eventually(done).Should(Receive(BeNil()))
			Expect(sidecar.Signals()).To(Equal([]garden.Signal{garden.SignalTerminate}))
		})

		It("uses the Monitor action in place of the checks when there is no health check binary", func() {
			deps.HealthCheckPath = ""
			info.CheckDefinition = &models.CheckDefinition{Checks: []*models.Check{tcpCheck(8080)}}
			info.Monitor = run("/check")
			start()
			g.Proc("/check").Exit(0)
			Eventually(isHealthy).Should(BeTrue())
			for _, p := range g.Procs() {
				Expect(p.Spec.Path).NotTo(BeEmpty())
			}
		})

		Context("with a CheckDefinition", func() {
			BeforeEach(func() {
				info.CheckDefinition = &models.CheckDefinition{Checks: []*models.Check{tcpCheck(8080), httpCheck(9090, "/health", 500)}}
			})

			It("is healthy once every startup check passes, then runs liveness checks at their interval", func() {
				done := start()
				tcp := g.Proc("/hc", "-port=8080 -timeout=1000ms -startup")
				Expect(tcp.Spec.ID).To(Equal("guid-startup-healthcheck-0"))
				Expect(tcp.Spec.Args).To(Equal([]string{"-port=8080", "-timeout=1000ms", "-startup-interval=10ms", "-startup-timeout=0s"}))
				Expect(*tcp.Spec.Limits.Nofile).To(BeEquivalentTo(1024))
				http := g.Proc("/hc", "-uri=/health -startup")
				Expect(http.Spec.Args).To(Equal([]string{"-port=9090", "-timeout=1000ms", "-uri=/health", "-startup-interval=10ms", "-startup-timeout=0s"}))
				tcp.Exit(0)
				Consistently(isHealthy, 50*time.Millisecond).Should(BeFalse())
				http.Exit(0)
				Eventually(isHealthy).Should(BeTrue())
				Expect(g.Proc("/hc", "-port=8080 -timeout=1000ms -liveness-interval=20ms").Spec.ID).To(Equal("guid-liveness-healthcheck-0"))
				Expect(g.Proc("/hc", "-uri=/health -liveness-interval=500ms").Spec.ID).To(Equal("guid-liveness-healthcheck-1"))
				Expect(logs.Lines()).To(Equal([]string{"CELL stdout: Starting health monitoring of container", "CELL stdout: Container became healthy"}))
				Consistently(done, 50*time.Millisecond).ShouldNot(Receive())
			})

			It("crashes with upstream's reason when a liveness check fails", func() {
				done := start()
				g.Proc("/hc", "-port=8080 -timeout=1000ms -startup").Exit(0)
				g.Proc("/hc", "-uri=/health -startup").Exit(0)
				Eventually(isHealthy).Should(BeTrue())
				live := g.Proc("/hc", "-port=8080 -timeout=1000ms -liveness")
				live.Stderr().Write([]byte("Liveness check unsuccessful: "))
				live.Stderr().Write([]byte("failed to make TCP connection to 10.0.0.2:8080: connection refused\n"))
				live.Exit(4)
				msg := "Liveness check unsuccessful: failed to make TCP connection to 10.0.0.2:8080: connection refused"
				Eventually(done).Should(Receive(MatchError("Instance became unhealthy: " + msg)))
				Expect(g.Proc("/app").Signals()).To(Equal([]garden.Signal{garden.SignalTerminate}))
				Expect(logs.Lines()).To(ContainElements("HEALTH stderr: "+msg, "CELL stderr: Container became unhealthy"))
			})

			It("crashes with upstream's reason when the startup checks fail, under the check's log source", func() {
				info.CheckDefinition.LogSource = "MYHEALTH"
				info.StartTimeoutMs = 3000
				done := start()
				Expect(g.Proc("/hc", "-port=8080 -timeout=1000ms -startup").Spec.Args).To(ContainElement("-startup-timeout=3s"))
				tcp := g.Proc("/hc", "-port=8080 -timeout=1000ms -startup")
				tcp.Stderr().Write([]byte("Timed out after 3s (2 attempts) waiting for startup check to succeed: failed to make TCP connection\n"))
				tcp.Exit(4)
				g.Proc("/hc", "-uri=/health -startup").Exit(0)
				var err error
				Eventually(done).Should(Receive(&err))
				Expect(err.Error()).To(MatchRegexp(`^Instance never healthy after [0-9.]+m?s: Timed out after 3s \(2 attempts\) waiting for startup check to succeed: failed to make TCP connection$`))
				Expect(isHealthy()).To(BeFalse())
				Expect(logs.Lines()).To(ContainElement(MatchRegexp(`^CELL stderr: Failed after [0-9.]+m?s: startup health check never passed.$`)))
				Expect(logs.Lines()).To(ContainElement(HavePrefix("MYHEALTH stderr: Timed out after 3s")))
			})

			It("does not crash when the process exits 0", func() {
				done := start()
				g.Proc("/app").Exit(0)
				Consistently(done, 100*time.Millisecond).ShouldNot(Receive())
			})

			It("crashes at once when the process exits non-zero, before the checks pass", func() {
				done := start()
				g.Proc("/app").Exit(1)
				Eventually(done).Should(Receive(MatchError("APP/PROC/WEB: Exited with status 1")))
				Expect(isHealthy()).To(BeFalse())
			})
		})

		It("readiness checks flip readiness both ways and never crash", func() {
			info.CheckDefinition = &models.CheckDefinition{ReadinessChecks: []*models.Check{httpCheck(8080, "/ready", 0)}}
			done := start()
			Eventually(isHealthy).Should(BeTrue())
			until := g.Proc("/hc", "-until-ready-interval=10ms")
			Expect(until.Spec.ID).To(HavePrefix("guid-until-ready-healthcheck-0-"))
			Consistently(readiness, 30*time.Millisecond).ShouldNot(Receive())
			until.Exit(0)
			Eventually(readiness).Should(Receive(BeTrue()))
			check := g.Proc("/hc", "-readiness-interval=20ms")
			check.Stderr().Write([]byte("Readiness check unsuccessful: received status code 500\n"))
			check.Exit(6)
			Eventually(readiness).Should(Receive(BeFalse()))
			Eventually(func() int {
				n := 0
				for _, p := range g.Procs() {
					if strings.Contains(strings.Join(p.Spec.Args, " "), "-until-ready-interval") {
						n++
					}
				}
				return n
			}).Should(Equal(2))
			Consistently(done, 50*time.Millisecond).ShouldNot(Receive())
			Expect(logs.Lines()).To(ContainElements(
				"HEALTH stdout: Container passed the readiness health check. Container marked ready and added to route pool.",
				"HEALTH stdout: Container failed the readiness health check. Container marked not ready and removed from route pool.",
			))
		})

		Context("with a Monitor action", func() {
			var monitorRuns atomic.Int32
			var monitorExit atomic.Int32
			BeforeEach(func() {
				monitorRuns.Store(0)
				monitorExit.Store(1)
				info.Monitor = wrapRun(&models.RunAction{Path: "/check", LogSource: "HEALTH", SuppressLogOutput: true})
				g.OnRun = func(p *fakeProc) {
					if p.Spec.Path == "/check" {
						monitorRuns.Add(1)
						p.Stdout().Write([]byte("checked\n"))
						p.Exit(int(monitorExit.Load()))
					}
				}
			})

			It("is healthy once the monitor passes, and crashes when it then fails; its output is logged", func() {
				done := start()
				Eventually(monitorRuns.Load).Should(BeNumerically(">=", 3))
				Expect(isHealthy()).To(BeFalse())
				Expect(g.Proc("/check").Spec.ID).To(BeEmpty())
				monitorExit.Store(0)
				Eventually(isHealthy).Should(BeTrue())
				monitorExit.Store(1)
				Eventually(done).Should(Receive(MatchError("Instance became unhealthy: ")))
				Expect(logs.Lines()).To(ContainElement("HEALTH stdout: checked"))
				Expect(logs.Lines()).NotTo(ContainElement(HavePrefix("HEALTH stdout: Exit status")))
			})

			It("crashes after the start timeout", func() {
				info.StartTimeoutMs = 50
				done := start()
				Eventually(done).Should(Receive(MatchError(HavePrefix("Instance never healthy after "))))
			})

			It("never gives up with no start timeout", func() {
				done := start()
				Consistently(done, 200*time.Millisecond).ShouldNot(Receive())
				Expect(monitorRuns.Load()).To(BeNumerically(">", 5))
			})

			It("uses the output of a parallel monitor's checks as the reason", func() {
				info.Monitor = parallel(run("/check"), run("/check"))
				monitorExit.Store(4)
				info.StartTimeoutMs = 30
				done := start()
				Eventually(done).Should(Receive(MatchError(MatchRegexp(`^Instance never healthy after [0-9.]+m?s: checked; checked$`))))
			})
		})
	})

	Describe("adopt mode", func() {
		BeforeEach(func() {
			deps.Adopt = true
			info.Setup = run("/setup")
			g.OnRun = func(p *fakeProc) {
				if p.Spec.Path == "/setup" {
					p.Exit(0)
				}
			}
		})

		It("performs the setup again, in the run step, when no process of the action runs", func() {
			info.Action = run("/app")
			setup, _ := steps.Build(info, deps, steps.Callbacks{})
			Expect(setup).To(BeNil())
			start()
			Expect(g.Proc("/setup").Spec.ID).To(Equal("guid-setup"))
			Expect(g.Proc("/app").Spec.ID).To(Equal("guid-action"))
		})

		It("has no setup step and attaches to the running process instead of starting one", func() {
			existing := g.Adopted("guid-action")
			info.Action = wrapRun(&models.RunAction{Path: "/app", LogSource: "APP/PROC/WEB"})
			setup, _ := steps.Build(info, deps, steps.Callbacks{})
			Expect(setup).To(BeNil())
			done := start()
			Eventually(isHealthy).Should(BeTrue())
			Expect(g.RunCallCount()).To(BeZero())
			existing.Stdout().Write([]byte("still here\n"))
			existing.Exit(3)
			Eventually(done).Should(Receive(MatchError("APP/PROC/WEB: Exited with status 3")))
			Expect(logs.Lines()).To(ContainElement("APP/PROC/WEB stdout: still here"))
		})

		It("attaches to the running liveness checks once the startup check is seen passed", func() {
			info.Action = run("/app")
			info.CheckDefinition = &models.CheckDefinition{Checks: []*models.Check{tcpCheck(8080)}}
			g.Adopted("guid-action")
			g.Adopted("guid-startup-healthcheck-0").Exit(0)
			liveness := g.Adopted("guid-liveness-healthcheck-0")
			done := start()
			Eventually(isHealthy).Should(BeTrue())
			Expect(g.RunCallCount()).To(BeZero())
			liveness.Stderr().Write([]byte("Liveness check unsuccessful: gone\n"))
			liveness.Exit(4)
			Eventually(done).Should(Receive(MatchError("Instance became unhealthy: Liveness check unsuccessful: gone")))
		})

		It("kills the readiness checks an earlier executor left and starts its own", func() {
			info.Action = run("/app")
			info.CheckDefinition = &models.CheckDefinition{ReadinessChecks: []*models.Check{tcpCheck(8080)}}
			g.Adopted("guid-action")
			stale := g.Adopted("guid-readiness-healthcheck-0-old-7")
			start()
			Eventually(stale.Signals).Should(Equal([]garden.Signal{garden.SignalKill}))
			Expect(g.Proc("/hc", "-until-ready-interval").Spec.ID).NotTo(Equal("guid-readiness-healthcheck-0-old-7"))
		})

		It("skips the steps before a serial step's running process, and only those", func() {
			info.Action = serial(download(&models.DownloadAction{From: "http://x/a", To: "/a"}), run("/app"))
			g.Adopted("guid-action-1")
			start()
			Eventually(isHealthy).Should(BeTrue())
			Expect(fetcher.Calls()).To(BeEmpty())
			Expect(g.RunCallCount()).To(BeZero())
		})

		It("marks each process of the action started before it starts, and not the checks'", func() {
			info.Action = run("/app")
			info.CheckDefinition = &models.CheckDefinition{Checks: []*models.Check{tcpCheck(8080)}}
			info.Sidecars = []executor.Sidecar{{Action: run("/sidecar")}}
			deps.Adopt = false
			start()
			g.Proc("/app")
			g.Proc("/hc")
			ci, _ := g.Info()
			Expect(ci.Properties).To(Equal(garden.Properties{
				steps.StartedProperty("guid-action"): "true", steps.StartedProperty("guid-sidecar-0"): "true"}))
		})

		It("reads the container's out-of-memory count while it marks the action's process started: two garden round trips at once", func() {
			info.Action = run("/app")
			deps.Adopt = false
			infoStarted, markStarted := make(chan struct{}), make(chan struct{})
			var overlapped atomic.Bool
			var infoOnce, markOnce sync.Once
			readInfo, mark := g.InfoStub, g.SetPropertyStub
			g.InfoStub = func() (garden.ContainerInfo, error) {
				infoOnce.Do(func() {
					close(infoStarted)
					select {
					case <-markStarted:
						overlapped.Store(true)
					case <-time.After(time.Second):
					}
				})
				return readInfo()
			}
			g.SetPropertyStub = func(name, value string) error {
				markOnce.Do(func() { close(markStarted) })
				<-infoStarted
				return mark(name, value)
			}
			start()
			g.Proc("/app")
			Expect(overlapped.Load()).To(BeTrue(), "the count was read only after the start mark")
		})

		It("does not run again a started process garden no longer knows: it fails, its exit status unknown", func() {
			info.Action = serial(download(&models.DownloadAction{From: "http://x/a", To: "/a"}), wrapRun(&models.RunAction{Path: "/task", LogSource: "TASK"}))
			g.Forgotten("guid-setup")
			g.Forgotten("guid-action-1")
			done := start()
			Eventually(done).Should(Receive(MatchError("TASK: process exited while the cell's executor was away; its exit status is unknown")))
			Expect(g.RunCallCount()).To(BeZero())
			Expect(fetcher.Calls()).To(BeEmpty())
			Expect(logs.Lines()).To(ContainElement("TASK stdout: process exited while the cell's executor was away; its exit status is unknown"))
		})

		It("does not run the setup again when it was started and garden no longer knows it", func() {
			info.Action = run("/app")
			g.Forgotten("guid-setup")
			done := start()
			Eventually(done).Should(Receive(MatchError(ContainSubstring("its exit status is unknown"))))
			Expect(g.RunCallCount()).To(BeZero())
		})

		It("runs a serial step from the start when none of its processes runs", func() {
			info.Action = serial(download(&models.DownloadAction{From: "http://x/a", To: "/a"}), run("/app"))
			start()
			g.Proc("/app")
			Expect(fetcher.Calls()).To(HaveLen(1))
		})
	})

	Describe("Download", func() {
		BeforeEach(func() {
			info.Action = download(&models.DownloadAction{
				Artifact: "droplet", From: "http://blobs/droplet.tgz", To: "/home/vcap", CacheKey: "droplet-1",
				User: "vcap", ChecksumAlgorithm: "sha256", ChecksumValue: "abc", LogSource: "STG",
			})
		})

		It("streams the fetched artifact into the container as the action's user", func() {
			var streamed garden.StreamInSpec
			var content []byte
			g.StreamInStub = func(spec garden.StreamInSpec) error {
				streamed = spec
				content, _ = io.ReadAll(spec.TarStream)
				return nil
			}
			Eventually(start()).Should(Receive(BeNil()))
			Expect(fetcher.Calls()).To(Equal([]fetch{{"http://blobs/droplet.tgz", "droplet-1", cache.Checksum{Algorithm: "sha256", Value: "abc"}}}))
			Expect(streamed.Path).To(Equal("/home/vcap"))
			Expect(streamed.User).To(Equal("vcap"))
			Expect(string(content)).To(Equal("tar!!"))
			Expect(logs.Lines()).To(Equal([]string{"STG stdout: Downloading droplet...", "STG stdout: Downloaded droplet (5B)"}))
		})

		It("fails with ErrDownloadFailed and upstream's words when the fetch fails", func() {
			fetcher.err = errors.New("404 Not Found")
			var err error
			Eventually(start()).Should(Receive(&err))
			Expect(err).To(MatchError("Downloading droplet failed"))
			Expect(errors.Is(err, steps.ErrDownloadFailed)).To(BeTrue())
			Expect(logs.Lines()).To(ContainElement("STG stderr: Downloading droplet failed"))
		})

		It("fails with ErrDownloadFailed when the copy into the container fails", func() {
			g.StreamInReturns(errors.New("disk full"))
			var err error
			Eventually(start()).Should(Receive(&err))
			Expect(err).To(MatchError("Copying droplet into the container failed: disk full"))
			Expect(errors.Is(err, steps.ErrDownloadFailed)).To(BeTrue())
		})
	})

	Describe("Upload", func() {
		var (
			server   *httptest.Server
			mu       sync.Mutex
			received []*http.Request
			bodies   []string
			status   int
		)
		BeforeEach(func() {
			status = http.StatusCreated
			received, bodies = nil, nil
			server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				received = append(received, r)
				bodies = append(bodies, string(body))
				mu.Unlock()
				w.WriteHeader(status)
			}))
			DeferCleanup(server.Close)
			var tarball bytes.Buffer
			tw := tar.NewWriter(&tarball)
			tw.WriteHeader(&tar.Header{Name: "result.json", Mode: 0644, Size: 7})
			tw.Write([]byte("result!"))
			tw.Close()
			g.StreamOutStub = func(spec garden.StreamOutSpec) (io.ReadCloser, error) {
				Expect(spec).To(Equal(garden.StreamOutSpec{Path: "/tmp/result.json", User: "vcap"}))
				return io.NopCloser(bytes.NewReader(tarball.Bytes())), nil
			}
			info.Action = upload(&models.UploadAction{Artifact: "result", From: "/tmp/result.json", To: server.URL + "/up", User: "vcap"})
		})

		It("POSTs the file out of the container with upstream's headers", func() {
			Eventually(start()).Should(Receive(BeNil()))
			Expect(received).To(HaveLen(1))
			Expect(received[0].Method).To(Equal("POST"))
			Expect(received[0].URL.Path).To(Equal("/up"))
			Expect(received[0].Header.Get("Content-Type")).To(Equal("application/octet-stream"))
			Expect(received[0].Header.Get("Content-MD5")).To(Equal("KxS7gfcOqSVlCzeaPLf8+g=="))
			Expect(received[0].Header.Get("Content-Digest")).To(HavePrefix("sha-256=:"))
			Expect(bodies).To(Equal([]string{"result!"}))
			Expect(logs.Lines()).To(Equal([]string{"CELL stdout: Uploading result...", "CELL stdout: Uploaded result (7B)"}))
		})

		It("tries three times, then fails with the status", func() {
			status = http.StatusInternalServerError
			Eventually(start()).Should(Receive(MatchError("Upload failed: Status code 500")))
			Expect(received).To(HaveLen(3))
			Expect(logs.Lines()).To(ContainElement("CELL stderr: Failed to upload payload for result"))
		})
	})
})
