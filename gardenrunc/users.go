package gardenrunc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// UserInfo is a resolved container user.
type UserInfo struct {
	UID, GID uint32
	Home     string
}

// ParsePasswd finds user (a name or a numeric uid) in an /etc/passwd stream. A numeric user
// absent from the file resolves to itself with gid = uid and home "/".
func ParsePasswd(r io.Reader, user string) (UserInfo, error) {
	if user == "" {
		user = "root"
	}
	num, numErr := strconv.ParseUint(user, 10, 32)
	if r != nil {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			f := strings.Split(sc.Text(), ":")
			if len(f) < 7 {
				continue
			}
			uid, err1 := strconv.ParseUint(f[2], 10, 32)
			gid, err2 := strconv.ParseUint(f[3], 10, 32)
			if err1 != nil || err2 != nil {
				continue
			}
			if f[0] == user || (numErr == nil && uid == num) {
				return UserInfo{UID: uint32(uid), GID: uint32(gid), Home: f[5]}, nil
			}
		}
	}
	if numErr == nil {
		return UserInfo{UID: uint32(num), GID: uint32(num), Home: "/"}, nil
	}
	if user == "root" {
		return UserInfo{Home: "/root"}, nil
	}
	return UserInfo{}, fmt.Errorf("unknown user %q", user)
}

// maxPasswd bounds how much of a container's /etc/passwd is read: the container's root controls
// the file, and the server reads it on every Run, StreamIn and StreamOut.
const maxPasswd = 4 << 20

// LookupUser resolves a user against the container's root filesystem. The container's root
// controls its /etc/passwd, so the file is opened inside the root (a symlink cannot point it at a
// host file), without blocking (a FIFO), only if it is a regular file (not a device such as
// /dev/urandom) and read up to maxPasswd.
func LookupUser(rootfs, user string) (UserInfo, error) {
	root, err := openRoot(rootfs)
	if err != nil {
		return UserInfo{}, err
	}
	defer root.Close()
	f, err := openInRoot(int(root.Fd()), "etc/passwd", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if errors.Is(err, unix.ENOENT) {
		return ParsePasswd(nil, user)
	}
	if err != nil {
		return UserInfo{}, fmt.Errorf("container's /etc/passwd: %w", err)
	}
	defer f.Close()
	data, err := readPasswd(f)
	if err != nil {
		return UserInfo{}, err
	}
	return ParsePasswd(bytes.NewReader(data), user)
}

func readPasswd(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("container's /etc/passwd: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("container's /etc/passwd is not a regular file (%s)", fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPasswd+1))
	if err != nil {
		return nil, fmt.Errorf("container's /etc/passwd: %w", err)
	}
	if len(data) > maxPasswd {
		return nil, fmt.Errorf("container's /etc/passwd is larger than %d bytes", maxPasswd)
	}
	return data, nil
}
