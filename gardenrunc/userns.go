package gardenrunc

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultUserNSHostID is the first host uid/gid that container ids map to by default: just past
// systemd's range for container users (524288-1879048191), far above the ids distributions give
// to system and regular users (and /etc/subuid's usual 100000+ ranges), and below 2^31 so that
// no tool reads it as negative.
const DefaultUserNSHostID = 1879048192

// UserNSSize is how many container uids and gids (0..65535) are mapped to host ids.
const UserNSSize = 65536

// MaxUserNSHostID is the highest first host id: the range must end before 4294967294 and
// 4294967295, which the kernel and tools use as "no id".
const MaxUserNSHostID = 4294967294 - UserNSSize

// IDMappings maps container ids 0..65535 onto host ids hostID..hostID+65535. Pure.
func IDMappings(hostID uint32) []specs.LinuxIDMapping {
	return []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: UserNSSize}}
}

// CheckUserNSHostID says whether hostID..hostID+65535 is a usable range. Pure.
func CheckUserNSHostID(hostID uint32) error {
	if hostID < UserNSSize || hostID > MaxUserNSHostID {
		return fmt.Errorf("userns_host_id %d must be between %d and %d, so that the %d mapped ids "+
			"stay clear of ordinary host users and of the ids meaning \"none\"", hostID, UserNSSize, MaxUserNSHostID, UserNSSize)
	}
	return nil
}

// UserNamespacesAllowed reads the kernel's limit on user namespaces (sysctlPath is normally
// /proc/sys/user/max_user_namespaces) and says why they cannot be used, or nil.
func UserNamespacesAllowed(sysctlPath string) error {
	b, err := os.ReadFile(sysctlPath)
	if err != nil {
		return fmt.Errorf("kernel without user namespaces (%w)", err)
	}
	if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || n == 0 {
		return fmt.Errorf("%s is %q", sysctlPath, strings.TrimSpace(string(b)))
	}
	return nil
}

// checkHostIDsUnused refuses a range that holds an id of a user or group the host knows, who
// would then own files in containers and could signal their processes.
func checkHostIDsUnused(hostID uint32) error {
	for _, f := range []string{"/etc/passwd", "/etc/group"} {
		if err := checkIDFile(f, hostID); err != nil {
			return err
		}
	}
	return nil
}

func checkIDFile(path string, hostID uint32) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // no such database: nothing to clash with
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 3 {
			continue
		}
		id, err := strconv.ParseUint(fields[2], 10, 32)
		if err == nil && id >= uint64(hostID) && id < uint64(hostID)+UserNSSize {
			return fmt.Errorf("userns_host_id: host ids %d-%d include %q (id %d) of %s; choose another range",
				hostID, uint64(hostID)+UserNSSize-1, fields[0], id, path)
		}
	}
	return nil
}

// newUserNamespace returns a handle on a new user namespace with the containers' mapping, which
// idmapped mounts take their mapping from. Only a process can make one, and a Go program cannot
// unshare one itself (it is multi-threaded), so a child is started in one: under ptrace it stops
// at its exec before running any of its code, its namespace is opened and it is killed.
func newUserNamespace(bin string, hostID uint32) (*os.File, error) {
	ids := []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(hostID), Size: UserNSSize}}
	cmd := exec.Command(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, Ptrace: true,
		UidMappings: ids, GidMappings: ids, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start a process in a new user namespace: %w", err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid))
	if err != nil {
		return nil, fmt.Errorf("open the new user namespace: %w", err)
	}
	return f, nil
}

// idmapped makes an idmapped, read-only bind mount of src at dst: files owned by host id N
// appear owned by N mapped through userns (root's files by the containers' root). Read-only
// because overlayfs never writes its lower layers, and so that nothing removes image files
// through it.
func idmapped(src, dst string, userns *os.File) error {
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open_tree %s: %w", src, err)
	}
	defer unix.Close(fd)
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP | unix.MOUNT_ATTR_RDONLY, Userns_fd: uint64(userns.Fd())}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, attr); err != nil {
		return fmt.Errorf("idmap a mount of %s (does its filesystem support idmapped mounts?): %w", src, err)
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount %s to %s: %w", src, dst, err)
	}
	return nil
}

func isMountPoint(p string) bool {
	var st unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_TYPE, &st)
	return err == nil && st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}

// idmapper keeps one idmapped mount per lower directory (under dir, named after the host range
// and the lower's path), shared by every container with a user namespace that uses that lower,
// and counts those containers. overlayfs takes private clones of its layers' mounts when it
// mounts, so a container needs the shared mount only while its overlay is mounted; the mount is
// kept for the next container until the last one using it is destroyed. After a restart,
// mounts are found again by their path; those no reloaded container uses are removed (sweep).
type idmapper struct {
	dir    string
	hostID uint32
	sysctl string   // the kernel's limit on user namespaces
	userns *os.File // nil: no user namespaces (the kernel refuses them, or Start has not run)

	mu   sync.Mutex
	refs map[string]int // mount path -> containers using it
}

func newIDMapper(dir string, hostID uint32) *idmapper {
	return &idmapper{dir: dir, hostID: hostID, sysctl: "/proc/sys/user/max_user_namespaces", refs: map[string]int{}}
}

// enable makes the user namespace the mappings come from, after checking that the kernel allows
// user namespaces, idmapped mounts of dir's filesystem and overlays of them.
func (m *idmapper) enable(bin string) error {
	if err := UserNamespacesAllowed(m.sysctl); err != nil {
		return err
	}
	if err := os.MkdirAll(m.dir, 0700); err != nil {
		return err
	}
	userns, err := newUserNamespace(bin, m.hostID)
	if err != nil {
		return err
	}
	if err := probeIDMappedOverlay(filepath.Join(m.dir, ".probe"), userns); err != nil {
		userns.Close()
		return err
	}
	m.userns = userns
	return nil
}

