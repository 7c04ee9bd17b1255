package gardenrunc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// mountSource is the source of the mount at dir in /proc/self/mountinfo ("" when none).
func mountSource(dir string) (source, fstype string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	Expect(err).NotTo(HaveOccurred())
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || f[4] != dir {
			continue
		}
		for i, x := range f {
			if x == "-" && i+2 < len(f) {
				return f[i+2], f[i+1]
			}
		}
	}
	return "", ""
}

var _ = Describe("a container's disk", func() {
	It("is an ext4 on a loop device of its own, which is detached when the disk is unmounted", func() {
		if unix.Geteuid() != 0 {
			Skip("loop devices need root")
		}
		dir := GinkgoT().TempDir()
		Expect(makeLoopDisk(dir, 16<<20, 1000)).To(Succeed())
		DeferCleanup(func() { _ = unmountAll(dir) })
		dev, fstype := mountSource(diskDir(dir))
		Expect(fstype).To(Equal("ext4"))
		Expect(dev).To(HavePrefix("/dev/loop"))
		backing := filepath.Join("/sys/block", filepath.Base(dev), "loop", "backing_file")
		b, err := os.ReadFile(backing)
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(string(b))).To(Equal(diskImg(dir)))
		var st unix.Statfs_t
		Expect(unix.Statfs(diskDir(dir), &st)).To(Succeed())
		Expect(st.Files).To(BeNumerically("<=", 1024))

		Expect(unmountAll(dir)).To(Succeed())
		Expect(mountSource(diskDir(dir))).To(BeEmpty())
		// the kernel may finish autoclear after the unmount returns
		Eventually(func() bool { _, err := os.Stat(backing); return os.IsNotExist(err) }).WithTimeout(5*time.Second).Should(BeTrue(), "%s is detached", dev)
	})

	It("gives each of many disks bound at once a loop device of its own", func() {
		if unix.Geteuid() != 0 {
			Skip("loop devices need root")
		}
		img := filepath.Join(GinkgoT().TempDir(), "disk.img")
		Expect(os.WriteFile(img, make([]byte, 1<<20), 0o600)).To(Succeed())
		f, err := os.OpenFile(img, os.O_RDWR, 0)
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		const n = 100
		type bound struct {
			dev  string
			loop *os.File
			err  error
		}
		out := make(chan bound, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				dev, loop, err := bindLoop(f)
				out <- bound{dev, loop, err}
			})
		}
		close(start)
		wg.Wait()
		close(out)
		devs := map[string]bool{}
		for b := range out {
			Expect(b.err).NotTo(HaveOccurred())
			// closing the only user of an autoclear device detaches it
			DeferCleanup(b.loop.Close)
			devs[b.dev] = true
		}
		Expect(devs).To(HaveLen(n))
	})

	It("names the image it could not mount", func() {
		if unix.Geteuid() != 0 {
			Skip("loop devices need root")
		}
		dir := GinkgoT().TempDir()
		img := filepath.Join(dir, "not-ext4.img")
		Expect(os.WriteFile(img, make([]byte, 1<<20), 0o600)).To(Succeed())
		Expect(os.Mkdir(filepath.Join(dir, "m"), 0o755)).To(Succeed())
		err := mountLoop(img, filepath.Join(dir, "m"))
		Expect(err).To(MatchError(ContainSubstring("at " + filepath.Join(dir, "m"))))
	})
})

// BenchmarkLoopMount mounts and unmounts a 16 MB ext4 image through a loop device: directly
// (mountLoop, what a container's creation does) and with mount -o loop (what it did before),
// whose cost grows with the host's mounts and loop devices.
//
//	go test ./gardenrunc -run '^$' -bench LoopMount
func BenchmarkLoopMount(b *testing.B) {
	if unix.Geteuid() != 0 {
		b.Skip("loop devices need root")
	}
	dir := b.TempDir()
	img, mnt := filepath.Join(dir, "disk.img"), filepath.Join(dir, "m")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.Truncate(img, 16<<20); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		b.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	for _, c := range []struct {
		name  string
		mount func() error
	}{
		{"direct", func() error { return mountLoop(img, mnt) }},
		{"mount(8)", func() error { return exec.Command("mount", "-o", "loop", img, mnt).Run() }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := c.mount(); err != nil {
					b.Fatal(err)
				}
				if err := unmountPath(mnt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
