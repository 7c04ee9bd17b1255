package main_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep"
)

var _ = Describe("a rep's presence and API", func() {
	It("announces the cell with its URL, zone, capacity and rootfs providers, reports its remaining capacity as metrics, serves only clients with a certificate, and leaves at once on a signal", func() {
		metrics := daemontest.FreeAddr()
		c := startCell(guid("cell"), gardens[0], map[string]any{"placement_tags": []string{"gpu"}, "optional_placement_tags": []string{"ssd"},
			"metrics_address": metrics})
		var presence *models.CellPresence
		cells, err := bbsClient.Cells(ctx())
		Expect(err).NotTo(HaveOccurred())
		for _, p := range cells {
			if p.GetCellId() == c.id {
				presence = p
			}
		}
		Expect(presence).NotTo(BeNil())
		Expect(presence.GetRepUrl()).To(Equal("https://" + c.api))
		Expect(presence.GetZone()).To(Equal("z1"))
		Expect(presence.GetPlacementTags()).To(Equal([]string{"gpu"}))
		Expect(presence.GetOptionalPlacementTags()).To(Equal([]string{"ssd"}))
		var providers []string
		for _, p := range presence.GetRootfsProviders() {
			providers = append(providers, p.GetName()+":"+strings.Join(p.GetProperties(), ","))
		}
		Expect(providers).To(Equal([]string{"preloaded:busybox", "preloaded+layer:busybox", "docker:"}))

		state, err := rep.NewClient(rep.Options{TLS: clientTLS()}).State(context.Background(), "https://"+c.api)
		Expect(err).NotTo(HaveOccurred())
		Expect(state.CellID).To(Equal(c.id))
		Expect(presence.GetCapacity().GetMemoryMb()).To(BeEquivalentTo(state.TotalResources.MemoryMB), "the executor's capacity")
		Expect(presence.GetCapacity().GetContainers()).To(BeEquivalentTo(state.TotalResources.Containers))
		Expect(state.TotalResources.MemoryMB).To(BeNumerically(">", 0))

		body := daemontest.Scrape(metrics)
		Expect(body).To(ContainSubstring(fmt.Sprintf("rep_capacity_remaining_containers %d", state.AvailableResources.Containers)))
		Expect(body).To(ContainSubstring("rep_capacity_remaining_memory_mb "))

		noCert := clientTLS().Clone()
		noCert.Certificates = nil
		_, err = (&http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: noCert}}).Get("https://" + c.api + "/state")
		Expect(err).To(HaveOccurred(), "mutual TLS")
		_, err = (&http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}).Get("https://" + c.api + "/state")
		Expect(err).To(HaveOccurred(), "mutual TLS")

		c.session.Interrupt()
		Eventually(c.session, 10*time.Second).Should(gexec.Exit(0))
		Expect(daemontest.CellIDs(bbsClient)).NotTo(ContainElement(c.id), "the presence is gone before the rep exits")
	})
})
