package gardenrunc

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// owner is a file's host uid and gid, not following a final symlink.
func owner(p string) [2]uint32 {
	fi, err := os.Lstat(p)
	Expect(err).NotTo(HaveOccurred())
	st := fi.Sys().(*syscall.Stat_t)
	return [2]uint32{st.Uid, st.Gid}
}

func requireRoot() {
	if os.Geteuid() != 0 {
		Skip("needs root")
	}
}

var _ = Describe("the server's files in a container's root", func() {
	const mappedRoot = 1900000000
	var tmp, rootfs, hostDir, hostFile string

	BeforeEach(func() {
		requireRoot()
		tmp = GinkgoT().TempDir()
		rootfs = filepath.Join(tmp, "rootfs")
		hostDir = filepath.Join(tmp, "host-etc")
		hostFile = filepath.Join(hostDir, "passwd")
		Expect(os.MkdirAll(rootfs, 0755)).To(Succeed())
		Expect(os.MkdirAll(hostDir, 0755)).To(Succeed())
		Expect(os.WriteFile(hostFile, []byte("host:x:0:0::/:/bin/sh\n"), 0644)).To(Succeed())
	})

	expectHostUntouched := func() {
		Expect(os.ReadFile(hostFile)).To(Equal([]byte("host:x:0:0::/:/bin/sh\n")))
		Expect(owner(hostFile)).To(Equal([2]uint32{0, 0}))
		Expect(owner(hostDir)).To(Equal([2]uint32{0, 0}))
		entries, err := os.ReadDir(hostDir)
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(HaveLen(1))
	}
	expectEtcFiles := func() {
		etc := filepath.Join(rootfs, "etc")
		fi, err := os.Lstat(etc)
		Expect(err).NotTo(HaveOccurred())
		Expect(fi.IsDir()).To(BeTrue())
		for name, want := range map[string]string{"hostname": "h\n", "hosts": "127.0.0.1 localhost\n10.0.0.5 h\n"} {
			p := filepath.Join(etc, name)
			fi, err := os.Lstat(p)
			Expect(err).NotTo(HaveOccurred())
			Expect(fi.Mode().IsRegular()).To(BeTrue(), name)
			Expect(os.ReadFile(p)).To(Equal([]byte(want)), name)
			Expect(owner(p)).To(Equal([2]uint32{mappedRoot, mappedRoot}), name)
		}
	}

	It("replaces etc files that are symlinks to host files instead of writing through them", func() {
		Expect(os.Mkdir(filepath.Join(rootfs, "etc"), 0755)).To(Succeed())
		for _, name := range []string{"hosts", "hostname", "resolv.conf"} {
			Expect(os.Symlink(hostFile, filepath.Join(rootfs, "etc", name))).To(Succeed())
		}
		Expect(writeEtcFiles(rootfs, "h", net.ParseIP("10.0.0.5"), mappedRoot)).To(Succeed())
		expectHostUntouched()
		expectEtcFiles()
	})

	It("replaces an etc that is a symlink to a host directory, which does not resolve inside the root", func() {
		Expect(os.Symlink(hostDir, filepath.Join(rootfs, "etc"))).To(Succeed())
		Expect(writeEtcFiles(rootfs, "h", net.ParseIP("10.0.0.5"), mappedRoot)).To(Succeed())
		expectHostUntouched()
		expectEtcFiles()
		Expect(owner(filepath.Join(rootfs, "etc"))).To(Equal([2]uint32{mappedRoot, mappedRoot}))
	})

	It("follows an etc symlink that stays inside the root, as the container does", func() {
		Expect(os.MkdirAll(filepath.Join(rootfs, "usr", "etc"), 0755)).To(Succeed())
		Expect(os.Symlink("/usr/etc", filepath.Join(rootfs, "etc"))).To(Succeed())
		Expect(writeEtcFiles(rootfs, "h", net.ParseIP("10.0.0.5"), mappedRoot)).To(Succeed())
		Expect(os.ReadFile(filepath.Join(rootfs, "usr", "etc", "hostname"))).To(Equal([]byte("h\n")))
	})
})

var _ = Describe("looking up users in a container's /etc/passwd", func() {
	var tmp, rootfs, etc string

	BeforeEach(func() {
		tmp = GinkgoT().TempDir()
		rootfs = filepath.Join(tmp, "rootfs")
		etc = filepath.Join(rootfs, "etc")
		Expect(os.MkdirAll(etc, 0755)).To(Succeed())
	})

	It("reads a regular file, through symlinks inside the root", func() {
		Expect(os.MkdirAll(filepath.Join(rootfs, "lib"), 0755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(rootfs, "lib", "passwd"), []byte("vcap:x:2000:2001::/home/vcap:/bin/sh\n"), 0644)).To(Succeed())
		Expect(os.Symlink("/lib/passwd", filepath.Join(etc, "passwd"))).To(Succeed())
		Expect(LookupUser(rootfs, "vcap")).To(Equal(UserInfo{UID: 2000, GID: 2001, Home: "/home/vcap"}))
	})

	It("does not read a host file an absolute symlink names", func() {
		host := filepath.Join(tmp, "host-passwd")
		Expect(os.WriteFile(host, []byte("hostonly:x:4242:4242::/secret:/bin/sh\n"), 0644)).To(Succeed())
		Expect(os.Symlink(host, filepath.Join(etc, "passwd"))).To(Succeed())
		_, err := LookupUser(rootfs, "hostonly")
		Expect(err).To(MatchError(`unknown user "hostonly"`))
	})

	It("refuses a FIFO at once, naming the problem, instead of blocking", func() {
		fifo := filepath.Join(etc, "passwd")
		Expect(syscall.Mkfifo(fifo, 0644)).To(Succeed())
		DeferCleanup(func() {
			// lets a lookup blocked in open go (a writer may open without blocking once a reader waits)
			if fd, err := syscall.Open(fifo, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				syscall.Close(fd)
			}
		})
		done := make(chan error, 1)
		go func() {
			_, err := LookupUser(rootfs, "root")
			done <- err
		}()
		var err error
		Eventually(done, 2*time.Second).Should(Receive(&err))
		Expect(err).To(MatchError(ContainSubstring("container's /etc/passwd is not a regular file")))
	})

	It("refuses a file larger than it reads", func() {
		line := "x:x:1:1::/:/bin/sh\n"
		Expect(os.WriteFile(filepath.Join(etc, "passwd"), []byte(strings.Repeat(line, maxPasswd/len(line)+1)), 0644)).To(Succeed())
		_, err := LookupUser(rootfs, "root")
		Expect(err).To(MatchError(ContainSubstring("container's /etc/passwd is larger than 4194304 bytes")))
	})

	It("falls back to numeric ids and root without the file", func() {
		Expect(LookupUser(rootfs, "root")).To(Equal(UserInfo{Home: "/root"}))
		Expect(LookupUser(rootfs, "1234")).To(Equal(UserInfo{UID: 1234, GID: 1234, Home: "/"}))
	})
})
