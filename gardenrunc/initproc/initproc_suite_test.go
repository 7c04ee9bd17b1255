package initproc

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestInitproc(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Initproc Suite")
}

var _ = Describe("initproc helpers", func() {
	It("resolves commands against the process's PATH", func() {
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, "data"), []byte("x"), 0644)).To(Succeed())
		Expect(lookPath("tool", []string{"PATH=/nonexistent:" + dir})).To(Equal(filepath.Join(dir, "tool")))
		_, err := lookPath("data", []string{"PATH=" + dir})
		Expect(err).To(HaveOccurred(), "not executable")
		_, err = lookPath("tool", []string{"PATH=/nonexistent"})
		Expect(err).To(HaveOccurred())
		Expect(lookPath(filepath.Join(dir, "tool"), nil)).To(Equal(filepath.Join(dir, "tool")))
		_, err = lookPath(filepath.Join(dir, "data"), nil)
		Expect(err).To(MatchError("not an executable file"), "a path too")
	})

	It("knows capability numbers and reads process start times", func() {
		Expect(CapNames[0]).To(Equal("CAP_CHOWN"))
		Expect(CapNames[21]).To(Equal("CAP_SYS_ADMIN"))
		Expect(CapNames[24]).To(Equal("CAP_SYS_RESOURCE"))
		Expect(capSet([]string{"CAP_KILL", "CAP_NOPE"})).To(Equal(map[int]bool{5: true}))
		start, alive := ProcStart(os.Getpid())
		Expect(alive).To(BeTrue())
		Expect(start).NotTo(BeEmpty())
		_, alive = ProcStart(1 << 30)
		Expect(alive).To(BeFalse())
	})

})
