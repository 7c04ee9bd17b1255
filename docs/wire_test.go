package docs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/bbs/handlers"
)

// markdown is README.md and every docs/*.md, by path relative to the repository's root.
func markdown() map[string]string {
	GinkgoHelper()
	docs, err := filepath.Glob("*.md")
	Expect(err).NotTo(HaveOccurred())
	paths := []string{"README.md"}
	for _, d := range docs {
		paths = append(paths, "docs/"+d)
	}
	files := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(filepath.Join("..", p))
		Expect(err).NotTo(HaveOccurred())
		files[p] = string(b)
	}
	return files
}

var link = regexp.MustCompile(`\]\(([^)]*)\)`)

var _ = Describe("README.md and docs/", func() {
	It("link only to files of the repository that exist", func() {
		root, err := filepath.Abs("..")
		Expect(err).NotTo(HaveOccurred())
		for path, text := range markdown() {
			for _, m := range link.FindAllStringSubmatch(text, -1) {
				target := strings.SplitN(m[1], "#", 2)[0]
				Expect(target).NotTo(MatchRegexp(`^[a-z]+:`), "%s links outside the repository: %s", path, m[1])
				if target == "" {
					continue
				}
				abs := filepath.Join(root, filepath.Dir(path), target)
				Expect(abs).To(HavePrefix(root+string(filepath.Separator)), "%s links outside the repository: %s", path, m[1])
				_, err := os.Stat(abs)
				Expect(err).NotTo(HaveOccurred(), "%s links to a missing file: %s", path, m[1])
			}
		}
	})
})

// wire.md's BBS route table: rows whose first cell is a `/v1/...` path.
var routeRow = regexp.MustCompile("(?m)^\\| `(/v1/[^`]+)` \\|")

var _ = Describe("docs/wire.md", func() {
	It("lists every protobuf route the BBS serves, and no other, in its route table", func() {
		wire, err := os.ReadFile("wire.md")
		Expect(err).NotTo(HaveOccurred())
		var listed []string
		for _, m := range routeRow.FindAllStringSubmatch(string(wire), -1) {
			listed = append(listed, m[1])
		}
		Expect(listed).To(ConsistOf(handlers.New(handlers.Config{}).Routes()))
	})

	It("describes the event streams", func() {
		wire, err := os.ReadFile("wire.md")
		Expect(err).NotTo(HaveOccurred())
		for _, r := range []string{bbs.LRPInstanceEventsRoute, bbs.TaskEventsRoute, bbs.LRPGroupEventsRoute,
			bbs.LRPGroupEventsRouteR0, bbs.LRPInstanceEventsRouteR0, bbs.TaskEventsRouteR0} {
			Expect(string(wire)).To(ContainSubstring("`"+r+"`"), "wire.md does not describe %s", r)
		}
	})
})
