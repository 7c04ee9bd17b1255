package gardenrunc

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"code.cloudfoundry.org/garden"
	"golang.org/x/sys/unix"

	"github.com/diego-go/diego/gardenrunc/initproc"
)

// Layout of a container's directory in the depot.
func rootfsDir(dir string) string { return filepath.Join(dir, "rootfs") }
func diskImg(dir string) string   { return filepath.Join(dir, "disk.img") }
func diskDir(dir string) string   { return filepath.Join(dir, "disk") }

// OverlayOptions builds overlayfs mount data. lowers are listed top-most first. The mount is
// volatile: a container's writable layer dies with the container, so syncing it to disk (on fsync
// and at unmount) buys nothing and costs ~10 ms per destroy. Pure.
func OverlayOptions(lowers []string, upper, work string) (string, error) {
	if len(lowers) == 0 {
		return "", errors.New("no lower layers")
	}
	for _, l := range append(append([]string{}, lowers...), upper, work) {
		if strings.ContainsAny(l, ",:") {
			return "", fmt.Errorf("layer path %q contains ',' or ':'", l)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,volatile", strings.Join(lowers, ":"), upper, work)
	if len(opts) >= 4096 {
		return "", fmt.Errorf("overlay mount options too long (%d layers)", len(lowers))
	}
	return opts, nil
}

// mountRootFS mounts the copy-on-write root of a container at dir/rootfs: an overlay of lowers
// with its writable layer either in dir (no byte limit) or on a loop-mounted ext4 filesystem made
// for disk's byte and inode limits, so the writable layer cannot grow past them. The writable
// layer and overlayfs' work directory belong to rootID, the host id of the container's root (0
// without a user namespace), so that the root directory is the container root's own.
func mountRootFS(dir string, lowers []string, disk garden.DiskLimits, rootID uint32) (string, error) {
	base := dir
	if disk.ByteHard > 0 {
		if err := makeLoopDisk(dir, disk.ByteHard, disk.InodeHard); err != nil {
			return "", err
		}
		base = diskDir(dir)
	}
	upper, work, root := filepath.Join(base, "upper"), filepath.Join(base, "work"), rootfsDir(dir)
	for _, d := range []string{upper, work, root} {
		if err := os.MkdirAll(d, 0755); err != nil {
			return "", err
		}
	}
	for _, d := range []string{upper, work} {
		if err := os.Chown(d, int(rootID), int(rootID)); err != nil {
			return "", err
		}
	}
	opts, err := OverlayOptions(lowers, upper, work)
	if err != nil {
		return "", err
	}
	if err := unix.Mount("overlay", root, "overlay", 0, opts); err != nil {
		return "", fmt.Errorf("mount overlay at %s: %w", root, err)
	}
	return root, nil
}

const (
	// minDisk is the smallest loop filesystem made; ext4 needs room for its own metadata.
	minDisk = 8 << 20
	// inodeSize is the loop filesystem's inode size, given to mkfs so that loopDiskSize can count
	// the room its inode tables take.
	inodeSize = 256
	// maxInodes is ext4's largest inode count.
	maxInodes = math.MaxUint32
)

// checkDiskLimits refuses disk limits the loop filesystem cannot be made for.
func checkDiskLimits(disk garden.DiskLimits) error {
	if disk.InodeHard > maxInodes {
		return fmt.Errorf("disk limit: inode_hard %d is more than ext4's maximum of %d", disk.InodeHard, uint64(maxInodes))
	}
	return nil
}

// loopDiskSize is the size of the loop filesystem for a byte limit and an inode limit (0: mkfs'
// default count). ext4 allocates its inode tables when it is made, so their room is added to the
// byte limit: the container's files get about the bytes asked for however many inodes it has.
func loopDiskSize(byteLimit, inodeLimit uint64) uint64 {
	return max(byteLimit, minDisk) + inodeLimit*inodeSize
}

func makeLoopDisk(dir string, byteLimit, inodeLimit uint64) error {
	img := diskImg(dir)
	f, err := os.OpenFile(img, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0600)
	if err != nil {
		return err
	}
	err = f.Truncate(int64(loopDiskSize(byteLimit, inodeLimit)))
	f.Close()
	if err != nil {
		return err
	}
	args := []string{"-q", "-F", "-m", "0", "-I", strconv.Itoa(inodeSize), "-O", "^has_journal",
		"-E", "nodiscard,lazy_itable_init=1"}
	if inodeLimit > 0 {
		args = append(args, "-N", strconv.FormatUint(inodeLimit, 10))
	}
	if out, err := exec.Command("mkfs.ext4", append(args, img)...).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4: %v: %s", err, out)
	}
	if err := os.MkdirAll(diskDir(dir), 0755); err != nil {
		return err
	}
	if err := mountLoop(img, diskDir(dir)); err != nil {
		return fmt.Errorf("mount loop disk: %w", err)
	}
	return nil
}

// loopMu makes this process's creations take free loop devices one at a time: the kernel names
// the same free device to every caller until one has bound it.
var loopMu sync.Mutex

// mountLoop mounts the ext4 image img at dir through a free loop device that detaches itself
// when the mount goes (autoclear, as mount -o loop sets). It asks the kernel for the device
// directly: mount(8) reads every mount of the host and scans every loop device to do the same,
// which with a mount pair and a loop device per container costs in proportion to the containers.
func mountLoop(img, dir string) error {
	f, err := os.OpenFile(img, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	dev, loop, err := bindLoop(f)
	if err != nil {
		return err
	}
	err = unix.Mount(dev, dir, "ext4", 0, "")
	// the mount holds the device from now on; without it this close detaches it
	loop.Close()
	if err != nil {
		return fmt.Errorf("mount %s at %s: %w", dev, dir, err)
	}
	return nil
}

// bindLoop binds f to a free loop device, with autoclear, and returns its path and an open file
// of it.
func bindLoop(f *os.File) (string, *os.File, error) {
	loopMu.Lock()
	defer loopMu.Unlock()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	defer ctl.Close()
	// another process (another server, losetup) may bind the free device first: ask again
	for deadline := time.Now().Add(10 * time.Second); ; {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", nil, fmt.Errorf("free loop device: %w", err)
		}
		dev := fmt.Sprintf("/dev/loop%d", n)
		loop, err := os.OpenFile(dev, os.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return "", nil, err
		}
		err = unix.IoctlLoopConfigure(int(loop.Fd()), &unix.LoopConfig{Fd: uint32(f.Fd()),
			Info: unix.LoopInfo64{Flags: unix.LO_FLAGS_AUTOCLEAR}})
		if err == nil {
			return dev, loop, nil
		}
		loop.Close()
		if err != unix.EBUSY {
			return "", nil, fmt.Errorf("configure %s: %w", dev, err)
		}
		if time.Now().After(deadline) {
			return "", nil, fmt.Errorf("no free loop device: %s and the others found were taken for 10 s", dev)
		}
		// leave the CPU to whoever is binding the device rather than spin against it
		time.Sleep(2 * time.Millisecond)
	}
}

// unmountAll removes the container's mounts (idempotent).
func unmountAll(dir string) error {
	var errs []error
	for _, m := range []string{rootfsDir(dir), diskDir(dir)} {
		if err := unmountPath(m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func unmountPath(p string) error {
	for i := 0; ; i++ {
		err := unix.Unmount(p, 0)
		switch {
		case err == nil:
			// mounts are never stacked here, but make sure
			continue
		case err == syscall.EINVAL || err == syscall.ENOENT:
			return nil // not (or no longer) a mount point
		case err == syscall.EBUSY && i < 50:
			time.Sleep(10 * time.Millisecond)
		case err == syscall.EBUSY:
			return unix.Unmount(p, unix.MNT_DETACH)
		default:
			return fmt.Errorf("unmount %s: %w", p, err)
		}
	}
}

// dirUsage sums the sizes of files under dir (the writable layer without a disk limit).
func dirUsage(dir string) (bytes, inodes uint64) {
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		inodes++
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			bytes += uint64(st.Blocks) * 512
		}
		return nil
	})
	return
}

// openInRoot opens path (relative to root, an fd of a container's root directory) as a process
// chrooted to root would: symlinks, absolute ones included, and ".." never leave root, and magic
// links (/proc/<pid>/fd/...) are refused. The server runs as host root on the container's files,
// which the image and the container's own root control, so this is how it opens any of them.
func openInRoot(root int, path string, flags int, mode uint32) (*os.File, error) {
	how := &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Mode: uint64(mode),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := unix.Openat2(root, path, how)
		switch err {
		case nil:
			return os.NewFile(uintptr(fd), path), nil
		case unix.EAGAIN, unix.EINTR:
			continue // a rename raced with the lookup: the kernel asks to retry
		default:
			return nil, &os.PathError{Op: "open in container root", Path: path, Err: err}
		}
	}
}

