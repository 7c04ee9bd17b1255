package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"github.com/diego-go/diego/cmd/garden/config"
	"github.com/diego-go/diego/gardenrunc"
	"github.com/diego-go/diego/tlsconfig"
)

// Whoever reaches garden's API has root on the host (privileged containers, bind mounts of any
// host path), so the listener is built here rather than by garden's server package, which makes
// its unix socket mode 0777.

// socketDirMode is the mode of a socket directory the server makes: root and socket_group.
const socketDirMode = 0750

// prepareListener checks everything about the listener that can be checked before the backend
// starts (the socket's directory, the TLS files), so a bad setting is refused at once, and
// returns what opens it once the backend is ready.
func prepareListener(cfg config.Config) (func() (net.Listener, error), error) {
	if cfg.ListenNetwork == "tcp" {
		var tc *tls.Config
		if cfg.TLS() {
			var err error
			if tc, err = tlsconfig.Server(cfg.CertFile, cfg.KeyFile, cfg.CAFile); err != nil {
				return nil, err
			}
		}
		return func() (net.Listener, error) {
			l, err := net.Listen("tcp", cfg.ListenAddress)
			if err != nil || tc == nil {
				return l, err
			}
			return tls.NewListener(l, tc), nil
		}, nil
	}
	gid, err := cfg.SocketGID()
	if err != nil {
		return nil, err
	}
	if err := socketDir(filepath.Dir(cfg.ListenAddress), gid); err != nil {
		return nil, err
	}
	return func() (net.Listener, error) { return listenUnix(cfg.ListenAddress, gid) }, nil
}

// socketDir makes the socket's directory (root:gid, 0750) or, when it exists, refuses one that
// others could use to swap the socket: not owned by root, world-writable, or writable by a group
// other than root's and gid's.
func socketDir(dir string, gid int) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0755); err != nil {
			return fmt.Errorf("socket directory %s: %w", dir, err)
		}
		if err := os.Mkdir(dir, socketDirMode); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("socket directory %s: %w", dir, err)
		}
		if err := os.Chown(dir, 0, gid); err != nil {
			return fmt.Errorf("socket directory %s: %w", dir, err)
		}
		// Mkdir's mode went through the umask
		if err := os.Chmod(dir, socketDirMode); err != nil {
			return fmt.Errorf("socket directory %s: %w", dir, err)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("socket directory %s: %w", dir, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("socket directory %s is not a directory", dir)
	case st.Uid != 0:
		return fmt.Errorf("socket directory %s is owned by uid %d, not root: refusing to put the socket there", dir, st.Uid)
	case fi.Mode().Perm()&0o002 != 0:
		return fmt.Errorf("socket directory %s is world-writable (mode %#o): refusing to put the socket there", dir, fi.Mode().Perm())
	case fi.Mode().Perm()&0o020 != 0 && st.Gid != 0 && int(st.Gid) != gid:
		return fmt.Errorf("socket directory %s is writable by group %d, neither root's nor socket_group's (mode %#o): refusing to put the socket there", dir, st.Gid, fi.Mode().Perm())
	}
	return nil
}

// listenUnix binds the socket (replacing a stale one, nothing else) and only then gives it to
// gid, mode 0660: until then only root may connect.
func listenUnix(path string, gid int) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("listen_address %s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove the stale socket %s: %w", path, err)
		}
	}
	f, err := gardenrunc.ListenUnixPrivate(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := os.Chown(path, 0, gid); err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0660); err != nil {
		return nil, err
	}
	return net.FileListener(f)
}
