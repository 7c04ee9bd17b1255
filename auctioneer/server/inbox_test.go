package server_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/auctioneer/server"
	"github.com/diego-go/diego/models"
)

var _ = Describe("Inbox", func() {
	var inbox *server.Inbox

	BeforeEach(func() { inbox = server.NewInbox() })

	It("signals Ready once work was added and hands everything over in arrival order", func() {
		Expect(inbox.Ready()).NotTo(Receive())
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("b", 64, 0), lrpRequest("a", 64, 0, 1)})
		inbox.AddTasks([]models.TaskStartRequest{taskRequest("t2", 8), taskRequest("t1", 8)})
		Expect(inbox.Ready()).To(Receive())
		Expect(inbox.Ready()).NotTo(Receive())

		b := inbox.Take()
		Expect(b.LRPs).To(HaveLen(2))
		Expect(b.LRPs[0].ProcessGUID).To(Equal("b"))
		Expect(b.LRPs[1].Indices).To(Equal([]int32{0, 1}))
		Expect([]string{b.Tasks[0].TaskGuid, b.Tasks[1].TaskGuid}).To(Equal([]string{"t2", "t1"}))
		n, t := b.Size()
		Expect([]int{n, t}).To(Equal([]int{3, 2}))

		Expect(inbox.Take().Empty()).To(BeTrue())
	})

	It("merges duplicates: the same process guid and index, the same task guid", func() {
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("a", 64, 0, 1), lrpRequest("a", 64, 1, 2, 2)})
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("a", 64, 0)})
		inbox.AddTasks([]models.TaskStartRequest{taskRequest("t", 8), taskRequest("t", 8)})
		inbox.AddTasks([]models.TaskStartRequest{taskRequest("t", 8)})
		n, t := inbox.Len()
		Expect([]int{n, t}).To(Equal([]int{3, 1}))
		b := inbox.Take()
		Expect(b.LRPs).To(HaveLen(1))
		Expect(b.LRPs[0].Indices).To(Equal([]int32{0, 1, 2}))
		Expect(b.Tasks).To(HaveLen(1))
	})

	It("keeps the newest scheduling fields of a process", func() {
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("a", 64, 0)})
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("a", 128, 1)})
		b := inbox.Take()
		Expect(b.LRPs).To(HaveLen(1))
		Expect(b.LRPs[0].MemoryMB).To(Equal(int32(128)))
		Expect(b.LRPs[0].Indices).To(Equal([]int32{0, 1}))
	})

	It("ignores requests without indices", func() {
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("a", 64)})
		Expect(inbox.Ready()).NotTo(Receive())
		Expect(inbox.Take().Empty()).To(BeTrue())
	})
})