// openRoot opens a container's root directory for openInRoot.
func openRoot(rootfs string) (*os.File, error) {
	fd, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: rootfs, Err: err}
	}
	return os.NewFile(uintptr(fd), rootfs), nil
}

// replaceFile writes name in dir (an fd of a directory inside a container's root) as a new file
// owned by owner: whatever was there, a symlink included, is removed rather than followed.
func replaceFile(dir int, name string, data []byte, owner uint32) error {
	if err := unix.Unlinkat(dir, name, 0); err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove /etc/%s in the container's root: %w", name, err)
	}
	fd, err := unix.Openat(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0644)
	if err != nil {
		return fmt.Errorf("create /etc/%s in the container's root: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if err := f.Chown(int(owner), int(owner)); err != nil {
		return err
	}
	_, err = f.Write(data)
	return err
}

// etcDirInRoot opens the container's /etc as its processes will see it, owned by owner when it is
// made here. An /etc that does not resolve to a directory inside the root (missing, a dangling
// or looping symlink, a file) is replaced by an empty directory.
func etcDirInRoot(root int, owner uint32) (*os.File, error) {
	if etc, err := openInRoot(root, "etc", unix.O_RDONLY|unix.O_DIRECTORY, 0); err == nil {
		return etc, nil
	}
	// "etc" is a single component directly in root, which the server made: no link is followed
	if err := unix.Unlinkat(root, "etc", 0); err != nil && err != unix.ENOENT {
		return nil, fmt.Errorf("remove /etc in the container's root: %w", err)
	}
	if err := unix.Mkdirat(root, "etc", 0755); err != nil {
		return nil, fmt.Errorf("make /etc in the container's root: %w", err)
	}
	etc, err := openInRoot(root, "etc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	if err := etc.Chown(int(owner), int(owner)); err != nil {
		etc.Close()
		return nil, err
	}
	return etc, nil
}

