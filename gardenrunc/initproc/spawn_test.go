package initproc

import (
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// socketPair returns both ends of a unix stream socket, the init's end through the poller as
// the init's accepted connections are.
func socketPair() (initEnd, serverEnd *os.File) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	Expect(err).NotTo(HaveOccurred())
	Expect(unix.SetNonblock(fds[0], true)).To(Succeed())
	initEnd, serverEnd = os.NewFile(uintptr(fds[0]), "init"), os.NewFile(uintptr(fds[1]), "server")
	DeferCleanup(func() { initEnd.Close(); serverEnd.Close() }) // either may be closed already
	return initEnd, serverEnd
}

// sendRequest writes a start request's header (claiming size bytes of spec) with files, then spec.
func sendRequest(conn *os.File, size uint32, spec []byte, files ...*os.File) {
	var fds []int
	for _, f := range files {
		fds = append(fds, int(f.Fd()))
	}
	head := binary.BigEndian.AppendUint32(nil, size)
	Expect(unix.Sendmsg(int(conn.Fd()), head, unix.UnixRights(fds...), nil, 0)).To(Succeed())
	_, err := conn.Write(spec)
	Expect(err).NotTo(HaveOccurred())
}

func tempFiles(n int) []*os.File {
	var out []*os.File
	for i := 0; i < n; i++ {
		f, err := os.CreateTemp(GinkgoT().TempDir(), "file")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(f.Close)
		out = append(out, f)
	}
	return out
}

var _ = Describe("the init's start requests", func() {
	It("reads the spec and the request's five files", func() {
		initEnd, serverEnd := socketPair()
		sendRequest(serverEnd, 9, []byte(`{"a":"b"}`), tempFiles(reqFiles)...)
		spec, files, err := readRequest(initEnd)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(spec)).To(Equal(`{"a":"b"}`))
		Expect(files).To(HaveLen(reqFiles))
		closeAll(files)
	})

	It("refuses a request with the wrong number of files, or a spec over the limit", func() {
		initEnd, serverEnd := socketPair()
		sendRequest(serverEnd, 2, []byte(`{}`), tempFiles(2)...)
		_, _, err := readRequest(initEnd)
		Expect(err).To(MatchError("bad request: 2 files, want 5"))

		initEnd, serverEnd = socketPair()
		sendRequest(serverEnd, MaxSpecSize+1, nil, tempFiles(reqFiles)...)
		_, _, err = readRequest(initEnd)
		Expect(err).To(MatchError(ContainSubstring("process spec of 16777217 bytes")))
	})

	It("serves no peer inside its own pid namespace: the connection is closed unanswered", func() {
		initEnd, serverEnd := socketPair()
		fd, err := unix.Dup(int(initEnd.Fd()))
		Expect(err).NotTo(HaveOccurred())
		sp := &spawner{children: map[int]*child{}}
		sp.handle(fd) // this test's own process is the peer, so its pid is not 0
		serverEnd.SetReadDeadline(time.Now().Add(5 * time.Second))
		initEnd.Close()
		b, err := io.ReadAll(serverEnd)
		Expect(err).NotTo(HaveOccurred())
		Expect(b).To(BeEmpty())
	})

	It("records a reaped child's exit code (128+N for signal N) in its exit file, then answers exit", func() {
		initEnd, serverEnd := socketPair()
		dir := GinkgoT().TempDir()
		exit, err := os.Create(filepath.Join(dir, "exit"))
		Expect(err).NotTo(HaveOccurred())
		_, holdW, err := os.Pipe()
		Expect(err).NotTo(HaveOccurred())
		ch := &child{conn: initEnd, exit: exit, hold: holdW, replied: make(chan struct{})}
		sp := &spawner{children: map[int]*child{4242: ch}}
		close(ch.replied)

		sp.reaped(4242, syscall.WaitStatus(syscall.SIGKILL)) // killed by signal 9
		serverEnd.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(serverEnd)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(Equal("exit 137\n"))
		Expect(os.ReadFile(filepath.Join(dir, "exit"))).To(Equal([]byte("137\n")))
		Expect(sp.children).To(BeEmpty())
		_, err = holdW.Write([]byte("x"))
		Expect(err).To(HaveOccurred(), "the held stdin writer is let go")

		sp.reaped(4243, syscall.WaitStatus(0)) // not one of the server's: nothing to do
	})
})
