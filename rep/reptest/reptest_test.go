package reptest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/reptest"
)

var _ = Describe("Rep", func() {
	var rep *reptest.Rep
	client := &http.Client{Timeout: 2 * time.Second}

	BeforeEach(func() {
		rep = reptest.New("cell-t", reptest.Options{State: func(s *models.CellState) { s.VolumeDrivers = []string{"nfs"} }})
		DeferCleanup(rep.Close)
	})

	work := func() (*http.Response, error) {
		b, _ := json.Marshal(models.Work{CellID: "cell-t", Tasks: []models.RepTask{{TaskGuid: "t", Resource: models.Resource{MemoryMB: 10}}}})
		return client.Post(rep.URL()+"/work", "application/json", bytes.NewReader(b))
	}

	It("serves the cell state with its URL and the edits of Options.State", func() {
		resp, err := client.Get(rep.URL() + "/state")
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		var s models.CellState
		Expect(json.NewDecoder(resp.Body).Decode(&s)).To(Succeed())
		Expect(s.RepURL).To(Equal(rep.URL()))
		Expect(s.VolumeDrivers).To(Equal([]string{"nfs"}))
		Expect(rep.State().CellID).To(Equal("cell-t"))
	})

	It("records work, calls the before-work hook, and takes what fits", func() {
		var seen []models.Work
		rep.SetBeforeWork(func(w models.Work) { seen = append(seen, w) })
		resp, err := work()
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(seen).To(HaveLen(1))
		Expect(rep.Works()).To(HaveLen(1))
		Expect(rep.Placed().Tasks).To(HaveLen(1))
		Expect(rep.State().AvailableResources.MemoryMB).To(Equal(int32(1014)))
	})

	It("answers 400 for a body that is not work", func() {
		resp, err := client.Post(rep.URL()+"/work", "application/json", bytes.NewBufferString("nope"))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
	})

	It("drops connections while dead and serves again after", func() {
		rep.SetDead(true)
		_, err := client.Get(rep.URL() + "/state")
		Expect(err).To(HaveOccurred())
		rep.SetDead(false)
		resp, err := client.Get(rep.URL() + "/state")
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(rep.StateCalls()).To(Equal(1))
	})

	It("holds requests while hung, until woken", func() {
		rep.SetHung(true)
		done := make(chan error, 1)
		go func() {
			resp, err := client.Get(rep.URL() + "/state")
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		Consistently(done, 300*time.Millisecond).ShouldNot(Receive())
		rep.SetHung(false)
		Eventually(done).Should(Receive(BeNil()))
	})

	It("answers after the delay when slow, and rejects everything when rejecting", func() {
		rep.SetDelay(200 * time.Millisecond)
		rep.SetRejecting(true)
		start := time.Now()
		resp, err := work()
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(time.Since(start)).To(BeNumerically(">=", 200*time.Millisecond))
		var rejected models.Work
		Expect(json.NewDecoder(resp.Body).Decode(&rejected)).To(Succeed())
		Expect(rejected.Tasks).To(HaveLen(1))
		Expect(rejected.CellID).To(Equal("cell-t"))
		Expect(rep.Placed().Empty()).To(BeTrue())
	})
})
