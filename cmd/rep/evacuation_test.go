package main_test

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/models"
)

var _ = Describe("evacuating one of two cells", func() {
	It("moves every instance to the other with never fewer than desired answering, and the rep exits 0 once the last is replaced", func() {
		const desired = 3
		const drain = 2 * time.Second // the default, said here because the exit waits for it
		leaving := startCell(guid("leaving"), gardens[0], map[string]any{"evacuation_timeout": "2m", "route_drain_delay": drain.String()})
		processGuid := guid("evac")
		logs := subscribeLogs(processGuid)
		desire(appLRP(processGuid, desired))
		Eventually(func() int { return len(running(processGuid)) }, 60*time.Second, 100*time.Millisecond).Should(Equal(desired))
		var replacementLines []string
		for _, a := range running(processGuid) {
			replacementLines = append(replacementLines,
				fmt.Sprintf("Cell %s requesting replacement for instance %s", leaving.id, a.GetActualLrpInstanceKey().GetInstanceGuid()))
		}
		Eventually(func() int { return answering(running(processGuid)) }, 30*time.Second, 200*time.Millisecond).Should(Equal(desired))
		staying := startCell(guid("staying"), gardens[1], nil)

		// every 20 ms, how many of the process's instances (ORDINARY or EVACUATING records)
		// answer on their host ports
		var mu sync.Mutex
		fewest, samples := desired, 0
		every(20*time.Millisecond, func() {
			indices := map[int32]bool{}
			for _, a := range actuals(processGuid) {
				if answer(a, "/") != "" {
					indices[a.GetActualLrpKey().GetIndex()] = true
				}
			}
			mu.Lock()
			fewest = min(fewest, len(indices))
			samples++
			mu.Unlock()
		})

		resp, err := http.Post("http://"+leaving.admin+"/evacuate", "application/json", nil)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusAccepted))
		evacuated := time.Now()

		Eventually(func() int {
			n := 0
			for _, a := range running(processGuid) {
				if a.GetActualLrpInstanceKey().GetCellId() == staying.id {
					n++
				}
			}
			return n
		}, 90*time.Second, 100*time.Millisecond).Should(Equal(desired))
		replaced := time.Now()
		Eventually(leaving.session, 30*time.Second, 50*time.Millisecond).Should(gexec.Exit(0))
		exitedAfter := time.Since(replaced)
		GinkgoWriter.Printf("evacuation: all replaced after %s, rep exited %s after that\n", replaced.Sub(evacuated), exitedAfter)
		Expect(exitedAfter).To(BeNumerically(">=", drain-200*time.Millisecond), "the last evacuated instance drained before its container went")
		Expect(exitedAfter).To(BeNumerically("<", drain+5*time.Second), "the rep exits as soon as nothing is left")
		Expect(time.Since(evacuated)).To(BeNumerically("<", 2*time.Minute), "the rep exits before its evacuation timeout")
		Expect(handles(leaving.garden)).To(BeEmpty(), "the leaving cell's containers are gone")
		Expect(lines(logs())).To(ContainElements(replacementLines), "each app's log tells of its replacement")

		mu.Lock()
		defer mu.Unlock()
		Expect(samples).To(BeNumerically(">=", 5), "sampled while the instances moved")
		Expect(fewest).To(Equal(desired), "never fewer than the desired instances answered")
	})
})

var _ = Describe("evacuating a cell running a task", func() {
	It("lets the task finish and report its result, then exits 0", func() {
		leaving := startCell(guid("leaving"), gardens[0], map[string]any{"evacuation_timeout": "2m"})
		taskGuid := guid("evac-task")
		def := shTask("sleep 3; printf done > /tmp/result")
		def.ResultFile = "/tmp/result"
		desireTask(taskGuid, def)
		Eventually(func() models.Task_State { return task(taskGuid).GetState() }, 60*time.Second, 100*time.Millisecond).Should(Equal(models.Task_Running))

		resp, err := http.Post("http://"+leaving.admin+"/evacuate", "application/json", nil)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusAccepted))

		Eventually(leaving.session, 30*time.Second, 50*time.Millisecond).Should(gexec.Exit(0))
		t := task(taskGuid)
		Expect(t.GetState()).To(Equal(models.Task_Completed))
		Expect(t.GetFailed()).To(BeFalse(), t.GetFailureReason())
		Expect(t.GetResult()).To(Equal("done"))
		Expect(t.GetCellId()).To(Equal(leaving.id))
	})
})
