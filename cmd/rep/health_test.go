package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/models"
)

var _ = Describe("a cell whose garden health check fails", func() {
	It("answers GET /state 503 with its state, and the auctioneer places new work on the other cell", func() {
		ex := executorConfig()
		ex["garden_healthcheck_process_path"] = "/bin/false"
		ex["garden_healthcheck_process_args"] = []string{}
		ex["garden_healthcheck_command_retry_pause"] = "100ms"
		sick := startCell(guid("sick"), gardens[0], map[string]any{"executor": ex, "cell_index": 7})
		well := startCell(guid("well"), gardens[1], map[string]any{"cell_index": 1})

		api := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: clientTLS()}}
		state := func(c *cell) (int, models.CellState) {
			GinkgoHelper()
			resp, err := api.Get("https://" + c.api + "/state")
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			Expect(err).NotTo(HaveOccurred())
			var s models.CellState
			Expect(json.Unmarshal(body, &s)).To(Succeed(), string(body))
			return resp.StatusCode, s
		}
		code, s := state(sick)
		Expect(code).To(Equal(http.StatusServiceUnavailable))
		Expect(s.CellID).To(Equal(sick.id))
		Expect(s.CellIndex).To(Equal(7))
		code, s = state(well)
		Expect(code).To(Equal(http.StatusOK))
		Expect(s.CellIndex).To(Equal(1))

		processGuid := guid("placed")
		desire(appLRP(processGuid, 2))
		taskGuid := guid("placed-task")
		desireTask(taskGuid, shTask("true"))
		Eventually(func() []*models.ActualLRP { return running(processGuid) }, 60*time.Second, 100*time.Millisecond).Should(HaveLen(2))
		for _, a := range running(processGuid) {
			Expect(a.GetActualLrpInstanceKey().GetCellId()).To(Equal(well.id))
		}
		t := completed(taskGuid, 60*time.Second)
		Expect(t.GetFailed()).To(BeFalse(), t.GetFailureReason())
		Expect(t.GetCellId()).To(Equal(well.id))
		Expect(handles(sick.garden)).To(BeEmpty(), "nothing was placed on the sick cell")
	})
})
