package busyboxfs_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/internal/busyboxfs"
)

var _ = Describe("Make", func() {
	It("gives every user's primary group a line in /etc/group", func() {
		dir := GinkgoT().TempDir()
		Expect(busyboxfs.Make(dir)).To(Succeed())
		read := func(name string) []string {
			b, err := os.ReadFile(filepath.Join(dir, "etc", name))
			Expect(err).NotTo(HaveOccurred())
			return strings.Split(strings.TrimSpace(string(b)), "\n")
		}
		groups := map[string]string{}
		for _, line := range read("group") {
			f := strings.Split(line, ":")
			Expect(f).To(HaveLen(4), "/etc/group line %q", line)
			groups[f[2]] = f[0]
		}
		users := map[string]string{}
		for _, line := range read("passwd") {
			f := strings.Split(line, ":")
			Expect(f).To(HaveLen(7), "/etc/passwd line %q", line)
			users[f[0]] = f[3]
			Expect(groups).To(HaveKey(f[3]), "user %s's group %s", f[0], f[3])
		}
		Expect(users).To(HaveKey("nobody"))
		Expect(groups).To(HaveKeyWithValue("65534", "nogroup"))
	})
})
