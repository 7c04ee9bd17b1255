package main_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/models"
)

var _ = Describe("work the cell cannot run", func() {
	var c *cell

	BeforeEach(func() {
		c = startCell(guid("cell"), gardens[0], nil)
	})

	It("fails a task whose rootfs garden cannot make, naming it, and returns the capacity", func() {
		taskGuid := guid("rootfs")
		def := shTask("true")
		def.RootFs = "docker:///127.0.0.1:1/no-such-image#latest"
		desireTask(taskGuid, def)
		t := completed(taskGuid, 120*time.Second)
		Expect(t.GetFailed()).To(BeTrue())
		Expect(t.GetFailureReason()).To(ContainSubstring("127.0.0.1:1/no-such-image"))
		capacityReturned(c)
	})

	It("fails a task whose Run action's executable is not in the container, naming it, and returns the capacity", func() {
		taskGuid := guid("no-executable")
		def := shTask("true")
		def.Action.GetRunAction().Path = "/no/such/command"
		desireTask(taskGuid, def)
		t := completed(taskGuid, 60*time.Second)
		Expect(t.GetFailed()).To(BeTrue())
		Expect(t.GetFailureReason()).To(And(HavePrefix("creating process /no/such/command: "),
			HaveSuffix(`exec "/no/such/command" in the container: file does not exist`)))
		capacityReturned(c)
	})

	It("crashes an instance whose download URL does not answer, with upstream's reason, and returns the capacity", func() {
		processGuid := guid("download")
		lrp := appLRP(processGuid, 1)
		lrp.Setup = &models.Action{Value: &models.Action_DownloadAction{DownloadAction: &models.DownloadAction{
			From: "http://127.0.0.1:1/droplet.tgz", To: "/home/vcap", User: "vcap",
		}}}
		desire(lrp)
		Eventually(func() int32 { return instance(processGuid, 0).GetCrashCount() }, 60*time.Second, 100*time.Millisecond).Should(BeNumerically(">=", 1))
		Expect(instance(processGuid, 0).GetCrashReason()).To(Equal("Downloading failed"))
		Expect(bbsClient.RemoveDesiredLRP(ctx(), processGuid)).To(Succeed())
		capacityReturned(c)
	})
})
