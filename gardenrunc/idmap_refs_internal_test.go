package gardenrunc

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("counting the users of idmapped mounts across reloads", func() {
	var (
		b      *Backend
		shared string // a stand-in for a shared idmapped mount: removing it removes the directory
	)

	// writeContainer puts a container using shared in the depot, its init this test process
	// (alive) or a pid that is not running.
	writeContainer := func(handle string, alive bool) string {
		dir := filepath.Join(b.cfg.DepotDir, handle)
		Expect(os.Mkdir(dir, 0700)).To(Succeed())
		st := &containerState{Handle: handle, NoChains: true, IDMapped: []string{shared}, InitPid: os.Getpid()}
		if alive {
			st.InitStart, _ = procStart(os.Getpid())
		} else {
			st.InitStart = "not-this-process"
		}
		Expect(saveState(dir, st)).To(Succeed())
		return dir
	}

	BeforeEach(func() {
		requireRoot()
		tmp := GinkgoT().TempDir()
		cfg := Config{DepotDir: filepath.Join(tmp, "depot"), RuncRoot: filepath.Join(tmp, "runc"),
			CgroupParent: fmt.Sprintf("diego-garden-test-%d-refs", os.Getpid())}
		b = &Backend{cfg: cfg, log: slog.New(slog.NewTextHandler(GinkgoWriter, nil)),
			containers: map[string]*Container{}, creating: map[string]bool{},
			idmap: newIDMapper(filepath.Join(tmp, "idmapped"), DefaultUserNSHostID), cgroups: cgroupFS{root: DefaultCgroupRoot}}
		b.ips, _ = NewIPPool("10.252.0.0/30")
		b.ports, _ = NewPortPool(1, 2)
		shared = b.idmap.mountPath("/some/lower")
		Expect(os.MkdirAll(shared, 0700)).To(Succeed())
		Expect(os.MkdirAll(cfg.DepotDir, 0700)).To(Succeed())
	})

	It("keeps a live container's mount when a container whose init is gone is destroyed at reload", func() {
		writeContainer("a-live", true)
		writeContainer("b-dead", false)
		Expect(b.reload()).To(Succeed())
		Expect(b.containers).To(HaveKey("a-live"))
		Expect(b.containers).NotTo(HaveKey("b-dead"))
		Expect(b.idmap.refs).To(Equal(map[string]int{shared: 1}))
		Expect(shared).To(BeADirectory())
	})

	It("counts each container once when the backend is started again", func() {
		writeContainer("a-live", true)
		Expect(b.reload()).To(Succeed())
		Expect(b.reload()).To(Succeed())
		Expect(b.idmap.refs).To(Equal(map[string]int{shared: 1}))
	})

	It("records a destroyed container's release in its state when its directory is kept", func() {
		dir := writeContainer("a-live", true)
		Expect(b.reload()).To(Succeed())
		Expect(b.releaseIDMapped(b.containers["a-live"], []string{shared}, true)).To(Succeed())
		st, err := loadState(dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(st.IDMapped).To(BeEmpty())
		Expect(b.idmap.refs).To(BeEmpty())
	})
})
