package main_test

import (
	"sort"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/models"
)

// instanceGuids are the guids of the process's RUNNING ORDINARY instances, sorted.
func instanceGuids(processGuid string) []string {
	GinkgoHelper()
	var gs []string
	for _, a := range running(processGuid) {
		gs = append(gs, a.GetActualLrpInstanceKey().GetInstanceGuid())
	}
	sort.Strings(gs)
	return gs
}

// answering counts the instances of the records that answer GET / at their host port.
func answering(lrps []*models.ActualLRP) int {
	n := 0
	for _, a := range lrps {
		if answer(a, "/") != "" {
			n++
		}
	}
	return n
}

var _ = Describe("a rep killed with -9 and started again", func() {
	It("adopts its containers: the instances keep serving, and the BBS and garden agree", func() {
		c := startCell(guid("cell"), gardens[0], nil)
		processGuid := guid("adopt")
		desire(appLRP(processGuid, 2))
		Eventually(func() int { return len(running(processGuid)) }, 60*time.Second, 100*time.Millisecond).Should(Equal(2))
		before := running(processGuid)
		guids := instanceGuids(processGuid)
		Eventually(func() int { return answering(before) }, 30*time.Second, 200*time.Millisecond).Should(Equal(2))

		c.kill9()
		Consistently(func() int { return answering(before) }, 3*time.Second, 200*time.Millisecond).Should(Equal(2), "the containers outlive the rep")
		c.start()

		Consistently(func() int { return answering(before) }, 5*time.Second, 200*time.Millisecond).Should(Equal(2))
		Eventually(func() []string { return instanceGuids(processGuid) }, 30*time.Second, 200*time.Millisecond).Should(Equal(guids), "the same instances, RUNNING on the same cell")
		for _, a := range running(processGuid) {
			Expect(a.GetActualLrpInstanceKey().GetCellId()).To(Equal(c.id))
			Expect(a.GetCrashCount()).To(BeZero())
		}
		Eventually(func() []string { return handles(c.garden) }, 10*time.Second, 200*time.Millisecond).Should(ConsistOf(guids), "garden holds the instances' containers and nothing else")

		By("a crash after the restart is still seen: the process was reattached")
		hit(running(processGuid)[0], "/exit?code=3")
		Eventually(func() string {
			for _, a := range actuals(processGuid) {
				if a.GetCrashCount() > 0 {
					return a.GetCrashReason()
				}
			}
			return ""
		}, 30*time.Second, 200*time.Millisecond).Should(Equal("APP/PROC/WEB: Exited with status 3"))
	})
})

var _ = Describe("a rep killed with -9 while its instance is placed elsewhere", func() {
	It("destroys the container when it comes back: the instance is another cell's now", func() {
		c := startCell(guid("gone"), gardens[0], nil)
		processGuid := guid("moved")
		desire(appLRP(processGuid, 1))
		Eventually(func() int { return len(running(processGuid)) }, 60*time.Second, 100*time.Millisecond).Should(Equal(1))
		old := running(processGuid)[0].GetActualLrpInstanceKey().GetInstanceGuid()
		other := startCell(guid("other"), gardens[1], nil)

		c.kill9()
		// the presence expires, the BBS marks the instance SUSPECT and places a replacement
		Eventually(func() string {
			for _, a := range running(processGuid) {
				return a.GetActualLrpInstanceKey().GetCellId()
			}
			return ""
		}, 60*time.Second, 200*time.Millisecond).Should(Equal(other.id))
		Expect(handles(c.garden)).To(ContainElement(old), "the old container outlived its rep")

		c.start()
		Eventually(func() []string { return handles(c.garden) }, 30*time.Second, 200*time.Millisecond).ShouldNot(ContainElement(old))
		Expect(running(processGuid)).To(HaveLen(1))
		Expect(running(processGuid)[0].GetActualLrpInstanceKey().GetCellId()).To(Equal(other.id))
	})
})
