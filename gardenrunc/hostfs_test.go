package gardenrunc_test

import (
	"os"
	"path/filepath"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Root filesystems whose /etc points at host files, which the server, as host root, must not
// write, chown or read for the container. They are made in BeforeEach; the server's config names
// them (preloaded:etc-links, preloaded:etc-dir-link).
func etcLinksRootFS(dir string) string   { return filepath.Join(dir, "etc-links-rootfs") }
func etcDirLinkRootFS(dir string) string { return filepath.Join(dir, "etc-dir-link-rootfs") }

const hostContent = "hostonly:x:4242:4242::/secret:/bin/sh\n"

var _ = Describe("images whose /etc points at host files", func() {
	var hostDir, hostFile string

	BeforeEach(func() {
		requireIntegration()
		hostDir = filepath.Join(workDir, "host-etc")
		hostFile = filepath.Join(hostDir, "passwd")
		if _, err := os.Stat(hostDir); err == nil {
			return // made by an earlier spec of this process
		}
		Expect(os.Mkdir(hostDir, 0755)).To(Succeed())
		Expect(os.WriteFile(hostFile, []byte(hostContent), 0644)).To(Succeed())

		links := etcLinksRootFS(workDir)
		Expect(makeBusyboxRootFS(links)).To(Succeed())
		for _, name := range []string{"passwd", "hosts", "hostname", "resolv.conf"} {
			os.Remove(filepath.Join(links, "etc", name))
			Expect(os.Symlink(hostFile, filepath.Join(links, "etc", name))).To(Succeed())
		}
		dirLink := etcDirLinkRootFS(workDir)
		Expect(makeBusyboxRootFS(dirLink)).To(Succeed())
		Expect(os.RemoveAll(filepath.Join(dirLink, "etc"))).To(Succeed())
		Expect(os.Symlink(hostDir, filepath.Join(dirLink, "etc"))).To(Succeed())
	})

	expectHostUntouched := func() {
		Expect(os.ReadFile(hostFile)).To(Equal([]byte(hostContent)))
		Expect(hostOwner(hostFile)).To(Equal([2]uint32{0, 0}))
		Expect(hostOwner(hostDir)).To(Equal([2]uint32{0, 0}))
		entries, err := os.ReadDir(hostDir)
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(HaveLen(1))
	}
	expectOwnEtcFiles := func(c garden.Container) {
		info, err := c.Info()
		Expect(err).NotTo(HaveOccurred())
		r := sh(c, "cat /etc/hostname; cat /etc/hosts")
		Expect(r.code).To(Equal(0), r.stderr)
		Expect(r.stdout).To(Equal(c.Handle() + "\n127.0.0.1 localhost\n" + info.ContainerIP + " " + c.Handle() + "\n"))
	}

	It("replaces etc files that are symlinks to host files, and does not look users up in them", func() {
		c := createContainer(garden.ContainerSpec{Image: garden.ImageRef{URI: "preloaded:etc-links"}})
		expectHostUntouched()
		expectOwnEtcFiles(c)
		_, err := c.Run(garden.ProcessSpec{User: "hostonly", Path: "/bin/true"}, garden.ProcessIO{})
		Expect(err).To(MatchError(ContainSubstring(`unknown user "hostonly"`)))
	})

	It("gives a container whose etc is a symlink to a host directory an etc of its own", func() {
		c := createContainer(garden.ContainerSpec{Image: garden.ImageRef{URI: "preloaded:etc-dir-link"}})
		expectHostUntouched()
		expectOwnEtcFiles(c)
	})
})
