package gardenrunc

import (
	"os"
	"path/filepath"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("resolving a container's paths inside its root", func() {
	var root, host string

	BeforeEach(func() {
		root, host = GinkgoT().TempDir(), GinkgoT().TempDir()
		for _, d := range []string{"a/b/c", "a/b/tmp", "etc", "tmp"} {
			Expect(os.MkdirAll(filepath.Join(root, d), 0755)).To(Succeed())
		}
		Expect(os.WriteFile(filepath.Join(root, "file"), nil, 0644)).To(Succeed())
		for link, target := range map[string]string{
			"abs-host": host,         // a host directory the root does not have
			"a/up":     "../../../x", // climbs above the root
			"a/rel":    "b",
			"a/abs":    "/a/b",
			"loop":     "loop",
			"deep":     "a/b/c",
			"a/hop":    "../deep/../etc", // ".." after a link: beside its target, not lexically
		} {
			Expect(os.Symlink(target, filepath.Join(root, link))).To(Succeed())
		}
	})

	It("follows every link inside the root, dangling and looping ones too, and says what exists", func() {
		for p, want := range map[string]struct {
			path   string
			exists bool
		}{
			"/":             {"/", true},
			"/a/b":          {"/a/b", true},
			"a/rel":         {"/a/b", true},
			"/a/abs/../b":   {"/a/b", true},
			"/abs-host/new": {filepath.Join(host, "new"), false},
			"/a/up/y":       {"/x/y", false},
			"/../../etc":    {"/etc", true},
			"/etc/new/deep": {"/etc/new/deep", false},
			"/deep/../tmp":  {"/a/b/tmp", true},
			"/a/hop":        {"/a/b/etc", false},
			"/deep/../c":    {"/a/b/c", true},
			"//a/./b/.//":   {"/a/b", true},
			"/etc/new/./x":  {"/etc/new/x", false},
		} {
			got, exists, err := resolveInRoot(root, p)
			Expect(err).NotTo(HaveOccurred(), p)
			Expect(got).To(Equal(want.path), p)
			Expect(exists).To(Equal(want.exists), p)
		}
		_, _, err := resolveInRoot(root, "/loop/x")
		Expect(err).To(MatchError(ContainSubstring("too many levels of symbolic links")))
		_, _, err = resolveInRoot(root, "/file/x")
		Expect(err).To(MatchError(ContainSubstring("/file in the container's root is not a directory")))
		_, _, err = resolveInRoot(root, "/file/..")
		Expect(err).To(MatchError(ContainSubstring("/file in the container's root is not a directory")))
		_, _, err = resolveInRoot(root, "/etc/new/../../deep")
		Expect(err).To(MatchError("/etc/new/../../deep: .. below /etc/new, which does not exist in the container's root"))
	})

	It("turns bind mounts into host sources inside the root and link-free destinations", func() {
		mounts, err := resolveBindMounts(root, []garden.BindMount{
			{SrcPath: "/a/rel", DstPath: "/abs-host/mnt", Origin: garden.BindMountOriginContainer},
			{SrcPath: "/srv/data", DstPath: "/a/up/data"},
			{SrcPath: "/deep/../tmp", DstPath: "/deep/../tmp", Origin: garden.BindMountOriginContainer},
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(mounts).To(Equal([]garden.BindMount{
			{SrcPath: filepath.Join(root, "a/b"), DstPath: filepath.Join(host, "mnt"), Origin: garden.BindMountOriginHost},
			{SrcPath: "/srv/data", DstPath: "/x/data"},
			{SrcPath: filepath.Join(root, "a/b/tmp"), DstPath: "/a/b/tmp", Origin: garden.BindMountOriginHost},
		}))
		_, err = resolveBindMounts(root, []garden.BindMount{{SrcPath: "/abs-host", DstPath: "/mnt", Origin: garden.BindMountOriginContainer}})
		Expect(err).To(MatchError("bind mount source /abs-host does not exist in the container (it leads to " + host + ")"))
	})
})
