package gardenrunc

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("probing user namespaces at start", func() {
	var m *idmapper

	mountsUnder := func(dir string) []string {
		b, err := os.ReadFile("/proc/self/mountinfo")
		Expect(err).NotTo(HaveOccurred())
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], dir) {
				out = append(out, f[4])
			}
		}
		return out
	}

	BeforeEach(func() {
		requireRoot()
		m = newIDMapper(filepath.Join(GinkgoT().TempDir(), "idmapped"), DefaultUserNSHostID)
		DeferCleanup(func() {
			if m.userns != nil {
				m.userns.Close()
			}
		})
	})

	It("mounts an overlay of an idmapped lower where the kernel allows it, and leaves nothing behind", func() {
		bin, err := os.Executable()
		Expect(err).NotTo(HaveOccurred())
		Expect(m.enable(bin)).To(Succeed())
		Expect(m.enabled()).To(BeTrue())
		Expect(os.ReadDir(m.dir)).To(BeEmpty())
		Expect(mountsUnder(m.dir)).To(BeEmpty())
	})

	It("removes what a server that died probing left, mounts included", func() {
		bin, err := os.Executable()
		Expect(err).NotTo(HaveOccurred())
		Expect(m.enable(bin)).To(Succeed())
		probe := filepath.Join(m.dir, ".probe")
		DeferCleanup(func() { removeProbe(probe) }) // also when the spec fails before the probe
		for _, d := range []string{"lower", "mapped", "upper", "work", "merged"} {
			Expect(os.MkdirAll(filepath.Join(probe, d), 0700)).To(Succeed())
		}
		Expect(idmapped(filepath.Join(probe, "lower"), filepath.Join(probe, "mapped"), m.userns)).To(Succeed())
		Expect(mountProbeOverlay(filepath.Join(probe, "mapped"), filepath.Join(probe, "upper"),
			filepath.Join(probe, "work"), filepath.Join(probe, "merged"))).To(Succeed())
		Expect(mountsUnder(m.dir)).To(HaveLen(2))

		Expect(probeIDMappedOverlay(probe, m.userns)).To(Succeed())
		Expect(os.ReadDir(m.dir)).To(BeEmpty())
		Expect(mountsUnder(m.dir)).To(BeEmpty())
	})
})
