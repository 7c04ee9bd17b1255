package gardenrunc_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/diego-go/diego/gardenrunc"
)

var _ = Describe("user namespaces", func() {
	Describe("the pure parts", func() {
		It("maps container ids 0..65535 in unprivileged specs only", func() {
			p := gardenrunc.BundleParams{Handle: "h", RootFS: "/r", InitBin: "/i", CgroupsPath: "/c", UserNSHostID: 1900000000}
			s, err := gardenrunc.BuildSpec(p)
			Expect(err).NotTo(HaveOccurred())
			Expect(s.Linux.Namespaces).To(ContainElement(specs.LinuxNamespace{Type: specs.UserNamespace}))
			want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1900000000, Size: 65536}}
			Expect(s.Linux.UIDMappings).To(Equal(want))
			Expect(s.Linux.GIDMappings).To(Equal(want))

			p.Privileged = true
			s, err = gardenrunc.BuildSpec(p)
			Expect(err).NotTo(HaveOccurred())
			Expect(s.Linux.Namespaces).NotTo(ContainElement(specs.LinuxNamespace{Type: specs.UserNamespace}))
			Expect(s.Linux.UIDMappings).To(BeEmpty())

			p.Privileged, p.UserNSHostID = false, 0
			s, err = gardenrunc.BuildSpec(p)
			Expect(err).NotTo(HaveOccurred())
			Expect(s.Linux.Namespaces).NotTo(ContainElement(specs.LinuxNamespace{Type: specs.UserNamespace}))
		})

		It("accepts only host ranges clear of ordinary ids and of the 'no id' values", func() {
			Expect(gardenrunc.CheckUserNSHostID(gardenrunc.DefaultUserNSHostID)).To(Succeed())
			Expect(gardenrunc.CheckUserNSHostID(65536)).To(Succeed())
			Expect(gardenrunc.CheckUserNSHostID(4294967294 - 65536)).To(Succeed())
			Expect(gardenrunc.CheckUserNSHostID(1000)).To(MatchError(ContainSubstring("userns_host_id 1000 must be between")))
			Expect(gardenrunc.CheckUserNSHostID(4294967294 - 65535)).To(MatchError(ContainSubstring("userns_host_id")))
		})

		It("says why user namespaces cannot be used when the kernel's limit is 0", func() {
			sysctl := filepath.Join(GinkgoT().TempDir(), "max_user_namespaces")
			Expect(os.WriteFile(sysctl, []byte("0\n"), 0644)).To(Succeed())
			Expect(gardenrunc.UserNamespacesAllowed(sysctl)).To(MatchError(ContainSubstring(`max_user_namespaces is "0"`)))
			Expect(os.WriteFile(sysctl, []byte("15000\n"), 0644)).To(Succeed())
			Expect(gardenrunc.UserNamespacesAllowed(sysctl)).To(Succeed())
			Expect(gardenrunc.UserNamespacesAllowed(sysctl + ".missing")).To(MatchError(ContainSubstring("without user namespaces")))
		})
	})

	Describe("in containers", func() {
		BeforeEach(requireIntegration)

		It("gives an unprivileged container the configured mapping, a root filesystem its root owns, and host ids in the range", func() {
			c := createContainer(garden.ContainerSpec{})
			mapping := fmt.Sprintf("0 %d 65536", usernsHostID)
			Expect(fields(sh(c, "cat /proc/self/uid_map").stdout)).To(Equal(mapping))
			Expect(fields(sh(c, "cat /proc/self/gid_map").stdout)).To(Equal(mapping))
			Expect(sh(c, "id -u; id -g").stdout).To(Equal("0\n0\n"))
			Expect(sh(c, "stat -c '%u:%g %n' / /bin/busybox /etc/passwd /etc/hosts /etc/hostname /root /home/vcap").stdout).To(Equal(
				"0:0 /\n0:0 /bin/busybox\n0:0 /etc/passwd\n0:0 /etc/hosts\n0:0 /etc/hostname\n0:0 /root\n2000:2000 /home/vcap\n"))

			Expect(sh(c, "echo root > /made-by-root && chmod 600 /etc/passwd").code).To(Equal(0))
			r := runIn(c, garden.ProcessSpec{User: "vcap", Path: "/bin/sh", Args: []string{"-c", "id -u; echo vcap > /home/vcap/made-by-vcap"}}, nil)
			Expect(r).To(Equal(result{stdout: "2000\n"}))
			upper := filepath.Join(containerPath(c), "upper")
			Expect(hostOwner(filepath.Join(upper, "made-by-root"))).To(Equal([2]uint32{usernsHostID, usernsHostID}))
			Expect(hostOwner(filepath.Join(upper, "home", "vcap", "made-by-vcap"))).To(Equal([2]uint32{usernsHostID + 2000, usernsHostID + 2000}))
			// copied up from the idmapped lower layer with the container's ids, the image untouched
			Expect(hostOwner(filepath.Join(upper, "etc", "passwd"))).To(Equal([2]uint32{usernsHostID, usernsHostID}))
			Expect(hostOwner(filepath.Join(rootfsDir, "etc", "passwd"))).To(Equal([2]uint32{0, 0}))
		})

		It("streams in and out as the container's users, whose files are theirs inside and in the range on the host", func() {
			c := createContainer(garden.ContainerSpec{})
			Expect(c.StreamIn(garden.StreamInSpec{Path: "/srv", TarStream: tarOf(map[string]string{"by-root": "r"})})).To(Succeed())
			Expect(c.StreamIn(garden.StreamInSpec{Path: "/home/vcap/app", User: "vcap", TarStream: tarOf(map[string]string{"by-vcap": "v"})})).To(Succeed())
			Expect(sh(c, "stat -c '%u %n' /srv/by-root /home/vcap/app/by-vcap").stdout).To(Equal("0 /srv/by-root\n2000 /home/vcap/app/by-vcap\n"))
			upper := filepath.Join(containerPath(c), "upper")
			Expect(hostOwner(filepath.Join(upper, "srv", "by-root"))).To(Equal([2]uint32{usernsHostID, usernsHostID}))
			Expect(hostOwner(filepath.Join(upper, "home", "vcap", "app", "by-vcap"))).To(Equal([2]uint32{usernsHostID + 2000, usernsHostID + 2000}))
			out, err := c.StreamOut(garden.StreamOutSpec{Path: "/srv/by-root"})
			Expect(err).NotTo(HaveOccurred())
			files, err := readTar(out)
			out.Close()
			Expect(err).NotTo(HaveOccurred())
			Expect(files).To(Equal(map[string]string{"by-root": "r"}))
		})

		It("keeps the container's root its own on a disk-limited writable layer", func() {
			c := createContainer(garden.ContainerSpec{Limits: garden.Limits{Disk: garden.DiskLimits{ByteHard: 16 << 20}}})
			Expect(sh(c, "stat -c %u:%g /; mkdir /new && stat -c %u:%g /new").stdout).To(Equal("0:0\n0:0\n"))
			Expect(hostOwner(filepath.Join(containerPath(c), "disk", "upper", "new"))).To(Equal([2]uint32{usernsHostID, usernsHostID}))
		})

		It("gives a privileged container no user namespace", func() {
			c := createContainer(garden.ContainerSpec{Privileged: true})
			Expect(fields(sh(c, "cat /proc/self/uid_map").stdout)).To(Equal("0 0 4294967295"))
			Expect(sh(c, "echo x > /made-by-root").code).To(Equal(0))
			Expect(hostOwner(filepath.Join(containerPath(c), "upper", "made-by-root"))).To(Equal([2]uint32{0, 0}))
		})

		It("runs the processes of a container with a long handle (its init socket's path is longer than a socket address) in the user namespace", func() {
			long := createContainer(garden.ContainerSpec{Handle: strings.Repeat("h", 120)})
			Expect(len(filepath.Join(containerPath(long), "init.sock"))).To(BeNumerically(">", 108))
			Expect(fields(sh(long, "cat /proc/self/uid_map /proc/1/uid_map").stdout)).To(Equal(fmt.Sprintf("0 %d 65536 0 %d 65536", usernsHostID, usernsHostID)))
			Expect(sh(long, "stat -c %u:%g /etc/passwd").stdout).To(Equal("0:0\n"))
		})

		It("denies the container's root what host root could do: write to a host directory read-only for others", func() {
			hostDir, err := os.MkdirTemp(workDir, "root-only-")
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(os.RemoveAll, hostDir)
			Expect(os.Chmod(hostDir, 0755)).To(Succeed())
			bind := []garden.BindMount{{SrcPath: hostDir, DstPath: "/mnt/host", Mode: garden.BindMountModeRW}}

			unprivileged := createContainer(garden.ContainerSpec{BindMounts: bind})
			r := sh(unprivileged, "touch /mnt/host/by-container-root")
			Expect(r.code).NotTo(Equal(0))
			Expect(r.stderr).To(ContainSubstring("Permission denied"))
			Expect(filepath.Join(hostDir, "by-container-root")).NotTo(BeAnExistingFile())

			// the same, as real host root, succeeds: the denial is the user namespace's doing
			privileged := createContainer(garden.ContainerSpec{Privileged: true, BindMounts: bind})
			Expect(sh(privileged, "touch /mnt/host/by-host-root").code).To(Equal(0))
			Expect(filepath.Join(hostDir, "by-host-root")).To(BeAnExistingFile())
		})

		It("shares one idmapped mount per lower layer between containers and removes it with its last user", func() {
			Expect(idmappedMounts()).To(BeEmpty(), "no container of another spec may be left")
			a := createContainer(garden.ContainerSpec{})
			b := createContainer(garden.ContainerSpec{})
			mounts := idmappedMounts()
			Expect(mounts).To(HaveLen(1))
			Expect(mounts[0]).To(HavePrefix(filepath.Join(idmappedDir(), fmt.Sprintf("%d-", usernsHostID))))
			createContainer(garden.ContainerSpec{Privileged: true})
			Expect(idmappedMounts()).To(Equal(mounts))

			Expect(srv.client.Destroy(a.Handle())).To(Succeed())
			Expect(idmappedMounts()).To(Equal(mounts))
			Expect(sh(b, "cat /etc/passwd").code).To(Equal(0))
			Expect(srv.client.Destroy(b.Handle())).To(Succeed())
			Expect(idmappedMounts()).To(BeEmpty())
			Expect(os.ReadDir(idmappedDir())).To(BeEmpty())
		})

		It("finds the shared mount again after a restart, keeps it for the reloaded container and removes it on its destroy", func() {
			c := createContainer(garden.ContainerSpec{})
			mounts := idmappedMounts()
			Expect(mounts).To(HaveLen(1))
			srv.kill9()
			srv.start(gardenBin)
			Expect(idmappedMounts()).To(Equal(mounts))
			Expect(fields(sh(c, "cat /proc/self/uid_map").stdout)).To(Equal(fmt.Sprintf("0 %d 65536", usernsHostID)))
			Expect(c.StreamIn(garden.StreamInSpec{Path: "/after-restart", TarStream: tarOf(map[string]string{"f": "x"})})).To(Succeed())
			Expect(sh(c, "stat -c %u /after-restart/f").stdout).To(Equal("0\n"))

			other := createContainer(garden.ContainerSpec{})
			Expect(idmappedMounts()).To(Equal(mounts))
			Expect(srv.client.Destroy(other.Handle())).To(Succeed())
			Expect(idmappedMounts()).To(Equal(mounts))
			Expect(srv.client.Destroy(c.Handle())).To(Succeed())
			Expect(idmappedMounts()).To(BeEmpty())
		})

		It("removes at start the idmapped mounts that no reloaded container uses", func() {
			c, err := srv.client.Create(garden.ContainerSpec{})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { srv.client.Destroy(c.Handle()) })
			Expect(idmappedMounts()).To(HaveLen(1))
			srv.kill9()
			// the container dies while the server is down, and a mount nobody counts is left
			Expect(syscall.Kill(initPid(c.Handle()), syscall.SIGKILL)).To(Succeed())
			stray := filepath.Join(idmappedDir(), fmt.Sprintf("%d-stray", usernsHostID))
			Expect(os.MkdirAll(stray, 0700)).To(Succeed())
			Expect(syscall.Mount(GinkgoT().TempDir(), stray, "", syscall.MS_BIND, "")).To(Succeed())
			DeferCleanup(func() { syscall.Unmount(stray, syscall.MNT_DETACH) }) // if the server left it
			srv.start(gardenBin)

			Expect(mountsUnder(idmappedDir())).To(BeEmpty())
			Expect(os.ReadDir(idmappedDir())).To(BeEmpty())
		})
	})
})

