package processor_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/tedsuo/ifrit"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/internal/bbstest"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/cellrep"
	"github.com/diego-go/diego/rep/internal/fakeexec"
	"github.com/diego-go/diego/rep/processor"
)

var specN atomic.Int32

func runAction() *models.Action {
	return &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/app", User: "vcap"}}}
}

var _ = Describe("Processor", func() {
	var (
		ctx        = context.Background()
		client     *bbs.Client
		exec       *fakeexec.Executor
		cell       *cellrep.CellRep
		proc       *processor.Processor
		evacuating atomic.Bool
		guid       string // this spec's process or task guid
		igN        int
		appLog     *gbytes.Buffer
		relay      *bbstest.Relay // the processor's way to the BBS
		drainDelay time.Duration
		running    ifrit.Process // the processor following the executor's events
	)

	BeforeEach(func() {
		drainDelay = 0
	})

	JustBeforeEach(func() {
		client = realBBS.Client
		guid = fmt.Sprintf("spec-%d", specN.Add(1))
		igN = 0
		evacuating.Store(false)
		exec = fakeexec.New(executor.Resources{MemoryMB: 1024, DiskMB: 1024, Containers: 10})
		logger := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
		cell = cellrep.New(cellrep.Config{CellID: "cell-1",
			RootFSProviders: models.RootFSProviders{"preloaded": models.FixedSetRootFSProvider("stack")},
			Evacuating:      evacuating.Load,
			NewInstanceGuid: func() string { igN++; return fmt.Sprintf("%s-ig-%d", guid, igN) },
		}, exec, logger)
		appLog = gbytes.NewBuffer()
		relay = realBBS.Relay()
		proc = processor.New(processor.Config{CellID: "cell-1", AvailabilityZone: "z1", Evacuating: evacuating.Load,
			AppLog: func(cfg executor.LogConfig, line string) {
				fmt.Fprintf(appLog, "%s %d: %s\n", cfg.Guid, cfg.Index, line)
			}, DrainDelay: drainDelay}, exec, relay.Client, logger)
		p := ifrit.Invoke(proc)
		running = p
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait(), 5*time.Second).Should(Receive(BeNil()))
		})
	})

	desire := func(instances int32) {
		Expect(client.DesireLRP(ctx, &models.DesiredLRP{ProcessGuid: guid, Domain: "d", RootFs: "preloaded:stack", Instances: instances,
			MemoryMb: 64, DiskMb: 64, Ports: []uint32{8080}, Action: runAction(), LogGuid: "log-" + guid,
			EnvironmentVariables: []*models.EnvironmentVariable{{Name: "PORT", Value: "8080"}}})).To(Succeed())
	}
	actual := func(index int32) *models.ActualLRP {
		lrps, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: guid, Index: &index})
		Expect(err).NotTo(HaveOccurred())
		for _, a := range lrps {
			if a.GetPresence() == models.ActualLRP_ORDINARY {
				return a
			}
		}
		return nil
	}
	place := func(index int32) string {
		rejected, err := cell.Perform(ctx, models.Work{LRPs: []models.RepLRP{{LRPKey: models.LRPKey{ProcessGUID: guid, Index: index, Domain: "d"},
			PlacementConstraint: models.PlacementConstraint{RootFs: "preloaded:stack"}, Resource: models.Resource{MemoryMB: 64, DiskMB: 64}}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(rejected.Empty()).To(BeTrue())
		return fmt.Sprintf("%s-ig-%d", guid, igN)
	}
	state := func(ig string) func() executor.State {
		return func() executor.State {
			c, err := exec.GetContainer(ctx, ig)
			if err != nil {
				return "gone"
			}
			return c.State
		}
	}

	Describe("an instance", func() {
		It("is claimed and run with its identity, started with net info, zone and routable, and crashed with the reason", func() {
			desire(1)
			ig := place(0)
			Eventually(state(ig)).Should(Equal(executor.StateInitializing))
			a := actual(0)
			Expect(a.GetState()).To(Equal(models.ActualLRPStateClaimed))
			Expect(proto.Equal(a.GetActualLrpInstanceKey(), &models.ActualLRPInstanceKey{InstanceGuid: ig, CellId: "cell-1"})).To(BeTrue())
			c, err := exec.GetContainer(ctx, ig)
			Expect(err).NotTo(HaveOccurred())
			Expect(c.RunInfo.Env).To(ContainElements(executor.EnvironmentVariable{Name: "CF_INSTANCE_GUID", Value: ig},
				executor.EnvironmentVariable{Name: "CF_INSTANCE_INDEX", Value: "0"}, executor.EnvironmentVariable{Name: "PORT", Value: "8080"}))

			exec.Run(ig, 61001)
			Eventually(func() string { return actual(0).GetState() }).Should(Equal(models.ActualLRPStateRunning))
			a = actual(0)
			Expect(a.GetActualLrpNetInfo().GetAddress()).To(Equal("10.0.0.1"))
			Expect(a.GetActualLrpNetInfo().GetPorts()).To(HaveLen(1))
			Expect(a.GetActualLrpNetInfo().GetPorts()[0].GetHostPort()).To(Equal(uint32(61001)))
			Expect(a.GetAvailabilityZone()).To(Equal("z1"))
			Expect(a.GetRoutable()).To(BeTrue())

			exec.SetReady(ig, false)
			Eventually(func() bool { return actual(0).GetRoutable() }).Should(BeFalse())
			exec.SetReady(ig, true)
			Eventually(func() bool { return actual(0).GetRoutable() }).Should(BeTrue())

			exec.Complete(ig, executor.RunResult{Failed: true, FailureReason: "APP/PROC/WEB: Exited with status 1"})
			Eventually(func() int32 { return actual(0).GetCrashCount() }).Should(Equal(int32(1)))
			Expect(actual(0).GetCrashReason()).To(Equal("APP/PROC/WEB: Exited with status 1"))
			Eventually(state(ig)).Should(Equal(executor.State("gone")))
		})

		It("keeps a crashed container while the BBS does not answer, and crashes the instance when it does", func() {
			desire(1)
			ig := place(0)
			Eventually(state(ig)).Should(Equal(executor.StateInitializing))
			exec.Run(ig, 61001)
			Eventually(func() string { return actual(0).GetState() }).Should(Equal(models.ActualLRPStateRunning))

			relay.Cut()
			exec.Complete(ig, executor.RunResult{Failed: true, FailureReason: "APP/PROC/WEB: Exited with status 1"})
			proc.Process(ctx, ig)
			Expect(state(ig)()).To(Equal(executor.StateCompleted))
			Expect(actual(0).GetCrashCount()).To(BeZero())

			relay.Restore()
			proc.Process(ctx, ig) // as bulk sync does
			Expect(state(ig)()).To(Equal(executor.State("gone")))
			Expect(actual(0).GetCrashCount()).To(Equal(int32(1)))
			Expect(actual(0).GetCrashReason()).To(Equal("APP/PROC/WEB: Exited with status 1"))
		})

		It("is removed when its container was stopped", func() {
			desire(1)
			ig := place(0)
			Eventually(state(ig)).Should(Equal(executor.StateInitializing))
			exec.Run(ig, 61001)
			Eventually(func() string { return actual(0).GetState() }).Should(Equal(models.ActualLRPStateRunning))
			Expect(exec.StopContainer(ctx, ig)).To(Succeed())
			Eventually(state(ig)).Should(Equal(executor.State("gone")))
			Eventually(func() string { return actual(0).GetActualLrpInstanceKey().GetInstanceGuid() }).ShouldNot(Equal(ig))
		})

		It("is given back when its container cannot run", func() {
			desire(1)
			exec.SetRunError(fmt.Errorf("garden is gone"))
			ig := place(0)
			Eventually(state(ig)).Should(Equal(executor.State("gone")))
			// removed: convergence creates the missing instance again, to be placed anew
			Eventually(func() *models.ActualLRP { return actual(0) }).Should(BeNil())
		})

		It("is not taken from the cell that holds it: the container goes", func() {
			desire(1)
			Expect(client.ClaimActualLRP(ctx, guid, 0, &models.ActualLRPInstanceKey{InstanceGuid: "other", CellId: "cell-2"})).To(Succeed())
			ig := place(0)
			Eventually(state(ig)).Should(Equal(executor.State("gone")))
			Expect(actual(0).GetActualLrpInstanceKey().GetCellId()).To(Equal("cell-2"))
		})

		It("stops a running container whose instance runs on another cell now", func() {
			desire(1)
			ig := place(0)
			Eventually(state(ig)).Should(Equal(executor.StateInitializing))
			other := &models.ActualLRPInstanceKey{InstanceGuid: "other", CellId: "cell-2"}
			Expect(client.RemoveActualLRP(ctx, guid, 0, &models.ActualLRPInstanceKey{InstanceGuid: ig, CellId: "cell-1"})).To(Succeed())
			Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: &models.ActualLRPKey{ProcessGuid: guid, Index: 0, Domain: "d"},
				ActualLrpInstanceKey: other, ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.9"}})).To(Succeed())
			exec.Run(ig, 61001)
			Eventually(state(ig)).Should(Equal(executor.State("gone")))
			Expect(exec.Stopped()).To(Equal([]string{ig}))
			Expect(actual(0).GetActualLrpInstanceKey().GetInstanceGuid()).To(Equal("other"))
		})

		It("while evacuating, keeps a running container until its replacement runs", func() {
			desire(1)
			ig := place(0)
			Eventually(state(ig)).Should(Equal(executor.StateInitializing))
			exec.Run(ig, 61001)
			Eventually(func() string { return actual(0).GetState() }).Should(Equal(models.ActualLRPStateRunning))

			evacuating.Store(true)
			proc.Process(ctx, ig)
			Expect(state(ig)()).To(Equal(executor.StateRunning))
			Expect(actual(0).GetState()).To(Equal(models.ActualLRPStateUnclaimed))
			idx := int32(0)
			lrps, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: guid, Index: &idx})
			Expect(err).NotTo(HaveOccurred())
			Expect(lrps).To(ContainElement(HaveField("Presence", models.ActualLRP_EVACUATING)))

			proc.Process(ctx, ig)
			Expect(state(ig)()).To(Equal(executor.StateRunning), "the replacement does not run yet")
			Expect(string(appLog.Contents())).To(Equal(fmt.Sprintf("log-%s 0: Cell cell-1 requesting replacement for instance %s\n", guid, ig)), "told once")

			other := &models.ActualLRPInstanceKey{InstanceGuid: "replacement", CellId: "cell-2"}
			Expect(client.ClaimActualLRP(ctx, guid, 0, other)).To(Succeed())
			Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: &models.ActualLRPKey{ProcessGuid: guid, Index: 0, Domain: "d"},
				ActualLrpInstanceKey: other, ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.9"}})).To(Succeed())
			proc.Process(ctx, ig)
			Expect(state(ig)()).To(Equal(executor.State("gone")))
			lrps, err = client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: guid, Index: &idx})
			Expect(err).NotTo(HaveOccurred())
			Expect(lrps).To(HaveLen(1))
			Expect(lrps[0].GetActualLrpInstanceKey().GetInstanceGuid()).To(Equal("replacement"))
		})
		It("while evacuating, keeps a crashed container while the BBS does not answer, and reports it when it does", func() {
			desire(1)
			ig := place(0)
			Eventually(state(ig)).Should(Equal(executor.StateInitializing))
			exec.Run(ig, 61001)
			Eventually(func() string { return actual(0).GetState() }).Should(Equal(models.ActualLRPStateRunning))

			evacuating.Store(true)
			relay.Cut()
			exec.Complete(ig, executor.RunResult{Failed: true, FailureReason: "APP/PROC/WEB: Exited with status 1"})
			proc.Process(ctx, ig)
			Expect(state(ig)()).To(Equal(executor.StateCompleted))
			Expect(actual(0).GetActualLrpInstanceKey().GetInstanceGuid()).To(Equal(ig))

			relay.Restore()
			proc.Process(ctx, ig) // as the evacuator's next pass does
			Expect(state(ig)()).To(Equal(executor.State("gone")))
			Expect(actual(0).GetActualLrpInstanceKey().GetInstanceGuid()).NotTo(Equal(ig))
		})
	})

	Describe("retiring an instance", func() {
		routable := func() bool { return actual(0).GetRoutable() }
		runningInstance := func() string {
			GinkgoHelper()
			desire(1)
			ig := place(0)
			Eventually(state(ig)).Should(Equal(executor.StateInitializing))
			exec.Run(ig, 61001)
			Eventually(func() string { return actual(0).GetState() }).Should(Equal(models.ActualLRPStateRunning))
			Expect(routable()).To(BeTrue())
			return ig
		}

		Context("with a drain delay", func() {
			BeforeEach(func() { drainDelay = 800 * time.Millisecond })

			It("marks a routed instance unroutable in the BBS first, and stops it only after the delay; a readiness flip does not route it again", func() {
				ig := runningInstance()
				var stoppedAt atomic.Int64
				var routableAtStop atomic.Bool
				exec.OnStop(func(string) {
					routableAtStop.Store(routable())
					stoppedAt.Store(time.Now().UnixNano())
				})

				retired := time.Now()
				Expect(proc.Retire(ctx, ig)).To(Succeed())
				Eventually(routable).Should(BeFalse())
				a := actual(0)
				Expect(a.GetState()).To(Equal(models.ActualLRPStateRunning), "it still serves the requests in flight")
				Expect(a.GetActualLrpInstanceKey().GetInstanceGuid()).To(Equal(ig))
				Expect(a.GetActualLrpNetInfo().GetPorts()[0].GetHostPort()).To(Equal(uint32(61001)), "the same net info")
				Expect(state(ig)()).To(Equal(executor.StateRunning))

				exec.SetReady(ig, false)
				exec.SetReady(ig, true)
				Expect(proc.Retire(ctx, ig)).To(Succeed(), "a stop while draining")
				Consistently(routable, 300*time.Millisecond, 20*time.Millisecond).Should(BeFalse())

				Eventually(state(ig), 3*time.Second).Should(Equal(executor.State("gone")))
				Expect(exec.Stopped()).To(Equal([]string{ig}), "stopped once")
				Expect(routableAtStop.Load()).To(BeFalse(), "unroutable in the BBS before the stop")
				Expect(time.Unix(0, stoppedAt.Load()).Sub(retired)).To(BeNumerically(">=", drainDelay))
				Eventually(func() string { return actual(0).GetActualLrpInstanceKey().GetInstanceGuid() }).ShouldNot(Equal(ig), "removed once stopped")
			})

			It("stops at once an instance that is not running yet, or not routable", func() {
				ig := runningInstance()
				exec.SetReady(ig, false)
				Eventually(routable).Should(BeFalse())
				Expect(proc.Retire(ctx, ig)).To(Succeed())
				Expect(exec.Stopped()).To(Equal([]string{ig}))

				desire2 := guid + "-claimed"
				Expect(client.DesireLRP(ctx, &models.DesiredLRP{ProcessGuid: desire2, Domain: "d", RootFs: "preloaded:stack", Instances: 1,
					MemoryMb: 64, DiskMb: 64, Action: runAction()})).To(Succeed())
				rejected, err := cell.Perform(ctx, models.Work{LRPs: []models.RepLRP{{LRPKey: models.LRPKey{ProcessGUID: desire2, Index: 0, Domain: "d"},
					PlacementConstraint: models.PlacementConstraint{RootFs: "preloaded:stack"}, Resource: models.Resource{MemoryMB: 64, DiskMB: 64}}}})
				Expect(err).NotTo(HaveOccurred())
				Expect(rejected.Empty()).To(BeTrue())
				claimed := fmt.Sprintf("%s-ig-%d", guid, igN)
				Eventually(state(claimed)).Should(Equal(executor.StateInitializing))
				Expect(proc.Retire(ctx, claimed)).To(Succeed())
				Expect(exec.Stopped()).To(Equal([]string{ig, claimed}))

				Expect(proc.Retire(ctx, "no-such-container")).To(MatchError(executor.ErrContainerNotFound))
			})

			It("reports a crash during the drain as a crash", func() {
				ig := runningInstance()
				Expect(proc.Retire(ctx, ig)).To(Succeed())
				Eventually(routable).Should(BeFalse())
				exec.Complete(ig, executor.RunResult{Failed: true, FailureReason: "APP/PROC/WEB: Exited with status 1"})
				Eventually(func() int32 { return actual(0).GetCrashCount() }).Should(Equal(int32(1)))
				Eventually(state(ig)).Should(Equal(executor.State("gone")))
			})

			It("is abandoned when the processor stops (the rep exits): the container stays", func() {
				ig := runningInstance()
				Expect(proc.Retire(ctx, ig)).To(Succeed())
				Eventually(routable).Should(BeFalse())
				running.Signal(os.Interrupt)
				Eventually(running.Wait()).Should(Receive(BeNil()))
				Consistently(state(ig), 2*drainDelay, 100*time.Millisecond).Should(Equal(executor.StateRunning))
				Expect(exec.Stopped()).To(BeEmpty())
			})

			records := func() []*models.ActualLRP {
				idx := int32(0)
				lrps, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: guid, Index: &idx})
				Expect(err).NotTo(HaveOccurred())
				return lrps
			}

			It("while evacuating, marks a retired instance not handed over yet unroutable first, and stops it only after the delay", func() {
				ig := runningInstance()
				evacuating.Store(true)
				var routableAtStop atomic.Bool
				routableAtStop.Store(true)
				exec.OnStop(func(string) { routableAtStop.Store(routable()) })

				retired := time.Now()
				Expect(proc.Retire(ctx, ig)).To(Succeed())
				Eventually(func() *models.ActualLRP { return actual(0) }).Should(And(
					HaveField("State", models.ActualLRPStateRunning), HaveField("ActualLrpInstanceKey.InstanceGuid", ig),
					HaveField("Routable", HaveValue(BeFalse()))), "still this cell's and running, but unroutable")
				Expect(state(ig)()).To(Equal(executor.StateRunning), "it serves the requests in flight")
				Expect(records()).To(HaveLen(1), "the retire hands nothing over")
				proc.Process(ctx, ig) // the evacuator's pass during the drain
				Expect(records()).To(HaveLen(1), "still not handed over")
				Expect(state(ig)()).To(Equal(executor.StateRunning))

				Eventually(state(ig), 3*time.Second).Should(Equal(executor.State("gone")))
				Expect(exec.Stopped()).To(Equal([]string{ig}))
				Expect(routableAtStop.Load()).To(BeFalse(), "unroutable in the BBS before the stop")
				Expect(time.Since(retired)).To(BeNumerically(">=", drainDelay))
				Expect(records()).To(BeEmpty(), "its record goes with the stopped container")
			})

			It("while evacuating, removes the evacuating record of a retired instance handed over already before the delay, and leaves its slot to the replacement", func() {
				ig := runningInstance()
				evacuating.Store(true)
				proc.Process(ctx, ig)
				Expect(records()).To(ContainElement(HaveField("Presence", models.ActualLRP_EVACUATING)))
				var recordsAtStop atomic.Int32
				recordsAtStop.Store(-1)
				exec.OnStop(func(string) {
					n := int32(0)
					for _, a := range records() {
						if a.GetActualLrpInstanceKey().GetInstanceGuid() == ig {
							n++
						}
					}
					recordsAtStop.Store(n)
				})

				Expect(proc.Retire(ctx, ig)).To(Succeed())
				Eventually(func() bool {
					return state(ig)() == executor.StateRunning && len(records()) == 1
				}).Should(BeTrue(), "the evacuating record goes while the container still serves the requests in flight")
				Expect(actual(0).GetState()).To(Equal(models.ActualLRPStateUnclaimed), "the slot is not taken back")

				Eventually(state(ig), 3*time.Second).Should(Equal(executor.State("gone")))
				Expect(recordsAtStop.Load()).To(BeZero(), "no record of it routed at the stop")
				Expect(actual(0).GetState()).To(Equal(models.ActualLRPStateUnclaimed))
			})

			It("while evacuating, keeps the container up for the delay once its evacuating record is removed, then deletes it", func() {
				ig := runningInstance()
				evacuating.Store(true)
				proc.Process(ctx, ig)
				other := &models.ActualLRPInstanceKey{InstanceGuid: "replacement", CellId: "cell-2"}
				Expect(client.ClaimActualLRP(ctx, guid, 0, other)).To(Succeed())
				Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: &models.ActualLRPKey{ProcessGuid: guid, Index: 0, Domain: "d"},
					ActualLrpInstanceKey: other, ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.9"}})).To(Succeed())

				// the evacuator's passes go on while the container is deleted (its process stopping)
				exec.OnDelete(func(guid string) { proc.Process(ctx, guid) })
				removed := time.Now()
				proc.Process(ctx, ig)
				idx := int32(0)
				lrps, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: guid, Index: &idx})
				Expect(err).NotTo(HaveOccurred())
				Expect(lrps).To(HaveLen(1), "the evacuating record is gone: its route goes")
				Expect(state(ig)()).To(Equal(executor.StateRunning))
				proc.Process(ctx, ig) // the evacuator's next pass
				Expect(state(ig)()).To(Equal(executor.StateRunning))

				Eventually(state(ig), 3*time.Second).Should(Equal(executor.State("gone")))
				Expect(time.Since(removed)).To(BeNumerically(">=", drainDelay))
				Expect(exec.Deleted()).To(Equal([]string{ig}))
				Expect(string(appLog.Contents())).To(Equal(fmt.Sprintf("log-%s 0: Cell cell-1 requesting replacement for instance %s\n", guid, ig)),
					"evacuated once: a pass while the container is deleted does not hand it over again")
			})
		})

		It("without a drain delay, stops the container at once", func() {
			ig := runningInstance()
			Expect(proc.Retire(ctx, ig)).To(Succeed())
			Expect(exec.Stopped()).To(Equal([]string{ig}))
			Eventually(state(ig)).Should(Equal(executor.State("gone")))
		})
	})

	Describe("a task", func() {
		desireTask := func() {
			Expect(client.DesireTask(ctx, guid, "d", &models.TaskDefinition{RootFs: "preloaded:stack", Action: runAction(), ResultFile: "/tmp/result",
				MemoryMb: 64, DiskMb: 64})).To(Succeed())
		}
		placeTask := func() {
			rejected, err := cell.Perform(ctx, models.Work{Tasks: []models.RepTask{{TaskGuid: guid, Domain: "d",
				PlacementConstraint: models.PlacementConstraint{RootFs: "preloaded:stack"}, Resource: models.Resource{MemoryMB: 64, DiskMB: 64}}}})
			Expect(err).NotTo(HaveOccurred())
			Expect(rejected.Empty()).To(BeTrue())
		}
		task := func() *models.Task {
			t, err := client.TaskByGuid(ctx, guid)
			Expect(err).NotTo(HaveOccurred())
			return t
		}

		It("is started on this cell, run, and completed with its result", func() {
			desireTask()
			placeTask()
			Eventually(state(guid)).Should(Equal(executor.StateInitializing))
			Expect(task().GetState()).To(Equal(models.Task_Running))
			Expect(task().GetCellId()).To(Equal("cell-1"))
			c, err := exec.GetContainer(ctx, guid)
			Expect(err).NotTo(HaveOccurred())
			Expect(c.RunInfo.ResultFile).To(Equal("/tmp/result"))

			exec.Run(guid)
			exec.Complete(guid, executor.RunResult{Result: "42"})
			Eventually(func() models.Task_State { return task().GetState() }).Should(Equal(models.Task_Completed))
			Expect(task().GetResult()).To(Equal("42"))
			Expect(task().GetFailed()).To(BeFalse())
			Eventually(state(guid)).Should(Equal(executor.State("gone")))
		})

		It("keeps a completed container while the BBS does not answer, and completes the task with its result when it does", func() {
			desireTask()
			placeTask()
			Eventually(state(guid)).Should(Equal(executor.StateInitializing))
			exec.Run(guid)

			relay.Cut()
			exec.Complete(guid, executor.RunResult{Result: "42"})
			proc.Process(ctx, guid)
			Expect(state(guid)()).To(Equal(executor.StateCompleted))
			Expect(task().GetState()).To(Equal(models.Task_Running))

			relay.Restore()
			proc.Process(ctx, guid) // as bulk sync does
			Expect(state(guid)()).To(Equal(executor.State("gone")))
			Expect(task().GetState()).To(Equal(models.Task_Completed))
			Expect(task().GetResult()).To(Equal("42"))
		})

		It("keeps a container that failed before its process ran while the BBS does not answer, and hands the task back when it does", func() {
			desireTask()
			placeTask()
			Eventually(state(guid)).Should(Equal(executor.StateInitializing))

			relay.Cut()
			exec.Complete(guid, executor.RunResult{Failed: true, Retryable: true, FailureReason: "failed to download"})
			proc.Process(ctx, guid)
			Expect(state(guid)()).To(Equal(executor.StateCompleted))
			Expect(task().GetRejectionCount()).To(BeZero())

			relay.Restore()
			proc.Process(ctx, guid)
			Expect(state(guid)()).To(Equal(executor.State("gone")))
			Expect(task().GetState()).To(Equal(models.Task_Pending))
			Expect(task().GetRejectionCount()).To(Equal(int32(1)))
		})

		It("completes failed with the reason when its process failed", func() {
			desireTask()
			placeTask()
			Eventually(state(guid)).Should(Equal(executor.StateInitializing))
			exec.Complete(guid, executor.RunResult{Failed: true, FailureReason: "Exited with status 2"})
			Eventually(func() models.Task_State { return task().GetState() }).Should(Equal(models.Task_Completed))
			Expect(task().GetFailed()).To(BeTrue())
			Expect(task().GetFailureReason()).To(Equal("Exited with status 2"))
		})

		It("is handed back to be placed again when it failed before its process ran", func() {
			desireTask()
			placeTask()
			Eventually(state(guid)).Should(Equal(executor.StateInitializing))
			exec.Complete(guid, executor.RunResult{Failed: true, Retryable: true, FailureReason: "failed to download"})
			Eventually(func() models.Task_State { return task().GetState() }).Should(Equal(models.Task_Pending))
			Expect(task().GetRejectionCount()).To(Equal(int32(1)))
			Expect(task().GetRejectionReason()).To(Equal("failed to download"))
			Eventually(state(guid)).Should(Equal(executor.State("gone")))
		})

		It("is never started twice: a container for a task another cell started goes", func() {
			desireTask()
			shouldStart, err := client.StartTask(ctx, guid, "cell-2")
			Expect(err).NotTo(HaveOccurred())
			Expect(shouldStart).To(BeTrue())
			placeTask()
			Eventually(state(guid)).Should(Equal(executor.State("gone")))
			Expect(task().GetCellId()).To(Equal("cell-2"))
		})
	})
})
