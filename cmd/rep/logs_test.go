package main_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep"
)

var _ = Describe("a running instance's logs and metrics", func() {
	It("publishes the app's lines and the cell's lifecycle lines on NATS, and reports its usage and quotas on GET /container_metrics", func() {
		c := startCell(guid("logs"), gardens[0], nil)
		processGuid := guid("logged")
		logs := subscribeLogs(processGuid)
		desire(appLRP(processGuid, 1))
		Eventually(func() []*models.ActualLRP { return running(processGuid) }, 60*time.Second, 100*time.Millisecond).Should(HaveLen(1))
		instance := running(processGuid)[0].GetActualLrpInstanceKey().GetInstanceGuid()

		Eventually(func() []string { return lines(logs()) }, 10*time.Second, 100*time.Millisecond).Should(ContainElements(
			fmt.Sprintf("Cell %s creating container for instance %s", c.id, instance),
			fmt.Sprintf("Cell %s successfully created container for instance %s", c.id, instance),
			"testapp listening on port 8080",
		))
		for _, m := range logs() {
			Expect(m.AppID).To(Equal(processGuid))
			Expect(m.SourceInstance).To(Equal("0"))
			if m.Message == "testapp listening on port 8080" {
				Expect(m.SourceType).To(Equal("APP/PROC/WEB"))
				Expect(m.MessageType).To(Equal("OUT"))
			}
		}

		var metric models.LRPMetric
		Eventually(func() []models.LRPMetric {
			cm, err := rep.NewClient(rep.Options{TLS: clientTLS()}).ContainerMetrics(context.Background(), "https://"+c.api)
			Expect(err).NotTo(HaveOccurred())
			Expect(cm.CellID).To(Equal(c.id))
			for _, l := range cm.LRPs {
				if l.InstanceGUID == instance {
					metric = l
				}
			}
			return cm.LRPs
		}, 10*time.Second, 200*time.Millisecond).Should(ContainElement(HaveField("InstanceGUID", instance)))
		Expect(metric.ProcessGUID).To(Equal(processGuid))
		Expect(metric.MemoryQuotaBytes).To(BeEquivalentTo(64 << 20))
		Expect(metric.DiskQuotaBytes).To(BeEquivalentTo(64 << 20))
		Expect(metric.MemoryUsageBytes).To(BeNumerically(">", 0))
		Expect(metric.MemoryUsageBytes).To(BeNumerically("<", metric.MemoryQuotaBytes))
		Expect(metric.DiskUsageBytes).To(BeNumerically("<", metric.DiskQuotaBytes))
	})
})