func initPid(handle string) int {
	data, err := os.ReadFile(filepath.Join(srv.depot, handle, "state.json"))
	Expect(err).NotTo(HaveOccurred())
	var st struct {
		InitPid int `json:"init_pid"`
	}
	Expect(json.Unmarshal(data, &st)).To(Succeed())
	return st.InitPid
}

func fields(s string) string { return strings.Join(strings.Fields(s), " ") }

func containerPath(c garden.Container) string {
	info, err := c.Info()
	Expect(err).NotTo(HaveOccurred())
	return info.ContainerPath
}

func hostOwner(path string) [2]uint32 {
	var st syscall.Stat_t
	Expect(syscall.Lstat(path, &st)).To(Succeed())
	return [2]uint32{st.Uid, st.Gid}
}

func idmappedDir() string { return filepath.Join(workDir, "images", "idmapped") }

// idmappedMounts lists the idmapped mounts in the suite server's idmapped directory.
func idmappedMounts() []string { return mountPoints(idmappedDir(), true) }

// mountsUnder lists every mount point below dir.
func mountsUnder(dir string) []string { return mountPoints(dir, false) }

func mountPoints(dir string, onlyIdmapped bool) []string {
	f, err := os.Open("/proc/self/mountinfo")
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mount-point mount-options ...
		fs := strings.Fields(sc.Text())
		if len(fs) > 5 && strings.HasPrefix(fs[4], dir+"/") &&
			(!onlyIdmapped || strings.Contains(","+fs[5]+",", ",idmapped,")) {
			out = append(out, fs[4])
		}
	}
	return out
}
