package main_test

import (
	"context"
	"io"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/executor/logstream"
	"github.com/diego-go/diego/models"
)

// request is one GET the client made to the retiring instance.
type request struct {
	started time.Time
	status  int // 0: no answer
}

var _ = Describe("retiring an instance with a route drain delay", func() {
	It("marks it unroutable in the BBS, keeps serving for the delay, then SIGTERMs it and the requests in flight finish", func() {
		const delay = time.Second
		startCell(guid("drain"), gardens[0], map[string]any{"route_drain_delay": delay.String()})
		processGuid := guid("drained")
		logs := subscribeLogs(processGuid)
		desire(appLRP(processGuid, 2))
		Eventually(func() int { return answering(running(processGuid)) }, 60*time.Second, 100*time.Millisecond).Should(Equal(2))
		retiring := instance(processGuid, 1)
		url := appURL(retiring)

		// when the BBS has the retiring instance unroutable (zero: it was not RUNNING then)
		sub, err := bbsClient.SubscribeToLRPInstanceEvents(context.Background(), "")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(sub.Close)
		changes := make(chan time.Time, 1)
		go func() {
			for {
				e, err := sub.Next()
				if err != nil {
					return
				}
				if ev, ok := e.(*models.ActualLRPInstanceChangedEvent); ok &&
					ev.GetActualLrpInstanceKey().GetInstanceGuid() == retiring.GetActualLrpInstanceKey().GetInstanceGuid() && !ev.GetAfter().GetRoutable() {
					at := time.Now()
					if ev.GetAfter().GetState() != models.ActualLRPStateRunning {
						at = time.Time{}
					}
					changes <- at
					return
				}
			}
		}()

		// a client requests the retiring instance on its host port every 20 ms (made is read once
		// it stopped)
		var made []request
		stopClient := every(20*time.Millisecond, func() {
			r := request{started: time.Now()}
			if resp, err := httpClient.Get(url + "/"); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				r.status = resp.StatusCode
			}
			made = append(made, r)
		})

		Expect(bbsClient.UpdateDesiredLRP(ctx(), processGuid, &models.DesiredLRPUpdate{Instances: proto.Int32(1)})).To(Succeed())

		var unroutable time.Time
		Eventually(changes, 30*time.Second).Should(Receive(&unroutable))
		Expect(unroutable).NotTo(BeZero(), "still running while it drains")

		// a request that is in flight when the SIGTERM comes, and one started after the BBS has
		// the instance unroutable
		type answered struct {
			status int
			at     time.Time
		}
		inFlight := make(chan answered, 1)
		go func() {
			resp, err := httpClient.Get(url + "/sleep?ms=1500")
			if err != nil {
				inFlight <- answered{}
				return
			}
			resp.Body.Close()
			inFlight <- answered{resp.StatusCode, time.Now()}
		}()
		Expect(answer(retiring, "/")).NotTo(BeEmpty(), "serving after it became unroutable: not signalled yet")

		sigterm := func() *logstream.Message {
			for _, m := range logs() {
				if m.SourceInstance == "1" && m.Message == "testapp: SIGTERM, finishing the requests in flight" {
					return &m
				}
			}
			return nil
		}
		Eventually(sigterm, 20*time.Second, 50*time.Millisecond).ShouldNot(BeNil())
		signalled := time.Unix(0, sigterm().Timestamp)
		GinkgoWriter.Printf("drain: unroutable in the BBS, SIGTERM %s later\n", signalled.Sub(unroutable))
		Expect(signalled.Sub(unroutable)).To(BeNumerically(">=", delay-200*time.Millisecond), "SIGTERM only after the drain")
		var slept answered
		Eventually(inFlight, 10*time.Second).Should(Receive(&slept))
		Expect(slept.status).To(Equal(http.StatusOK), "the request in flight at SIGTERM finished")
		Expect(slept.at).To(BeTemporally(">", signalled), "it was in flight when the SIGTERM came")

		Eventually(func() *models.ActualLRP { return instance(processGuid, 1) }, 30*time.Second, 100*time.Millisecond).Should(BeNil())
		Expect(running(processGuid)).To(HaveLen(1))
		stopClient()
		var afterUnroutable int
		for _, r := range made {
			if r.started.Before(unroutable.Add(delay - 200*time.Millisecond)) {
				Expect(r.status).To(Equal(http.StatusOK), "a request started %s after the instance became unroutable", r.started.Sub(unroutable))
				if r.started.After(unroutable) {
					afterUnroutable++
				}
			}
		}
		Expect(afterUnroutable).To(BeNumerically(">", 0), "requests reached it during the drain")
	})
})
