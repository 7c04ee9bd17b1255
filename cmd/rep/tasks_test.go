package main_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/internal/gardentest"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep"
)

func shTask(script string) *models.TaskDefinition {
	return &models.TaskDefinition{
		RootFs:   gardentest.RootFS,
		MemoryMb: 32,
		DiskMb:   32,
		LogGuid:  "task-logs",
		Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{
			Path: "/bin/sh", Args: []string{"-c", script}, User: "vcap",
		}}},
	}
}

// desireTask desires the task and deletes it when the spec ends.
func desireTask(taskGuid string, def *models.TaskDefinition) {
	GinkgoHelper()
	Expect(bbsClient.DesireTask(ctx(), taskGuid, "cf-tasks", def)).To(Succeed())
	DeferCleanup(func() {
		_ = bbsClient.CancelTask(context.Background(), taskGuid)
		_ = bbsClient.ResolvingTask(context.Background(), taskGuid)
		_ = bbsClient.DeleteTask(context.Background(), taskGuid)
	})
}

func task(taskGuid string) *models.Task {
	GinkgoHelper()
	t, err := bbsClient.TaskByGuid(context.Background(), taskGuid)
	Expect(err).NotTo(HaveOccurred())
	return t
}

// completed waits for the task to complete and returns it.
func completed(taskGuid string, within time.Duration) *models.Task {
	GinkgoHelper()
	Eventually(func() models.Task_State { return task(taskGuid).GetState() }, within, 100*time.Millisecond).Should(Equal(models.Task_Completed))
	return task(taskGuid)
}

// handles lists the garden's containers.
func handles(g *gardentest.Garden) []string {
	GinkgoHelper()
	list, err := g.Client.Containers(nil)
	Expect(err).NotTo(HaveOccurred())
	var hs []string
	for _, c := range list {
		hs = append(hs, c.Handle())
	}
	return hs
}

// capacityReturned: the cell's available resources are its total again.
func capacityReturned(c *cell) {
	GinkgoHelper()
	client := rep.NewClient(rep.Options{TLS: clientTLS()})
	Eventually(func(g Gomega) {
		s, err := client.State(context.Background(), "https://"+c.api)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(s.AvailableResources).To(Equal(s.TotalResources))
		g.Expect(s.Tasks).To(BeEmpty())
		g.Expect(s.LRPs).To(BeEmpty())
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

var _ = Describe("Tasks on a cell", func() {
	var c *cell

	BeforeEach(func() {
		c = startCell(guid("cell"), gardens[0], nil)
	})

	It("returns the result file", func() {
		taskGuid := guid("result")
		def := shTask("printf 'the result' > /tmp/result")
		def.ResultFile = "/tmp/result"
		desireTask(taskGuid, def)
		t := completed(taskGuid, 60*time.Second)
		Expect(t.GetFailed()).To(BeFalse(), t.GetFailureReason())
		Expect(t.GetResult()).To(Equal("the result"))
		Expect(t.GetCellId()).To(Equal(c.id))
		Eventually(func() []string { return handles(c.garden) }, 10*time.Second).ShouldNot(ContainElement(taskGuid))
		capacityReturned(c)
	})

	It("fails a task that times out with the timeout in the reason", func() {
		taskGuid := guid("timeout")
		def := shTask("")
		def.Action = &models.Action{Value: &models.Action_TimeoutAction{TimeoutAction: &models.TimeoutAction{
			Action:    shTask("sleep 100").Action,
			TimeoutMs: 1000,
		}}}
		desireTask(taskGuid, def)
		t := completed(taskGuid, 60*time.Second)
		Expect(t.GetFailed()).To(BeTrue())
		Expect(t.GetFailureReason()).To(ContainSubstring("timeout"))
		capacityReturned(c)
	})

	It("destroys a cancelled task's container within 2 s", func() {
		taskGuid := guid("cancel")
		desireTask(taskGuid, shTask("sleep 1000"))
		Eventually(func() []string { return handles(c.garden) }, 60*time.Second, 100*time.Millisecond).Should(ContainElement(taskGuid))
		Eventually(func() models.Task_State { return task(taskGuid).GetState() }, 10*time.Second, 100*time.Millisecond).Should(Equal(models.Task_Running))
		Expect(bbsClient.CancelTask(ctx(), taskGuid)).To(Succeed())
		cancelled := time.Now()
		Eventually(func() []string { return handles(c.garden) }, 2*time.Second, 50*time.Millisecond).ShouldNot(ContainElement(taskGuid))
		GinkgoWriter.Printf("cancelled task's container gone after %s\n", time.Since(cancelled))
		capacityReturned(c)
	})

	It("places a task whose download fails again, then fails it after its retries", func() {
		taskGuid := guid("download")
		def := shTask("true")
		def.Action = &models.Action{Value: &models.Action_SerialAction{SerialAction: &models.SerialAction{Actions: []*models.Action{
			{Value: &models.Action_DownloadAction{DownloadAction: &models.DownloadAction{
				From: "http://127.0.0.1:1/missing.tgz", To: "/tmp/app", User: "vcap",
			}}},
			shTask("true").Action,
		}}}}
		desireTask(taskGuid, def)
		t := completed(taskGuid, 120*time.Second)
		Expect(t.GetFailed()).To(BeTrue())
		Expect(t.GetRejectionCount()).To(Equal(int32(3)))
		Expect(t.GetFailureReason()).To(Equal("task was rejected: Downloading failed"), "upstream's reason")
		capacityReturned(c)
	})

	It("never starts a task twice, even when two reps race for it", func() {
		// the auctioneer can place it only on other (the one cell offering the tag); c is sent
		// it at the same moment
		other := startCell(guid("cell"), gardens[1], map[string]any{"optional_placement_tags": []string{"race"}})
		taskGuid := guid("race")
		def := shTask("sleep 2; printf done > /tmp/result")
		def.ResultFile = "/tmp/result"
		def.PlacementTags = []string{"race"}
		desireTask(taskGuid, def)
		work := models.Work{Tasks: []models.RepTask{models.NewTaskStartRequest(task(taskGuid)).RepTask}}
		_, err := rep.NewClient(rep.Options{TLS: clientTLS()}).Perform(context.Background(), "https://"+c.api, work)
		Expect(err).NotTo(HaveOccurred())

		seen := map[string]bool{}
		Eventually(func() models.Task_State {
			for _, cl := range []*cell{c, other} {
				for _, h := range handles(cl.garden) {
					if h == taskGuid {
						seen[cl.id] = true
					}
				}
			}
			return task(taskGuid).GetState()
		}, 60*time.Second, 20*time.Millisecond).Should(Equal(models.Task_Completed))
		t := task(taskGuid)
		Expect(t.GetFailed()).To(BeFalse(), t.GetFailureReason())
		Expect(seen).To(HaveLen(1), "the task's container exists on one cell only")
		Expect(seen).To(HaveKey(t.GetCellId()))
		capacityReturned(c)
		capacityReturned(other)
	})
})
