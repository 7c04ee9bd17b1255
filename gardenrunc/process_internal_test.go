package gardenrunc

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("process retention", func() {
	It("forgets exited processes nobody waits on after the retention time", func() {
		dir := GinkgoT().TempDir()
		c := &Container{procs: map[string]*proc{}}
		mk := func(id string) *proc {
			p := newProc(id, filepath.Join(dir, id))
			Expect(os.MkdirAll(p.dir, 0700)).To(Succeed())
			c.procs[id] = p
			return p
		}
		running, recent, old, waited := mk("running"), mk("recent"), mk("old"), mk("waited-on")
		_ = running
		recent.finish(0, nil)
		old.finish(0, nil)
		old.exitedAt = time.Now().Add(-2 * processRetention)
		waited.finish(0, nil)
		waited.exitedAt = old.exitedAt
		h := &handle{p: waited}
		waited.attached = 1

		c.collectProcesses()
		Expect(c.procs).To(HaveKey("running"))
		Expect(c.procs).To(HaveKey("recent"))
		Expect(c.procs).To(HaveKey("waited-on"))
		Expect(c.procs).NotTo(HaveKey("old"))
		Expect(old.dir).NotTo(BeADirectory())

		h.release()
		c.collectProcesses()
		Expect(c.procs).NotTo(HaveKey("waited-on"))
	})
})
