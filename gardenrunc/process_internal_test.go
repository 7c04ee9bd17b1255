package gardenrunc

import (
	"net"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
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

var _ = Describe("awaiting a process's exit", func() {
	It("takes a connection the init reset for an init gone, without crashing the server", func() {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		Expect(err).NotTo(HaveOccurred())
		f := os.NewFile(uintptr(fds[0]), "server-end")
		c, err := net.FileConn(f)
		f.Close()
		Expect(err).NotTo(HaveOccurred())
		server := c.(*net.UnixConn)
		// the init is killed (its container destroyed) with the server's request unread: the
		// server's next read fails with ECONNRESET rather than an end of file
		_, err = server.Write([]byte("a request the init never read"))
		Expect(err).NotTo(HaveOccurred())
		Expect(unix.Close(fds[1])).To(Succeed())

		p := newProc("reset", GinkgoT().TempDir())
		codes := make(chan int, 1)
		p.await(server, func(code int) { codes <- code })
		Expect(codes).To(Receive(Equal(137)), "killed with its init")
	})
})
