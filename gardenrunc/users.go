package gardenrunc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// LookupUser resolves a user against the container's root filesystem.
func LookupUser(rootfs, user string) (UserInfo, error) {
	f, err := os.Open(filepath.Join(rootfs, "etc", "passwd"))
	if err != nil {
		return ParsePasswd(nil, user)
	}
	defer f.Close()
	return ParsePasswd(f, user)
}
