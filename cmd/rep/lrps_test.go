package main_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/internal/gardentest"
	"github.com/diego-go/diego/models"
)

// instance is the ORDINARY record of the process's index (nil if none).
func instance(processGuid string, index int32) *models.ActualLRP {
	GinkgoHelper()
	for _, a := range actuals(processGuid) {
		if a.GetActualLrpKey().GetIndex() == index && a.GetPresence() == models.ActualLRP_ORDINARY {
			return a
		}
	}
	return nil
}

// stateAndCrashes is the instance's state and crash count, for Eventually.
func stateAndCrashes(processGuid string, index int32) func() string {
	return func() string {
		a := instance(processGuid, index)
		if a == nil {
			return "none"
		}
		return fmt.Sprintf("%s %d", a.GetState(), a.GetCrashCount())
	}
}

// crashOnce desires one instance of the app, makes it do path once RUNNING, and waits for its
// first crash.
func crashOnce(processGuid, path string) {
	GinkgoHelper()
	desire(appLRP(processGuid, 1))
	Eventually(stateAndCrashes(processGuid, 0), 60*time.Second, 100*time.Millisecond).Should(Equal("RUNNING 0"))
	hit(instance(processGuid, 0), path)
	Eventually(func() int32 { return instance(processGuid, 0).GetCrashCount() }, 60*time.Second, 100*time.Millisecond).Should(Equal(int32(1)))
}

// hit makes the instance's app do something (/exit?code=N, /ready?state=fail ...); an app that
// exits may not answer.
func hit(a *models.ActualLRP, path string) {
	GinkgoHelper()
	Expect(appURL(a)).NotTo(BeEmpty())
	// an app that exits may close the connection unanswered; one that does not answer in time
	// (a small instance's few CPU shares on a loaded machine) is asked again
	Eventually(func() error {
		resp, err := httpClient.Get(appURL(a) + path)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return err
		}
		if err == nil {
			resp.Body.Close()
		}
		return nil
	}, 30*time.Second).Should(Succeed())
}

func runAction(path string, args ...string) *models.Action {
	return &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{
		Path: path, Args: args, User: "vcap",
		Env: []*models.EnvironmentVariable{{Name: "PORT", Value: "8080"}},
	}}}
}

func httpCheck(port uint32, path string) *models.Check {
	return &models.Check{Value: &models.Check_HttpCheck{HttpCheck: &models.HTTPCheck{Port: port, Path: path}}}
}

