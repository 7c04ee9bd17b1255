package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/gardenrunc/initproc"
)

var _ = Describe("a pid file", func() {
	var (
		sleep *exec.Cmd
		p     *process
		bin   string
	)

	BeforeEach(func() {
		var err error
		bin, err = exec.LookPath("sleep")
		Expect(err).NotTo(HaveOccurred())
		bin, err = filepath.EvalSymlinks(bin)
		Expect(err).NotTo(HaveOccurred())
		sleep = exec.Command(bin, "60")
		Expect(sleep.Start()).To(Succeed())
		DeferCleanup(func() {
			_ = sleep.Process.Kill()
			_ = sleep.Wait()
		})
		dir := GinkgoT().TempDir()
		p = &process{name: "sleep", bin: bin, pidPath: filepath.Join(dir, "sleep.pid"), logPath: filepath.Join(dir, "sleep.log")}
	})

	write := func(f pidFile) {
		GinkgoHelper()
		b, err := json.Marshal(f)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(p.pidPath, b, 0o600)).To(Succeed())
	}
	start := func() string {
		s, alive := initproc.ProcStart(sleep.Process.Pid)
		Expect(alive).To(BeTrue())
		return s
	}

	It("names the process it was written for, which stop stops", func() {
		write(pidFile{Pid: sleep.Process.Pid, Start: start(), Bin: bin})
		Expect(p.running()).To(Equal(sleep.Process.Pid))
		// unreaped, it is a zombie, which counts as gone
		stopped, err := p.stop(5 * time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(stopped).To(BeTrue())
		Expect(p.pidPath).NotTo(BeAnExistingFile())
	})

	It("does not name a later process that got its pid, nor another program", func() {
		for _, f := range []pidFile{
			{Pid: sleep.Process.Pid, Start: "1", Bin: bin},
			{Pid: sleep.Process.Pid, Start: start(), Bin: "/usr/bin/true"},
		} {
			write(f)
			Expect(p.running()).To(BeZero())
			stopped, err := p.stop(time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(stopped).To(BeFalse())
			Expect(syscall.Kill(sleep.Process.Pid, 0)).To(Succeed(), "the process is left alone")
			Expect(p.pidPath).NotTo(BeAnExistingFile())
		}
	})
})
