package gardenrunc

import (
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// addVethPairs makes n veth pairs (2n interfaces, vbN and vpN) in the current thread's network
// namespace, as a host with n containers has.
func addVethPairs(n int) error {
	var batch strings.Builder
	for i := range n {
		fmt.Fprintf(&batch, "link add vb%d type veth peer name vp%d\n", i, i)
	}
	cmd := exec.Command("ip", "-batch", "-")
	cmd.Stdin = strings.NewReader(batch.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ip -batch: %v: %s", err, out)
	}
	return nil
}

var _ = Describe("looking up an interface by name", func() {
	It("finds the index net.InterfaceByName finds, among many, and names a missing one", func() {
		inFreshNetns(func() {
			Expect(addVethPairs(50)).To(Succeed())
			for _, name := range []string{"lo", "vb0", "vp17", "vb49"} {
				want, err := net.InterfaceByName(name)
				Expect(err).NotTo(HaveOccurred())
				Expect(nlLinkIndex(name)).To(Equal(want.Index), name)
			}
			_, err := nlLinkIndex("vb50")
			Expect(err).To(MatchError(unix.ENODEV))
			Expect(err).To(MatchError(ContainSubstring("interface vb50")))
		})
	})
})

// BenchmarkLinkLookup looks up one interface among 1000 (500 containers' veth pairs): by name
// (nlLinkIndex, what a container's creation does) and through a dump of every interface
// (net.InterfaceByName, what it did before). The dump's cost grows with the interfaces.
//
//	go test ./gardenrunc -run '^$' -bench LinkLookup
func BenchmarkLinkLookup(b *testing.B) {
	if unix.Geteuid() != 0 {
		b.Skip("a network namespace needs root")
	}
	for _, c := range []struct {
		name   string
		lookup func(string) error
	}{
		{"by name", func(n string) error { _, err := nlLinkIndex(n); return err }},
		{"dump", func(n string) error { _, err := net.InterfaceByName(n); return err }},
	} {
		b.Run(c.name, func(b *testing.B) {
			done := make(chan error)
			go func() {
				runtime.LockOSThread() // never unlocked: the thread ends with its namespace
				if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
					done <- err
					return
				}
				if err := addVethPairs(500); err != nil {
					done <- err
					return
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := c.lookup(fmt.Sprintf("vb%d", i%500)); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
