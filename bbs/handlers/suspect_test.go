package handlers_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/bbs/eventhub"
	"github.com/diego-go/diego/models"
)

// describeLRPEvent renders an instance event as "<type> <presence> <state> [-> <presence>
// <state>] <instance guid>".
func describeLRPEvent(e models.Event) string {
	switch x := e.(type) {
	case *models.ActualLRPInstanceCreatedEvent:
		a := x.GetActualLrp()
		return fmt.Sprintf("created %s %s %s", a.GetPresence(), a.GetState(), x.Key())
	case *models.ActualLRPInstanceChangedEvent:
		return fmt.Sprintf("changed %s %s -> %s %s %s", x.GetBefore().GetPresence(), x.GetBefore().GetState(),
			x.GetAfter().GetPresence(), x.GetAfter().GetState(), x.Key())
	case *models.ActualLRPInstanceRemovedEvent:
		a := x.GetActualLrp()
		return fmt.Sprintf("removed %s %s %s", a.GetPresence(), a.GetState(), x.Key())
	}
	return e.EventType()
}

var _ = Describe("SUSPECT instances", func() {
	var sub, groupSub *eventhub.Subscription

	// takeEvents returns the instance events emitted until none has come for 300 ms.
	drain := func(sub *eventhub.Subscription, describe func(models.Event) string) []string {
		var out []string
		for {
			c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			e, err := sub.Next(c)
			cancel()
			if err != nil {
				return out
			}
			out = append(out, describe(e))
		}
	}
	takeEvents := func() []string { return drain(sub, describeLRPEvent) }
	// the legacy stream's (GET /v1/events.r1) events, by type
	takeGroupEvents := func() []string { return drain(groupSub, models.Event.EventType) }
	setCells := func(ids ...string) {
		cellsMu.Lock()
		defer cellsMu.Unlock()
		rep := cells[0].GetRepUrl()
		cells = nil
		for _, id := range ids {
			cells = append(cells, &models.CellPresence{CellId: id, RepUrl: rep})
		}
	}
	start := func(guid, instance, cell string) error {
		return client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key(guid, 0), ActualLrpInstanceKey: ikey(instance, cell),
			ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61001}}}})
	}
	records := func(guid string) []string {
		as, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: guid})
		Expect(err).NotTo(HaveOccurred())
		var out []string
		for _, a := range as {
			out = append(out, fmt.Sprintf("%s %s %s", a.GetPresence(), a.GetState(), a.GetActualLrpInstanceKey().GetInstanceGuid()))
		}
		return out
	}

	// suspected runs instance "old" of process guid on cell-1, lets cell-1 vanish and converges.
	suspected := func(guid string) {
		setCells("cell-1", "cell-2")
		Expect(client.DesireLRP(ctx, desired(guid, 1))).To(Succeed())
		Eventually(auctioneer.LRPs).Should(HaveLen(1))
		Expect(client.ClaimActualLRP(ctx, guid, 0, ikey("old", "cell-1"))).To(Succeed())
		Expect(start(guid, "old", "cell-1")).To(Succeed())
		var err error
		sub, err = lrpHub.Subscribe("")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(sub.Close)
		groupSub, err = groupHub.Subscribe("")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(groupSub.Close)

		setCells("cell-2")
		Expect(client.Converge(ctx)).To(Succeed())
	}

	It("keeps a RUNNING instance of a vanished cell listed and routable as SUSPECT, auctions a replacement at once, and removes the SUSPECT when the replacement runs", func() {
		suspected("sus")
		Expect(takeEvents()).To(Equal([]string{"changed ORDINARY RUNNING -> SUSPECT RUNNING old", "created ORDINARY UNCLAIMED "}))
		// the legacy group still resolves to the same RUNNING instance: upstream sends nothing
		Expect(takeGroupEvents()).To(BeEmpty())
		Expect(records("sus")).To(ConsistOf("ORDINARY UNCLAIMED ", "SUSPECT RUNNING old"))
		as, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{CellID: "cell-1"})
		Expect(err).NotTo(HaveOccurred())
		Expect(as).To(HaveLen(1))
		Expect(as[0].GetActualLrpNetInfo().GetAddress()).To(Equal("10.0.0.1"))
		Eventually(auctioneer.LRPs).Should(HaveLen(2))
		Expect(auctioneer.LRPs()[1].ProcessGUID).To(Equal("sus"))
		Expect(auctioneer.LRPs()[1].Indices).To(Equal([]int32{0}))

		// another pass changes nothing: the SUSPECT waits for its replacement
		Expect(client.Converge(ctx)).To(Succeed())
		Expect(takeEvents()).To(BeEmpty())
		Expect(records("sus")).To(ConsistOf("ORDINARY UNCLAIMED ", "SUSPECT RUNNING old"))

		// the replacement is placed on cell-2; its start removes the SUSPECT
		Expect(client.ClaimActualLRP(ctx, "sus", 0, ikey("new", "cell-2"))).To(Succeed())
		Expect(start("sus", "new", "cell-2")).To(Succeed())
		Expect(takeEvents()).To(Equal([]string{"changed ORDINARY UNCLAIMED -> ORDINARY CLAIMED new", "changed ORDINARY CLAIMED -> ORDINARY RUNNING new", "removed SUSPECT RUNNING old"}))
		Expect(records("sus")).To(ConsistOf("ORDINARY RUNNING new"))
	})

	It("promotes the SUSPECT back to ORDINARY and removes the unstarted replacement when its cell comes back first", func() {
		suspected("back")
		Expect(client.ClaimActualLRP(ctx, "back", 0, ikey("new", "cell-2"))).To(Succeed())
		takeEvents()
		takeGroupEvents()

		setCells("cell-1", "cell-2")
		Expect(client.Converge(ctx)).To(Succeed())
		Expect(takeEvents()).To(Equal([]string{"changed SUSPECT RUNNING -> ORDINARY RUNNING old", "removed ORDINARY CLAIMED new"}))
		Expect(takeGroupEvents()).To(Equal([]string{models.EventTypeActualLRPRemoved}))
		Expect(records("back")).To(ConsistOf("ORDINARY RUNNING old"))
		// the replacement's cell cannot start it any more
		Expect(errType(start("back", "new", "cell-2"))).To(Equal(models.Error_ActualLRPCannotBeStarted))
		Expect(records("back")).To(ConsistOf("ORDINARY RUNNING old"))
	})

	It("answers the SUSPECT's own cell as upstream does: claim and start change nothing, remove finds nothing, a crash removes the SUSPECT", func() {
		suspected("cellcalls")
		takeEvents()

		Expect(client.ClaimActualLRP(ctx, "cellcalls", 0, ikey("old", "cell-1"))).To(Succeed())
		Expect(start("cellcalls", "old", "cell-1")).To(Succeed())
		Expect(errType(client.RemoveActualLRP(ctx, "cellcalls", 0, ikey("old", "cell-1")))).To(Equal(models.Error_ResourceNotFound))
		Expect(takeEvents()).To(BeEmpty())
		Expect(records("cellcalls")).To(ConsistOf("ORDINARY UNCLAIMED ", "SUSPECT RUNNING old"))

		Expect(client.CrashActualLRP(ctx, key("cellcalls", 0), ikey("old", "cell-1"), "exit 1")).To(Succeed())
		Expect(takeEvents()).To(Equal([]string{"removed SUSPECT RUNNING old"}))
		Expect(records("cellcalls")).To(ConsistOf("ORDINARY UNCLAIMED "))
	})

	It("lets the SUSPECT's cell, come back, evacuate its container as upstream does", func() {
		suspected("leaving")
		takeEvents()
		keep, err := client.EvacuateRunningActualLRP(ctx, &models.EvacuateRunningActualLRPRequest{ActualLrpKey: key("leaving", 0),
			ActualLrpInstanceKey: ikey("old", "cell-1"), ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(keep).To(BeTrue())
		Expect(records("leaving")).To(ConsistOf("ORDINARY UNCLAIMED ", "EVACUATING RUNNING old"))
		Expect(takeEvents()).To(ConsistOf("removed SUSPECT RUNNING old", "created EVACUATING RUNNING old"))
	})

	It("removes the SUSPECT when its cell, come back, reports its container stopped", func() {
		suspected("stopping")
		_, err := client.EvacuateStoppedActualLRP(ctx, key("stopping", 0), ikey("old", "cell-1"))
		Expect(err).NotTo(HaveOccurred())
		Expect(records("stopping")).To(ConsistOf("ORDINARY UNCLAIMED "))
	})
})
