package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/bbs/handlers"
	"github.com/diego-go/diego/bbs/service"
	"github.com/diego-go/diego/models"
)

var _ = Describe("the API", func() {
	Describe("transport", func() {
		It("answers ping", func() {
			Expect(client.Ping(ctx)).To(BeTrue())
		})

		It("answers 404 for an unknown route", func() {
			status, _ := postRaw("/v1/no_such_route", nil)
			Expect(status).To(Equal(http.StatusNotFound))
		})

		It("answers 405 for a GET", func() {
			resp, err := http.Get(server.URL + bbs.PingRoute)
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusMethodNotAllowed))
		})

		It("refuses a body over 1 MiB and writes nothing", func() {
			d := desired("huge", 1)
			d.Annotation = string(bytes.Repeat([]byte("a"), handlers.MaxBodyBytes+10))
			b, err := proto.Marshal(&models.DesireLRPRequest{DesiredLrp: d})
			Expect(err).NotTo(HaveOccurred())
			status, _ := postRaw(bbs.DesireDesiredLRPRoute, b)
			Expect(status).To(Equal(http.StatusRequestEntityTooLarge))
			Expect(client.DesiredLRPs(ctx, bbs.DesiredLRPFilter{})).To(BeEmpty())
		})
	})

	Describe("bad input", func() {
		requestRoutes := []string{
			bbs.UpsertDomainRoute, bbs.ActualLRPsRoute, bbs.ClaimActualLRPRoute, bbs.StartActualLRPRoute,
			bbs.CrashActualLRPRoute, bbs.FailActualLRPRoute, bbs.RemoveActualLRPRoute, bbs.RetireActualLRPRoute,
			bbs.EvacuateClaimedRoute, bbs.EvacuateCrashedRoute, bbs.EvacuateStoppedRoute, bbs.EvacuateRunningRoute,
			bbs.RemoveEvacuatingActualLRPRte, bbs.DesiredLRPsRoute, bbs.DesiredLRPByProcessGuidRoute,
			bbs.DesiredLRPSchedulingInfosRoute, bbs.DesiredLRPRoutingInfosRoute, bbs.DesireDesiredLRPRoute,
			bbs.UpdateDesiredLRPRoute, bbs.RemoveDesiredLRPRoute, bbs.TasksRoute, bbs.TaskByGuidRoute,
			bbs.DesireTaskRoute, bbs.StartTaskRoute, bbs.CancelTaskRoute, bbs.FailTaskRoute,
			bbs.RejectTaskRoute, bbs.CompleteTaskRoute, bbs.ResolvingTaskRoute, bbs.DeleteTaskRoute,
		}
		for _, route := range requestRoutes {
			It("answers InvalidProtobufMessage for an undecodable body on "+route, func() {
				status, e := postRaw(route, []byte{0x0a, 0xff, 0x01})
				Expect(status).To(Equal(http.StatusOK))
				Expect(e.GetType()).To(Equal(models.Error_InvalidProtobufMessage))
			})
		}

		badDesired := desired("ok", 1)
		badDesired.RootFs = "no-scheme"
		invalid := []struct {
			route string
			req   proto.Message
			field string
		}{
			{bbs.UpsertDomainRoute, &models.UpsertDomainRequest{}, "domain"},
			{bbs.ClaimActualLRPRoute, &models.ClaimActualLRPRequest{}, "process_guid"},
			{bbs.StartActualLRPRoute, &models.StartActualLRPRequest{}, "actual_lrp_key"},
			{bbs.CrashActualLRPRoute, &models.CrashActualLRPRequest{}, "actual_lrp_key"},
			{bbs.FailActualLRPRoute, &models.FailActualLRPRequest{ActualLrpKey: key("g", 0)}, "error_message"},
			{bbs.RemoveActualLRPRoute, &models.RemoveActualLRPRequest{}, "process_guid"},
			{bbs.RetireActualLRPRoute, &models.RetireActualLRPRequest{}, "actual_lrp_key"},
			{bbs.EvacuateClaimedRoute, &models.EvacuateClaimedActualLRPRequest{}, "actual_lrp_key"},
			{bbs.EvacuateCrashedRoute, &models.EvacuateCrashedActualLRPRequest{}, "actual_lrp_key"},
			{bbs.EvacuateStoppedRoute, &models.EvacuateStoppedActualLRPRequest{}, "actual_lrp_key"},
			{bbs.EvacuateRunningRoute, &models.EvacuateRunningActualLRPRequest{}, "actual_lrp_key"},
			{bbs.RemoveEvacuatingActualLRPRte, &models.RemoveEvacuatingActualLRPRequest{}, "actual_lrp_key"},
			{bbs.DesiredLRPByProcessGuidRoute, &models.DesiredLRPByProcessGuidRequest{}, "process_guid"},
			{bbs.DesireDesiredLRPRoute, &models.DesireLRPRequest{}, "desired_lrp"},
			{bbs.DesireDesiredLRPRoute, &models.DesireLRPRequest{DesiredLrp: badDesired}, "root_fs"},
			{bbs.UpdateDesiredLRPRoute, &models.UpdateDesiredLRPRequest{}, "process_guid"},
			{bbs.RemoveDesiredLRPRoute, &models.RemoveDesiredLRPRequest{}, "process_guid"},
			{bbs.TaskByGuidRoute, &models.TaskByGuidRequest{}, "task_guid"},
			{bbs.DesireTaskRoute, &models.DesireTaskRequest{}, "task_guid"},
			{bbs.StartTaskRoute, &models.StartTaskRequest{TaskGuid: "t"}, "cell_id"},
			{bbs.CancelTaskRoute, &models.TaskGuidRequest{}, "task_guid"},
			{bbs.FailTaskRoute, &models.FailTaskRequest{TaskGuid: "t"}, "failure_reason"},
			{bbs.RejectTaskRoute, &models.RejectTaskRequest{}, "task_guid"},
			{bbs.CompleteTaskRoute, &models.CompleteTaskRequest{TaskGuid: "t"}, "cell_id"},
			{bbs.ResolvingTaskRoute, &models.TaskGuidRequest{}, "task_guid"},
			{bbs.DeleteTaskRoute, &models.TaskGuidRequest{}, "task_guid"},
		}
		for _, c := range invalid {
			It("answers InvalidRequest naming "+c.field+" on "+c.route, func() {
				e := post(c.route, c.req)
				Expect(e.GetType()).To(Equal(models.Error_InvalidRequest))
				Expect(e.GetMessage()).To(ContainSubstring(c.field))
			})
		}

		// upstream validates none of the list filters, and a lookup only needs a guid
		It("accepts every filter upstream accepts, answering what matches", func() {
			Expect(client.DesireLRP(ctx, desired("app", 2))).To(Succeed())
			var lrps models.ActualLRPsResponse
			Expect(postInto(bbs.ActualLRPsRoute, &models.ActualLRPsRequest{Index: ptr(int32(1))}, &lrps).GetError()).To(BeNil())
			Expect(lrps.GetActualLrps()).To(HaveLen(1))
			Expect(lrps.GetActualLrps()[0].GetActualLrpKey().GetIndex()).To(Equal(int32(1)))
			Expect(postInto(bbs.ActualLRPsRoute, &models.ActualLRPsRequest{ProcessGuid: "app/1"}, &lrps).GetError()).To(BeNil())
			Expect(lrps.GetActualLrps()).To(BeEmpty())
			for _, route := range []string{bbs.DesiredLRPsRoute, bbs.DesiredLRPSchedulingInfosRoute, bbs.DesiredLRPRoutingInfosRoute} {
				Expect(post(route, &models.DesiredLRPsRequest{ProcessGuids: []string{"bad guid"}})).To(BeNil(), route)
			}
		})

		It("answers ResourceNotFound for a lookup of a guid nothing has, well-formed or not", func() {
			for _, guid := range []string{"missing", "no such/guid"} {
				Expect(post(bbs.DesiredLRPByProcessGuidRoute, &models.DesiredLRPByProcessGuidRequest{ProcessGuid: guid}).GetType()).To(Equal(models.Error_ResourceNotFound), guid)
				Expect(post(bbs.TaskByGuidRoute, &models.TaskByGuidRequest{TaskGuid: guid}).GetType()).To(Equal(models.Error_ResourceNotFound), guid)
			}
		})

		It("writes nothing for an invalid desire", func() {
			Expect(post(bbs.DesireDesiredLRPRoute, &models.DesireLRPRequest{DesiredLrp: badDesired}).GetType()).To(Equal(models.Error_InvalidRequest))
			Expect(client.DesiredLRPs(ctx, bbs.DesiredLRPFilter{})).To(BeEmpty())
			Expect(client.ActualLRPs(ctx, bbs.ActualLRPFilter{})).To(BeEmpty())
		})
	})

	Describe("domains and cells", func() {
		It("upserts and lists domains", func() {
			Expect(client.UpsertDomain(ctx, "cf-apps", time.Minute)).To(Succeed())
			Expect(client.UpsertDomain(ctx, "other", 0)).To(Succeed())
			Expect(client.Domains(ctx)).To(ConsistOf("cf-apps", "other"))
		})

		It("lists cells", func() {
			cs, err := client.Cells(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(cs).To(HaveLen(1))
			Expect(cs[0].GetCellId()).To(Equal("cell-1"))
		})
	})

	Describe("desired LRPs", func() {
		It("desires, lists, reads, updates and removes, auctioning new instances", func() {
			Expect(client.DesireLRP(ctx, desired("app", 2))).To(Succeed())
			Expect(errType(client.DesireLRP(ctx, desired("app", 2)))).To(Equal(models.Error_ResourceExists))
			Eventually(auctioneer.LRPs).Should(HaveLen(1))
			Expect(auctioneer.LRPs()[0].ProcessGUID).To(Equal("app"))
			Expect(auctioneer.LRPs()[0].Indices).To(ConsistOf(int32(0), int32(1)))
			Expect(auctioneer.LRPs()[0].RootFs).To(Equal("preloaded:cflinuxfs4"))
			Expect(auctioneer.LRPs()[0].MemoryMB).To(Equal(int32(128)))

			ds, err := client.DesiredLRPs(ctx, bbs.DesiredLRPFilter{Domain: "cf-apps"})
			Expect(err).NotTo(HaveOccurred())
			Expect(ds).To(HaveLen(1))
			Expect(ds[0].GetAction().GetRunAction().GetPath()).To(Equal("/bin/app"))
			Expect(client.DesiredLRPs(ctx, bbs.DesiredLRPFilter{Domain: "nope"})).To(BeEmpty())
			d, err := client.DesiredLRPByProcessGuid(ctx, "app")
			Expect(err).NotTo(HaveOccurred())
			Expect(d.GetInstances()).To(Equal(int32(2)))
			_, err = client.DesiredLRPByProcessGuid(ctx, "missing")
			Expect(errType(err)).To(Equal(models.Error_ResourceNotFound))
			s, err := client.DesiredLRPSchedulingInfos(ctx, bbs.DesiredLRPFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(s).To(HaveLen(1))
			Expect(s[0].GetDesiredLrpResource().GetMemoryMb()).To(Equal(int32(128)))
			r, err := client.DesiredLRPRoutingInfos(ctx, bbs.DesiredLRPFilter{ProcessGuids: []string{"app"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(r).To(HaveLen(1))
			Expect(r[0].GetRoutes().GetRoutes()).To(HaveKey("cf-router"))

			Expect(client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "app"})).To(HaveLen(2))

			three := int32(3)
			Expect(client.UpdateDesiredLRP(ctx, "app", &models.DesiredLRPUpdate{Instances: &three})).To(Succeed())
			Eventually(auctioneer.LRPs).Should(HaveLen(2))
			Expect(auctioneer.LRPs()[1].Indices).To(ConsistOf(int32(2)))
			Expect(client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "app"})).To(HaveLen(3))

			one := int32(1)
			Expect(client.UpdateDesiredLRP(ctx, "app", &models.DesiredLRPUpdate{Instances: &one})).To(Succeed())
			// retired in the background
			Eventually(func() ([]*models.ActualLRP, error) {
				return client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "app"})
			}).Should(HaveLen(1))

			Expect(client.RemoveDesiredLRP(ctx, "app")).To(Succeed())
			Expect(client.DesiredLRPs(ctx, bbs.DesiredLRPFilter{})).To(BeEmpty())
			Eventually(func() ([]*models.ActualLRP, error) { return client.ActualLRPs(ctx, bbs.ActualLRPFilter{}) }).Should(BeEmpty())
			Expect(errType(client.RemoveDesiredLRP(ctx, "app"))).To(Equal(models.Error_ResourceNotFound))
		})

		It("stops running instances through their cell when removed", func() {
			Expect(client.DesireLRP(ctx, desired("app", 1))).To(Succeed())
			Expect(client.ClaimActualLRP(ctx, "app", 0, ikey("ig-1", "cell-1"))).To(Succeed())
			Expect(client.RemoveDesiredLRP(ctx, "app")).To(Succeed())
			Eventually(repCalls).Should(Receive(Equal("POST /v1/lrps/app/instances/ig-1/stop")))
		})
	})

	Describe("actual LRPs", func() {
		BeforeEach(func() {
			Expect(client.DesireLRP(ctx, desired("app", 2))).To(Succeed())
			// The desire's auction request goes out in the background; specs
			// that count auction requests start after it.
			Eventually(auctioneer.LRPs).Should(HaveLen(1))
		})

		It("claims, starts, crashes, fails and removes", func() {
			Expect(client.ClaimActualLRP(ctx, "app", 0, ikey("ig-1", "cell-1"))).To(Succeed())
			Expect(errType(client.ClaimActualLRP(ctx, "app", 0, ikey("ig-2", "cell-2")))).To(Equal(models.Error_ActualLRPCannotBeClaimed))
			Expect(errType(client.ClaimActualLRP(ctx, "app", 7, ikey("ig-2", "cell-2")))).To(Equal(models.Error_ResourceNotFound))
			Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key("app", 0), ActualLrpInstanceKey: ikey("ig-1", "cell-1"),
				ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61000}}}})).To(Succeed())
			idx := int32(0)
			as, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "app", Index: &idx})
			Expect(err).NotTo(HaveOccurred())
			Expect(as).To(HaveLen(1))
			Expect(as[0].GetState()).To(Equal(models.ActualLRPStateRunning))
			Expect(client.ActualLRPs(ctx, bbs.ActualLRPFilter{CellID: "cell-1"})).To(HaveLen(1))
			Expect(client.ActualLRPs(ctx, bbs.ActualLRPFilter{Domain: "cf-apps"})).To(HaveLen(2))

			before := len(auctioneer.LRPs())
			Expect(client.CrashActualLRP(ctx, key("app", 0), ikey("ig-1", "cell-1"), "oops")).To(Succeed())
			Eventually(auctioneer.LRPs).Should(HaveLen(before + 1))
			Expect(errType(client.CrashActualLRP(ctx, key("app", 0), ikey("ig-1", "cell-1"), "oops"))).To(Equal(models.Error_ActualLRPCannotBeCrashed))

			Expect(client.FailActualLRP(ctx, key("app", 1), "insufficient resources: memory")).To(Succeed())
			as, err = client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "app", Index: ptr(int32(1))})
			Expect(err).NotTo(HaveOccurred())
			Expect(as[0].GetPlacementError()).To(Equal("insufficient resources: memory"))

			Expect(client.ClaimActualLRP(ctx, "app", 1, ikey("ig-3", "cell-1"))).To(Succeed())
			Expect(errType(client.FailActualLRP(ctx, key("app", 1), "x"))).To(Equal(models.Error_ActualLRPCannotBeFailed))
			Expect(errType(client.RemoveActualLRP(ctx, "app", 1, ikey("other", "cell-1")))).To(Equal(models.Error_ActualLRPCannotBeRemoved))
			Expect(client.RemoveActualLRP(ctx, "app", 1, ikey("ig-3", "cell-1"))).To(Succeed())
			Expect(client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "app"})).To(HaveLen(1))
		})

		It("retires an unclaimed instance by deleting it and a claimed one through its cell", func() {
			Expect(client.RetireActualLRP(ctx, key("app", 1))).To(Succeed())
			Expect(client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "app"})).To(HaveLen(1))
			Expect(client.ClaimActualLRP(ctx, "app", 0, ikey("ig-1", "cell-1"))).To(Succeed())
			Expect(client.RetireActualLRP(ctx, key("app", 0))).To(Succeed())
			Eventually(repCalls).Should(Receive(Equal("POST /v1/lrps/app/instances/ig-1/stop")))
			Expect(errType(client.RetireActualLRP(ctx, key("app", 5)))).To(Equal(models.Error_ResourceNotFound))
		})

		It("evacuates", func() {
			Expect(client.ClaimActualLRP(ctx, "app", 0, ikey("ig-1", "cell-1"))).To(Succeed())
			keep, err := client.EvacuateClaimedActualLRP(ctx, key("app", 0), ikey("ig-1", "cell-1"))
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeFalse())

			Expect(client.ClaimActualLRP(ctx, "app", 0, ikey("ig-1", "cell-1"))).To(Succeed())
			net := &models.ActualLRPNetInfo{Address: "10.0.0.1"}
			Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key("app", 0), ActualLrpInstanceKey: ikey("ig-1", "cell-1"), ActualLrpNetInfo: net})).To(Succeed())
			keep, err = client.EvacuateRunningActualLRP(ctx, &models.EvacuateRunningActualLRPRequest{ActualLrpKey: key("app", 0), ActualLrpInstanceKey: ikey("ig-1", "cell-1"), ActualLrpNetInfo: net})
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeTrue())
			Expect(client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "app"})).To(HaveLen(3))
			Expect(client.RemoveEvacuatingActualLRP(ctx, key("app", 0), ikey("ig-1", "cell-1"))).To(Succeed())
			Expect(errType(client.RemoveEvacuatingActualLRP(ctx, key("app", 0), ikey("ig-1", "cell-1")))).To(Equal(models.Error_ResourceNotFound))

			Expect(client.ClaimActualLRP(ctx, "app", 1, ikey("ig-2", "cell-1"))).To(Succeed())
			_, err = client.EvacuateStoppedActualLRP(ctx, key("app", 1), ikey("ig-2", "cell-1"))
			Expect(err).NotTo(HaveOccurred())
			Expect(client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "app", Index: ptr(int32(1))})).To(BeEmpty())

			Expect(client.ClaimActualLRP(ctx, "app", 0, ikey("ig-4", "cell-1"))).To(Succeed())
			_, err = client.EvacuateCrashedActualLRP(ctx, key("app", 0), ikey("ig-4", "cell-1"), "crashed while evacuating")
			Expect(err).NotTo(HaveOccurred())
			as, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "app", Index: ptr(int32(0))})
			Expect(err).NotTo(HaveOccurred())
			Expect(as).To(HaveLen(1))
			Expect(as[0].GetState()).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(as[0].GetCrashReason()).To(Equal("crashed while evacuating"))
		})
	})

	Describe("tasks", func() {
		It("desires, auctions, starts once, completes, resolves and deletes", func() {
			Expect(client.DesireTask(ctx, "t1", "d", taskDef())).To(Succeed())
			Expect(errType(client.DesireTask(ctx, "t1", "d", taskDef()))).To(Equal(models.Error_ResourceExists))
			Eventually(auctioneer.Tasks).Should(HaveLen(1))
			Expect(auctioneer.Tasks()[0].TaskGuid).To(Equal("t1"))
			Expect(client.Tasks(ctx, bbs.TaskFilter{Domain: "d"})).To(HaveLen(1))
			Expect(client.Tasks(ctx, bbs.TaskFilter{Domain: "x"})).To(BeEmpty())

			ok, err := client.StartTask(ctx, "t1", "cell-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(ok).To(BeTrue())
			ok, err = client.StartTask(ctx, "t1", "cell-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(ok).To(BeFalse())
			_, err = client.StartTask(ctx, "t1", "cell-2")
			Expect(errType(err)).To(Equal(models.Error_InvalidStateTransition))
			Expect(client.Tasks(ctx, bbs.TaskFilter{CellID: "cell-1"})).To(HaveLen(1))

			Expect(errType(client.CompleteTask(ctx, "t1", "cell-2", false, "", ""))).To(Equal(models.Error_RunningOnDifferentCell))
			Expect(client.CompleteTask(ctx, "t1", "cell-1", false, "", "42")).To(Succeed())
			t, err := client.TaskByGuid(ctx, "t1")
			Expect(err).NotTo(HaveOccurred())
			Expect(t.GetState()).To(Equal(models.Task_Completed))
			Expect(t.GetResult()).To(Equal("42"))
			Expect(client.ResolvingTask(ctx, "t1")).To(Succeed())
			Expect(client.DeleteTask(ctx, "t1")).To(Succeed())
			_, err = client.TaskByGuid(ctx, "t1")
			Expect(errType(err)).To(Equal(models.Error_ResourceNotFound))
		})

		It("cancels a running task and tells its cell", func() {
			Expect(client.DesireTask(ctx, "t2", "d", taskDef())).To(Succeed())
			_, err := client.StartTask(ctx, "t2", "cell-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(client.CancelTask(ctx, "t2")).To(Succeed())
			Eventually(repCalls).Should(Receive(Equal("POST /v1/tasks/t2/cancel")))
			t, err := client.TaskByGuid(ctx, "t2")
			Expect(err).NotTo(HaveOccurred())
			Expect(t.GetState()).To(Equal(models.Task_Completed))
			Expect(t.GetFailed()).To(BeTrue())
			Expect(errType(client.CancelTask(ctx, "t2"))).To(Equal(models.Error_InvalidStateTransition))
		})

		It("requeues rejected tasks and fails them after three rejections; fails tasks", func() {
			Expect(client.DesireTask(ctx, "t3", "d", taskDef())).To(Succeed())
			Expect(client.RejectTask(ctx, "t3", "full")).To(Succeed())
			Eventually(auctioneer.Tasks).Should(HaveLen(2))
			Expect(client.RejectTask(ctx, "t3", "full")).To(Succeed())
			Expect(client.RejectTask(ctx, "t3", "full")).To(Succeed())
			t, err := client.TaskByGuid(ctx, "t3")
			Expect(err).NotTo(HaveOccurred())
			Expect(t.GetState()).To(Equal(models.Task_Completed))
			Expect(t.GetFailureReason()).To(ContainSubstring("full"))

			Expect(client.DesireTask(ctx, "t4", "d", taskDef())).To(Succeed())
			Expect(client.FailTask(ctx, "t4", "no cell")).To(Succeed())
			t, err = client.TaskByGuid(ctx, "t4")
			Expect(err).NotTo(HaveOccurred())
			Expect(t.GetFailed()).To(BeTrue())
		})

		It("posts the result to the callback URL, retrying 503s, then deletes the task", func() {
			var calls atomic.Int32
			bodies := make(chan []byte, 10)
			cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				bodies <- b
				if calls.Add(1) <= 2 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			DeferCleanup(cb.Close)
			def := taskDef()
			def.CompletionCallbackUrl = cb.URL + "/done"
			def.Annotation = "note"
			Expect(client.DesireTask(ctx, "cb", "d", def)).To(Succeed())
			_, err := client.StartTask(ctx, "cb", "cell-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(client.CompleteTask(ctx, "cb", "cell-1", true, "bad exit", "")).To(Succeed())
			Eventually(func() error { _, err := client.TaskByGuid(ctx, "cb"); return err }, "5s").Should(MatchError(ContainSubstring("ResourceNotFound")))
			Expect(calls.Load()).To(Equal(int32(3)))
			var got map[string]any
			Expect(json.Unmarshal(<-bodies, &got)).To(Succeed())
			Expect(got["task_guid"]).To(Equal("cb"))
			Expect(got["failed"]).To(Equal(true))
			Expect(got["failure_reason"]).To(Equal("bad exit"))
			Expect(got["annotation"]).To(Equal("note"))
		})

		It("keeps a task whose callback keeps answering 504 Resolving, and a later convergence pass delivers it", func() {
			var calls atomic.Int32
			cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) <= service.CallbackAttempts {
					w.WriteHeader(http.StatusGatewayTimeout)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			DeferCleanup(cb.Close)
			def := taskDef()
			def.CompletionCallbackUrl = cb.URL
			Expect(client.DesireTask(ctx, "cb2", "d", def)).To(Succeed())
			Expect(client.CancelTask(ctx, "cb2")).To(Succeed())
			Eventually(calls.Load, "5s").Should(Equal(int32(service.CallbackAttempts)))
			resolving := func() models.Task_State {
				t, err := client.TaskByGuid(ctx, "cb2")
				Expect(err).NotTo(HaveOccurred())
				return t.GetState()
			}
			Consistently(resolving, "300ms").Should(Equal(models.Task_Resolving))
			Expect(calls.Load()).To(Equal(int32(service.CallbackAttempts)))

			// the suite's passes resend a callback stuck in Resolving for a second
			time.Sleep(1100 * time.Millisecond)
			Expect(client.Converge(ctx)).To(Succeed())
			Eventually(func() error { _, err := client.TaskByGuid(ctx, "cb2"); return err }, "5s").Should(MatchError(ContainSubstring("ResourceNotFound")))
			Expect(calls.Load()).To(Equal(int32(service.CallbackAttempts + 1)))
		})

		It("keeps a task whose callback cannot be reached Resolving", func() {
			cb := httptest.NewServer(http.NotFoundHandler())
			url := cb.URL
			cb.Close()
			def := taskDef()
			def.CompletionCallbackUrl = url
			Expect(client.DesireTask(ctx, "cb3", "d", def)).To(Succeed())
			Expect(client.CancelTask(ctx, "cb3")).To(Succeed())
			Eventually(func() models.Task_State {
				t, err := client.TaskByGuid(ctx, "cb3")
				Expect(err).NotTo(HaveOccurred())
				return t.GetState()
			}).Should(Equal(models.Task_Resolving))
			svc.Wait()
			t, err := client.TaskByGuid(ctx, "cb3")
			Expect(err).NotTo(HaveOccurred())
			Expect(t.GetState()).To(Equal(models.Task_Resolving))
		})
	})

	Describe("events", func() {
		It("streams LRP and task changes, filtered by cell", func() {
			all, err := client.SubscribeToLRPInstanceEvents(ctx, "")
			Expect(err).NotTo(HaveOccurred())
			defer all.Close()
			cellOnly, err := client.SubscribeToLRPInstanceEvents(ctx, "cell-1")
			Expect(err).NotTo(HaveOccurred())
			defer cellOnly.Close()
			tasks, err := client.SubscribeToTaskEvents(ctx, "")
			Expect(err).NotTo(HaveOccurred())
			defer tasks.Close()
			Eventually(lrpHub.SubscriberCount).Should(Equal(2))
			Eventually(taskHub.SubscriberCount).Should(Equal(1))

			Expect(client.DesireLRP(ctx, desired("ev", 1))).To(Succeed())
			e, err := all.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.EventType()).To(Equal(models.EventTypeDesiredLRPCreated))
			// the event carries the desired LRP exactly as stored, run info and modification tag included
			stored, err := client.DesiredLRPByProcessGuid(ctx, "ev")
			Expect(err).NotTo(HaveOccurred())
			Expect(stored.GetModificationTag().GetEpoch()).NotTo(BeEmpty())
			Expect(stored.GetAction()).NotTo(BeNil())
			Expect(proto.Equal(e.(*models.DesiredLRPCreatedEvent).GetDesiredLrp(), stored)).To(BeTrue(), "%v\n%v", e, stored)
			e, err = all.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.EventType()).To(Equal(models.EventTypeActualLRPInstanceCreated))
			created := e.(*models.ActualLRPInstanceCreatedEvent).GetActualLrp()
			Expect(created.GetActualLrpKey().GetProcessGuid()).To(Equal("ev"))
			Expect(created.GetState()).To(Equal(models.ActualLRPStateUnclaimed))

			Expect(client.ClaimActualLRP(ctx, "ev", 0, ikey("ig", "cell-1"))).To(Succeed())
			e, err = all.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.EventType()).To(Equal(models.EventTypeActualLRPInstanceChanged))
			var seen []string
			for {
				e, err = cellOnly.Next()
				Expect(err).NotTo(HaveOccurred())
				seen = append(seen, e.EventType())
				if e.EventType() != models.EventTypeDesiredLRPCreated {
					break
				}
			}
			// the unclaimed instance concerned no cell; its claim on cell-1 does
			Expect(seen).NotTo(ContainElement(models.EventTypeActualLRPInstanceCreated))
			Expect(seen[len(seen)-1]).To(Equal(models.EventTypeActualLRPInstanceChanged))

			Expect(client.DesireTask(ctx, "evt", "d", taskDef())).To(Succeed())
			e, err = tasks.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.EventType()).To(Equal(models.EventTypeTaskCreated))
		})
	})
})

func ptr[T any](v T) *T { return &v }

var _ = Describe("races through the API", func() {
	It("lets exactly one of 100 concurrent claims of one instance succeed", func() {
		Expect(client.DesireLRP(ctx, desired("race", 1))).To(Succeed())
		var wins, refused atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				<-start
				err := client.ClaimActualLRP(ctx, "race", 0, ikey(fmt.Sprintf("ig-%d", i), fmt.Sprintf("cell-%d", i)))
				if err == nil {
					wins.Add(1)
					return
				}
				Expect(errType(err)).To(Equal(models.Error_ActualLRPCannotBeClaimed))
				refused.Add(1)
			}()
		}
		close(start)
		wg.Wait()
		Expect(wins.Load()).To(Equal(int32(1)))
		Expect(refused.Load()).To(Equal(int32(99)))
	})

	It("gives should_start=true to exactly one of 50 concurrent starts of one task", func() {
		Expect(client.DesireTask(ctx, "race-task", "d", taskDef())).To(Succeed())
		var should atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				<-start
				ok, _ := client.StartTask(ctx, "race-task", fmt.Sprintf("cell-%d", i%5))
				if ok {
					should.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		Expect(should.Load()).To(Equal(int32(1)))
	})
})