// resolveInRoot resolves p, a path as the container sees it, as a process chrooted to rootfs
// would (symlinks, absolute ones and dangling ones included, and ".." never leave the root), one
// component at a time, and returns the path it leads to inside the root, free of links, and
// whether that exists (the part that does not exist has no link in it to follow). ".." is the
// parent of where the components before it led, as for the kernel and runc, not of what they
// said: /link/../x is x beside the link's target.
func resolveInRoot(rootfs, p string) (string, bool, error) {
	root, err := openRoot(rootfs)
	if err != nil {
		return "", false, err
	}
	defer root.Close()
	const maxLinks = 40 // as the kernel's ELOOP
	links := 0
	cur, comps := "/", pathComponents(p)
	for len(comps) > 0 {
		c := comps[0]
		comps = comps[1:]
		switch c {
		case ".":
			continue
		case "..":
			// cur is free of links: its parent is where the kernel's ".." goes (never above "/")
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		f, err := openInRoot(int(root.Fd()), "."+next, unix.O_PATH|unix.O_NOFOLLOW, 0)
		if errors.Is(err, unix.ENOENT) {
			// a ".." would climb back to what exists and may be a link, unresolved here; the
			// kernel finds no such path either
			if slices.Contains(comps, "..") {
				return "", false, fmt.Errorf("%s: .. below %s, which does not exist in the container's root", p, next)
			}
			return filepath.Join(append([]string{next}, comps...)...), false, nil
		}
		if err != nil {
			return "", false, err
		}
		var st unix.Stat_t
		err = unix.Fstat(int(f.Fd()), &st)
		var target string
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			target, err = readlinkFd(f)
		}
		f.Close()
		switch {
		case err != nil:
			return "", false, fmt.Errorf("%s in the container's root: %w", next, err)
		case st.Mode&unix.S_IFMT == unix.S_IFLNK:
			if links++; links > maxLinks {
				return "", false, fmt.Errorf("%s: too many levels of symbolic links in the container's root", p)
			}
			// the target's components, as it says them, go before the rest, from cur or the root
			if filepath.IsAbs(target) {
				cur = "/"
			}
			comps = append(pathComponents(target), comps...)
		case st.Mode&unix.S_IFMT != unix.S_IFDIR && len(comps) > 0:
			return "", false, fmt.Errorf("%s in the container's root is not a directory", next)
		default:
			cur = next
		}
	}
	return cur, true, nil
}

