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
