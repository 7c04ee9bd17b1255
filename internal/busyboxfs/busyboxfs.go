// Package busyboxfs builds the root filesystem garden servers preload where no stack image is at
// hand: busybox-static's applets and the users a cell runs processes as. gardentest's servers and
// deploy/local's cells use it.
package busyboxfs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Make builds a minimal root filesystem from busybox-static in dir: every applet,
// /etc/passwd and /etc/group with root, vcap (2000) and nobody (group nogroup, 65534), a /tmp
// everyone may write.
func Make(dir string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox-static is not installed: %w", err)
	}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home/vcap", "var/www"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 01777); err != nil {
		return err
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0755); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return err
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet != "busybox" {
			if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil {
				return err
			}
		}
	}
	for name, content := range map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nvcap:x:2000:2000::/home/vcap:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nvcap:x:2000:\nnogroup:x:65534:\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0644); err != nil {
			return err
		}
	}
	return os.Chown(filepath.Join(dir, "home", "vcap"), 2000, 2000)
}