// lookExecutable: Run refuses, as upstream's garden does, a process whose executable is not in
// the container, saying so rather than starting one that reports 255. It is looked up as the
// exec helper will, in root (the container's root as its processes see it, mounts included),
// relative paths from dir.
func lookExecutable(root, path, dir string, env []string) error {
	_, err := initproc.LookPath(path, env, func(p string) (os.FileInfo, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		resolved, exists, err := resolveInRoot(root, p)
		if err != nil {
			return nil, err
		}
		if !exists {
			return nil, fs.ErrNotExist
		}
		// resolved has no link left in it: the host's lookup stays inside the root
		return os.Lstat(filepath.Join(root, resolved))
	})
	if err != nil {
		return fmt.Errorf("exec %q in the container: %w", path, err)
	}
	return nil
}

// pathComponents splits p into its components as they are written ("." and ".." included),
// without the empty ones that repeated or leading and trailing slashes make.
func pathComponents(p string) []string {
	return slices.DeleteFunc(strings.Split(p, "/"), func(c string) bool { return c == "" })
}

// readlinkFd reads the symlink f was opened on (O_PATH|O_NOFOLLOW).
func readlinkFd(f *os.File) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(int(f.Fd()), "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// resolveBindMounts makes the bind mounts of a container whose root filesystem is mounted at
// rootfs safe to hand to runc, which mounts them as host root: sources of the container's origin
// become the host paths they name inside the root (they must exist), and destinations the paths
// inside the root they lead to, so that no symlink of the image reaches a host path either way.
func resolveBindMounts(rootfs string, mounts []garden.BindMount) ([]garden.BindMount, error) {
	out := make([]garden.BindMount, 0, len(mounts))
	for _, bm := range mounts {
		if err := checkBindMountPaths(bm); err != nil {
			return nil, err
		}
		if bm.Origin == garden.BindMountOriginContainer {
			src, exists, err := resolveInRoot(rootfs, bm.SrcPath)
			if err != nil {
				return nil, fmt.Errorf("bind mount source %s: %w", bm.SrcPath, err)
			}
			if !exists {
				return nil, fmt.Errorf("bind mount source %s does not exist in the container (it leads to %s)", bm.SrcPath, src)
			}
			bm.SrcPath, bm.Origin = filepath.Join(rootfs, src), garden.BindMountOriginHost
		}
		dst, _, err := resolveInRoot(rootfs, bm.DstPath)
		if err != nil {
			return nil, fmt.Errorf("bind mount destination %s: %w", bm.DstPath, err)
		}
		bm.DstPath = dst
		out = append(out, bm)
	}
	return out, nil
}
