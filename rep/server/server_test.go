package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep"
	"github.com/diego-go/diego/rep/cellrep"
	"github.com/diego-go/diego/rep/internal/fakeexec"
	"github.com/diego-go/diego/rep/processor"
	"github.com/diego-go/diego/rep/server"
)

type evacuator struct{ calls atomic.Int32 }

func (e *evacuator) Evacuate() { e.calls.Add(1) }

var _ = Describe("the rep's API", func() {
	var (
		ctx    = context.Background()
		exec   *fakeexec.Executor
		srv    *httptest.Server
		local  *httptest.Server
		client *rep.Client
		evac   *evacuator
	)

	lrp := models.RepLRP{LRPKey: models.LRPKey{ProcessGUID: "pg", Index: 0, Domain: "d"},
		PlacementConstraint: models.PlacementConstraint{RootFs: "preloaded:stack"}, Resource: models.Resource{MemoryMB: 10}}

	BeforeEach(func() {
		logger := slog.New(slog.DiscardHandler)
		n := 0
		exec = fakeexec.New(executor.Resources{MemoryMB: 100, DiskMB: 100, Containers: 10})
		cell := cellrep.New(cellrep.Config{CellID: "cell-1", RootFSProviders: models.RootFSProviders{"preloaded": models.FixedSetRootFSProvider("stack")},
			NewInstanceGuid: func() string { n++; return strings.Repeat("i", n) + "g" }}, exec, logger)
		// no drain: the processor stops at once, without the BBS
		proc := processor.New(processor.Config{CellID: "cell-1"}, exec, nil, logger)
		srv = httptest.NewServer(server.New(cell, exec, proc, logger))
		DeferCleanup(srv.Close)
		evac = &evacuator{}
		local = httptest.NewServer(server.NewLocal(evac, logger))
		DeferCleanup(local.Close)
		client = rep.NewClient(rep.Options{})
	})

	raw := func(method, url string, body string) (int, string) {
		req, err := http.NewRequest(method, url, bytes.NewBufferString(body))
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	It("answers GET /state, and 503 with the same body when the garden health check fails", func() {
		s, err := client.State(ctx, srv.URL)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.CellID).To(Equal("cell-1"))
		_, healthyBody := raw("GET", srv.URL+"/state", "")

		exec.SetHealthy(false)
		status, body := raw("GET", srv.URL+"/state", "")
		Expect(status).To(Equal(http.StatusServiceUnavailable))
		Expect(body).To(Equal(healthyBody))
	})

	It("takes work on POST /work and answers what it could not take", func() {
		big := lrp
		big.Index, big.MemoryMB = 1, 1000
		rejected, err := client.Perform(ctx, srv.URL, models.Work{CellID: "cell-1", LRPs: []models.RepLRP{lrp, big}})
		Expect(err).NotTo(HaveOccurred())
		Expect(rejected.LRPs).To(Equal([]models.RepLRP{big}))
		Expect(exec.GetContainer(ctx, "iig")).To(HaveField("State", executor.StateReserved))
	})

	It("refuses work for another cell with 500 and a body that does not decode with 400", func() {
		_, err := client.Perform(ctx, srv.URL, models.Work{CellID: "cell-2", LRPs: []models.RepLRP{lrp}})
		Expect(err).To(MatchError(ContainSubstring("HTTP 500: workload cell ID does not match this cell")))
		status, body := raw("POST", srv.URL+"/work", "{")
		Expect(status).To(Equal(http.StatusBadRequest))
		Expect(body).To(ContainSubstring("invalid work JSON"))
	})

	It("stops an instance: 202, and its container completes as stopped", func() {
		_, err := client.Perform(ctx, srv.URL, models.Work{LRPs: []models.RepLRP{lrp}})
		Expect(err).NotTo(HaveOccurred())
		Expect(client.StopLRPInstance(ctx, srv.URL, &models.ActualLRPKey{ProcessGuid: "pg"}, &models.ActualLRPInstanceKey{InstanceGuid: "ig"})).To(Succeed())
		Expect(exec.Stopped()).To(Equal([]string{"ig"}))
		Expect(exec.GetContainer(ctx, "ig")).To(HaveField("RunResult.Stopped", true))
		err = client.StopLRPInstance(ctx, srv.URL, &models.ActualLRPKey{ProcessGuid: "pg"}, &models.ActualLRPInstanceKey{InstanceGuid: "nope"})
		Expect(err).To(MatchError(ContainSubstring("HTTP 500")))
	})

	It("cancels a task: 202 at once, its container deleted", func() {
		_, err := client.Perform(ctx, srv.URL, models.Work{Tasks: []models.RepTask{{TaskGuid: "tg", Domain: "d", PlacementConstraint: lrp.PlacementConstraint}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(client.CancelTask(ctx, srv.URL, "tg")).To(Succeed())
		Eventually(exec.Deleted).Should(Equal([]string{"tg"}))
		Expect(client.CancelTask(ctx, srv.URL, "unknown")).To(Succeed())
	})

	It("accepts an update of an instance it holds (both revisions of the route), and no other", func() {
		_, err := client.Perform(ctx, srv.URL, models.Work{LRPs: []models.RepLRP{lrp}})
		Expect(err).NotTo(HaveOccurred())
		update := models.LRPUpdate{InstanceGUID: "ig", LRPKey: lrp.LRPKey, InternalRoutes: []models.InternalRoute{{Hostname: "a.internal"}}}
		Expect(client.UpdateLRPInstance(ctx, srv.URL, update)).To(Succeed())
		body, _ := json.Marshal(update)
		status, _ := raw("PUT", srv.URL+"/v1/lrps/pg/instances/ig", string(body))
		Expect(status).To(Equal(http.StatusAccepted))
		status, _ = raw("PUT", srv.URL+"/v2/lrps/pg/instances/ig", "{")
		Expect(status).To(Equal(http.StatusBadRequest))
		update.InstanceGUID = "other"
		Expect(client.UpdateLRPInstance(ctx, srv.URL, update)).To(MatchError(ContainSubstring("HTTP 500")))
	})

	It("applies an update's metric tags to the instance's container, and keeps them when an update has none", func() {
		_, err := client.Perform(ctx, srv.URL, models.Work{LRPs: []models.RepLRP{lrp}})
		Expect(err).NotTo(HaveOccurred())
		tags := func() map[string]string {
			c, err := exec.GetContainer(ctx, "ig")
			Expect(err).NotTo(HaveOccurred())
			return c.RunInfo.MetricsConfig.Tags
		}
		update := models.LRPUpdate{InstanceGUID: "ig", LRPKey: lrp.LRPKey, MetricTags: map[string]string{"source_id": "app", "instance_id": "0"}}
		Expect(client.UpdateLRPInstance(ctx, srv.URL, update)).To(Succeed())
		Expect(tags()).To(Equal(map[string]string{"source_id": "app", "instance_id": "0"}))

		// the BBS sends no metric tags when only the routes changed
		update.MetricTags = nil
		update.InternalRoutes = []models.InternalRoute{{Hostname: "b.internal"}}
		Expect(client.UpdateLRPInstance(ctx, srv.URL, update)).To(Succeed())
		Expect(tags()).To(Equal(map[string]string{"source_id": "app", "instance_id": "0"}))

		update.MetricTags = map[string]string{"source_id": "app"}
		update.InstanceGUID = "other"
		Expect(client.UpdateLRPInstance(ctx, srv.URL, update)).To(MatchError(ContainSubstring("HTTP 500")))
	})

	It("answers GET /container_metrics in upstream's JSON", func() {
		_, err := client.Perform(ctx, srv.URL, models.Work{LRPs: []models.RepLRP{lrp}})
		Expect(err).NotTo(HaveOccurred())
		exec.SetMetrics("ig", executor.ContainerMetrics{MemoryUsageInBytes: 5})
		m, err := client.ContainerMetrics(ctx, srv.URL)
		Expect(err).NotTo(HaveOccurred())
		Expect(m.LRPs).To(HaveLen(1))
		Expect(m.LRPs[0].MemoryUsageBytes).To(Equal(uint64(5)))
		_, body := raw("GET", srv.URL+"/container_metrics", "")
		Expect(body).To(MatchJSON(`{"cell_id":"cell-1","lrps":[{"instance_guid":"ig","process_guid":"pg","index":0,"metric_guid":"",
			"cpu_usage_fraction":0,"disk_usage_bytes":0,"disk_quota_bytes":0,"memory_usage_bytes":5,"memory_quota_bytes":0}],"tasks":[]}`))
	})

	It("serves ping and evacuate on the local listener only", func() {
		status, _ := raw("GET", local.URL+"/ping", "")
		Expect(status).To(Equal(http.StatusOK))
		status, body := raw("POST", local.URL+"/evacuate", "")
		Expect(status).To(Equal(http.StatusAccepted))
		Expect(body).To(MatchJSON(`{"ping_path":"/ping"}`))
		Expect(evac.calls.Load()).To(Equal(int32(1)))

		status, _ = raw("POST", srv.URL+"/evacuate", "")
		Expect(status).To(Equal(http.StatusNotFound))
		status, _ = raw("GET", local.URL+"/state", "")
		Expect(status).To(Equal(http.StatusNotFound))
	})
})
