package inigo_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/inigo/world"
	"github.com/diego-go/diego/models"
)

var _ = Describe("the file-server", func() {
	It("serves what a cell downloads into an instance before starting it", func() {
		processGuid := w.Guid("download")
		script := processGuid + ".sh"
		Expect(os.WriteFile(filepath.Join(w.FileServer.Dir, script), []byte("exec /testapp\n"), 0o644)).To(Succeed())
		lrp := world.AppLRP(processGuid, 1, host(processGuid))
		lrp.Setup = &models.Action{Value: &models.Action_DownloadAction{DownloadAction: &models.DownloadAction{
			From: fmt.Sprintf("%s/v1/static/%s", w.FileServer.URL(), script), To: "/tmp/app", CacheKey: script, User: "vcap",
		}}}
		run := lrp.Action.GetRunAction()
		run.Path, run.Args = "/bin/sh", []string{"/tmp/app/" + script}
		w.Desire(lrp)
		w.WaitRunning(processGuid, 1, 2*time.Minute)
		w.Routers[0].WaitRoutable(host(processGuid), 1, 30*time.Second)
	})
})