var _ = Describe("LRPs on a cell", func() {
	var c *cell

	BeforeEach(func() {
		c = startCell(guid("cell"), gardens[0], nil)
	})

	It("claims an instance, starts it only once its check passes, and it answers on its mapped host port", func() {
		processGuid := guid("app")
		lrp := appLRP(processGuid, 1)
		// the app listens 2 s after its process starts: the check fails until then
		lrp.Action = runAction("/bin/sh", "-c", "sleep 2; exec "+gardentest.TestAppPath())

		sub, err := bbsClient.SubscribeToLRPInstanceEvents(context.Background(), "")
		Expect(err).NotTo(HaveOccurred())
		defer sub.Close()
		desire(lrp)

		type seen struct {
			state string
			at    time.Time
		}
		var states []seen
		Eventually(func() string {
			for {
				e, err := sub.Next()
				if err != nil {
					return err.Error()
				}
				switch ev := e.(type) {
				case *models.ActualLRPInstanceCreatedEvent:
					if ev.GetActualLrp().GetActualLrpKey().GetProcessGuid() == processGuid {
						states = append(states, seen{ev.GetActualLrp().GetState(), time.Now()})
					}
				case *models.ActualLRPInstanceChangedEvent:
					if ev.GetActualLrpKey().GetProcessGuid() == processGuid {
						states = append(states, seen{ev.GetAfter().GetState(), time.Now()})
					}
				}
				if n := len(states); n > 0 && states[n-1].state != models.ActualLRPStateClaimed && states[n-1].state != models.ActualLRPStateUnclaimed {
					return states[n-1].state
				}
			}
		}, 60*time.Second).Should(Equal(models.ActualLRPStateRunning))
		var names []string
		for _, s := range states {
			names = append(names, s.state)
		}
		Expect(names).To(Equal([]string{models.ActualLRPStateUnclaimed, models.ActualLRPStateClaimed, models.ActualLRPStateRunning}))
		Expect(states[2].at.Sub(states[1].at)).To(BeNumerically(">=", 2*time.Second), "RUNNING only once the app listens")

		a := instance(processGuid, 0)
		Expect(a.GetActualLrpInstanceKey().GetCellId()).To(Equal(c.id))
		Expect(a.GetActualLrpNetInfo().GetAddress()).To(Equal(c.garden.ExternalIP))
		Expect(a.GetAvailabilityZone()).To(Equal("z1"))
		Expect(answer(a, "/")).To(Equal("0 " + a.GetActualLrpInstanceKey().GetInstanceGuid()))
	})

	It("flips routable with the readiness check, and never crashes the instance for it", func() {
		processGuid := guid("ready")
		lrp := appLRP(processGuid, 1)
		lrp.CheckDefinition.ReadinessChecks = []*models.Check{httpCheck(8080, "/ready")}
		desire(lrp)
		Eventually(func() bool {
			a := instance(processGuid, 0)
			return a != nil && a.GetState() == models.ActualLRPStateRunning && a.GetRoutable()
		}, 60*time.Second, 100*time.Millisecond).Should(BeTrue())

		hit(instance(processGuid, 0), "/ready?state=fail")
		Eventually(func() bool { return instance(processGuid, 0).GetRoutable() }, 20*time.Second, 100*time.Millisecond).Should(BeFalse())
		Expect(stateAndCrashes(processGuid, 0)()).To(Equal("RUNNING 0"))
		hit(instance(processGuid, 0), "/ready?state=pass")
		Eventually(func() bool { return instance(processGuid, 0).GetRoutable() }, 20*time.Second, 100*time.Millisecond).Should(BeTrue())
		Expect(stateAndCrashes(processGuid, 0)()).To(Equal("RUNNING 0"))
	})

	Describe("crashes, as vizzini's", func() {
		It("names the exit status in the crash reason and restarts the instance", func() {
			processGuid := guid("exit17")
			desire(appLRP(processGuid, 1))
			Eventually(stateAndCrashes(processGuid, 0), 60*time.Second, 100*time.Millisecond).Should(Equal("RUNNING 0"))
			before := instance(processGuid, 0)
			hit(before, "/exit?code=17")
			Eventually(stateAndCrashes(processGuid, 0), 60*time.Second, 100*time.Millisecond).Should(Equal("RUNNING 1"))
			after := instance(processGuid, 0)
			Expect(after.GetCrashReason()).To(Equal("APP/PROC/WEB: Exited with status 17"))
			Expect(after.GetActualLrpInstanceKey().GetInstanceGuid()).NotTo(Equal(before.GetActualLrpInstanceKey().GetInstanceGuid()))
			Eventually(func() string { return answer(instance(processGuid, 0), "/") }, 30*time.Second).ShouldNot(BeEmpty())
		})

		It("with no check, counts exit 0 as a crash too, and restarts at once twice, then backs off", func() {
			processGuid := guid("nocheck")
			lrp := appLRP(processGuid, 1)
			lrp.CheckDefinition = nil
			desire(lrp)
			for n := 1; n <= 2; n++ {
				Eventually(func() string { return answer(instance(processGuid, 0), "/") }, 60*time.Second, 100*time.Millisecond).ShouldNot(BeEmpty())
				hit(instance(processGuid, 0), "/exit?code=0")
				Eventually(stateAndCrashes(processGuid, 0), 60*time.Second, 100*time.Millisecond).Should(Equal(fmt.Sprintf("RUNNING %d", n)))
			}
			Eventually(func() string { return answer(instance(processGuid, 0), "/") }, 60*time.Second, 100*time.Millisecond).ShouldNot(BeEmpty())
			hit(instance(processGuid, 0), "/exit?code=1")
			Eventually(stateAndCrashes(processGuid, 0), 60*time.Second, 100*time.Millisecond).Should(Equal("CRASHED 3"))
			Consistently(stateAndCrashes(processGuid, 0), 3*time.Second, 200*time.Millisecond).Should(Equal("CRASHED 3"))
		})

		It("with a check, does not crash on exit 0 (the app may have daemonized): the liveness check does", func() {
			processGuid := guid("exit0")
			crashOnce(processGuid, "/exit?code=0")
			Expect(instance(processGuid, 0).GetCrashReason()).To(HavePrefix("Instance became unhealthy: Liveness check unsuccessful: "))
			Expect(instance(processGuid, 0).GetCrashReason()).To(ContainSubstring("failed to make HTTP request to '/' on port 8080: connection refused"))
		})

		It("names a check that never passed", func() {
			processGuid := guid("never")
			lrp := appLRP(processGuid, 1)
			lrp.CheckDefinition.Checks = []*models.Check{httpCheck(9090, "/ping")}
			lrp.StartTimeoutMs = 3000
			desire(lrp)
			Eventually(func() int32 { a := instance(processGuid, 0); return a.GetCrashCount() }, 60*time.Second, 100*time.Millisecond).Should(BeNumerically(">=", 1))
			reason := instance(processGuid, 0).GetCrashReason()
			Expect(reason).To(MatchRegexp(`^Instance never healthy after 3(\.\d+)?s: `), "the time it waited, as upstream's")
			Expect(reason).To(ContainSubstring("failed to make HTTP request to '/ping' on port 9090: connection refused"))
		})

		It("names the out-of-memory kill", func() {
			processGuid := guid("oom")
			crashOnce(processGuid, "/alloc?mb=256")
			Expect(instance(processGuid, 0).GetCrashReason()).To(MatchRegexp(`^APP/PROC/WEB: Exited with status \d+ \(out of memory\)$`))
		})
	})
})