// probeIDMappedOverlay mounts a throwaway overlay at dir whose lower layer is idmapped through
// userns, as containers' roots are, and removes it. Kernels 5.12 to 5.18 make idmapped mounts
// but overlayfs refuses them as layers: there unprivileged containers must run without a user
// namespace rather than fail to be created.
func probeIDMappedOverlay(dir string, userns *os.File) error {
	if err := removeProbe(dir); err != nil { // left by a server that died probing
		return err
	}
	lower, mapped, upper, work, merged := filepath.Join(dir, "lower"), filepath.Join(dir, "mapped"),
		filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{lower, mapped, upper, work, merged} {
		if err := os.MkdirAll(d, 0700); err != nil {
			return err
		}
	}
	err := idmapped(lower, mapped, userns)
	if err == nil {
		err = mountProbeOverlay(mapped, upper, work, merged)
	}
	return errors.Join(err, removeProbe(dir))
}

func mountProbeOverlay(lower, upper, work, merged string) error {
	opts, err := OverlayOptions([]string{lower}, upper, work)
	if err != nil {
		return err
	}
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("overlayfs refuses an idmapped lower layer (kernels before 5.19 do): %w", err)
	}
	return nil
}

// removeProbe unmounts the probe's mounts and removes its directory; it never descends into a
// mount it could not unmount.
func removeProbe(dir string) error {
	for _, m := range []string{"merged", "mapped"} {
		if err := unmountPath(filepath.Join(dir, m)); err != nil {
			return err
		}
	}
	return os.RemoveAll(dir)
}

func (m *idmapper) enabled() bool { return m.userns != nil }

func (m *idmapper) mountPath(lower string) string {
	sum := sha256.Sum256([]byte(lower))
	return filepath.Join(m.dir, fmt.Sprintf("%d-%x", m.hostID, sum[:12]))
}

// acquire returns the idmapped mounts of lowers (in the same order), making those that are not
// mounted yet, and counts one more user of each.
func (m *idmapper) acquire(lowers []string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, l := range lowers {
		p := m.mountPath(l)
		if err := m.ensureMounted(l, p); err != nil {
			m.releaseLocked(out)
			return nil, err
		}
		m.refs[p]++
		out = append(out, p)
	}
	return out, nil
}

func (m *idmapper) ensureMounted(lower, p string) error {
	if isMountPoint(p) {
		return nil // made before, by this server or the one before a restart
	}
	if err := os.MkdirAll(p, 0700); err != nil {
		return err
	}
	return idmapped(lower, p, m.userns)
}

// forget drops every count, before the containers in the depot are counted again.
func (m *idmapper) forget() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refs = map[string]int{}
}

// hold counts a reloaded container as a user of its mounts (which it no longer needs itself).
func (m *idmapper) hold(paths []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range paths {
		m.refs[p]++
	}
}

// release counts one user less of each mount, and removes those nobody uses any more.
func (m *idmapper) release(paths []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.releaseLocked(paths)
}

func (m *idmapper) releaseLocked(paths []string) error {
	var errs []error
	for _, p := range paths {
		if m.refs[p] > 1 {
			m.refs[p]--
			continue
		}
		delete(m.refs, p)
		errs = append(errs, removeMount(p))
	}
	return errors.Join(errs...)
}

// sweep removes the mounts no container uses: those left by a server that stopped after its
// last user was destroyed without it, or whose users died while it was down.
func (m *idmapper) sweep() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	var errs []error
	for _, e := range entries {
		if p := filepath.Join(m.dir, e.Name()); m.refs[p] == 0 {
			errs = append(errs, removeMount(p))
		}
	}
	return errors.Join(errs...)
}

func removeMount(p string) error {
	if err := unmountPath(p); err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// startUserNamespaces turns user namespaces on for unprivileged containers where the kernel
// allows them; where it does not, it says so once and those containers run without one.
func (b *Backend) startUserNamespaces() error {
	if b.idmap.enabled() {
		return nil // a restart of the backend
	}
	if err := checkHostIDsUnused(b.cfg.UserNSHostID); err != nil {
		return err
	}
	if err := b.idmap.enable(b.cfg.InitBin); err != nil {
		b.log.Warn("unprivileged-containers-run-without-user-namespace", "reason", err.Error())
		return nil
	}
	if err := depotReachable(b.cfg.DepotDir); err != nil {
		return err
	}
	b.log.Info("user-namespaces-on", "host_id", b.cfg.UserNSHostID, "size", UserNSSize)
	return nil
}

// depotReachable lets containers' roots, which are not host root, reach their directories in
// the depot (runc mounts a container's root filesystem as the container's root): the depot and
// the parents this makes are searchable (not readable) by others, and a parent that is not is
// refused, rather than changed, with a clear error. Each container's own directory is searchable
// only by its root's group (searchableBy).
func depotReachable(depot string) error {
	if err := os.MkdirAll(depot, 0711); err != nil {
		return err
	}
	if err := os.Chmod(depot, 0711); err != nil {
		return err
	}
	for d := filepath.Dir(depot); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0001 == 0 {
			return fmt.Errorf("depot_dir %s: its parent %s is not searchable by others (mode %04o), as the roots of "+
				"containers with user namespaces need: chmod o+x it or choose another depot_dir", depot, d, fi.Mode().Perm())
		}
		if d == "/" {
			return nil
		}
	}
}

// searchableBy gives group id (a container root's) search permission on dir, and nobody else.
func searchableBy(dir string, id uint32) error {
	if err := os.Chown(dir, 0, int(id)); err != nil {
		return err
	}
	return os.Chmod(dir, 0710)
}
