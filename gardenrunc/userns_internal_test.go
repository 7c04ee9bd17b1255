package gardenrunc

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("user namespaces where the kernel refuses them", func() {
	It("says so in one log line at start and leaves unprivileged containers without one", func() {
		dir := GinkgoT().TempDir()
		sysctl := filepath.Join(dir, "max_user_namespaces")
		Expect(os.WriteFile(sysctl, []byte("0\n"), 0644)).To(Succeed())
		var logs bytes.Buffer
		b := &Backend{cfg: Config{UserNSHostID: DefaultUserNSHostID, DepotDir: filepath.Join(dir, "depot")},
			log: slog.New(slog.NewJSONHandler(&logs, nil)), idmap: newIDMapper(filepath.Join(dir, "idmapped"), DefaultUserNSHostID)}
		b.idmap.sysctl = sysctl

		Expect(b.startUserNamespaces()).To(Succeed())
		Expect(b.idmap.enabled()).To(BeFalse())
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		Expect(lines).To(HaveLen(1))
		Expect(lines[0]).To(ContainSubstring(`"msg":"unprivileged-containers-run-without-user-namespace"`))
		Expect(lines[0]).To(ContainSubstring(`max_user_namespaces is \"0\"`))
	})
})

var _ = Describe("host checks for user namespaces", func() {
	It("refuses a host range that holds an id of a host user or group", func() {
		passwd := filepath.Join(GinkgoT().TempDir(), "passwd")
		Expect(os.WriteFile(passwd, []byte("root:x:0:0::/root:/bin/sh\nodd:x:1879050000:1879050000::/:/bin/sh\n"), 0644)).To(Succeed())
		Expect(checkIDFile(passwd, DefaultUserNSHostID)).To(MatchError(ContainSubstring(
			`userns_host_id: host ids 1879048192-1879113727 include "odd" (id 1879050000)`)))
		Expect(checkIDFile(passwd, DefaultUserNSHostID+65536)).To(Succeed())
		Expect(checkIDFile(passwd, 1879050000-65535)).To(HaveOccurred())
		Expect(checkIDFile(passwd, 1879050000-65536)).To(Succeed())
	})

	It("makes the depot searchable and refuses a parent that is not, naming it", func() {
		parent := GinkgoT().TempDir()
		Expect(os.Chmod(parent, 0700)).To(Succeed())
		depot := filepath.Join(parent, "made", "depot")
		Expect(depotReachable(depot)).To(MatchError(ContainSubstring("its parent " + parent + " is not searchable by others (mode 0700)")))
		Expect(os.Chmod(parent, 0711)).To(Succeed())
		Expect(depotReachable(depot)).To(Succeed())
		for _, d := range []string{filepath.Dir(depot), depot} {
			fi, err := os.Stat(d)
			Expect(err).NotTo(HaveOccurred())
			Expect(fi.Mode().Perm()).To(Equal(os.FileMode(0711)), d)
		}
	})
})
