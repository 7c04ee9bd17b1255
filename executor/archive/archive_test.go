package archive_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"sort"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/executor/archive"
)

// entry is one tar entry to write: a file (content), dir (Dir), symlink or hard link.
type entry struct {
	Name, Content, Symlink, Hardlink string
	Dir                              bool
	Mode                             int64
}

func tarOf(entries ...entry) []byte {
	buf := new(bytes.Buffer)
	tw := tar.NewWriter(buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: e.Mode, Typeflag: tar.TypeReg, Size: int64(len(e.Content))}
		if h.Mode == 0 {
			h.Mode = 0644
		}
		switch {
		case e.Dir:
			h.Typeflag, h.Size = tar.TypeDir, 0
		case e.Symlink != "":
			h.Typeflag, h.Size, h.Linkname = tar.TypeSymlink, 0, e.Symlink
		case e.Hardlink != "":
			h.Typeflag, h.Size, h.Linkname = tar.TypeLink, 0, e.Hardlink
		}
		Expect(tw.WriteHeader(h)).To(Succeed())
		tw.Write([]byte(e.Content))
	}
	Expect(tw.Close()).To(Succeed())
	return buf.Bytes()
}

func gzipOf(b []byte) []byte {
	buf := new(bytes.Buffer)
	gw := gzip.NewWriter(buf)
	gw.Write(b)
	gw.Close()
	return buf.Bytes()
}

func zipOf(entries ...entry) []byte {
	buf := new(bytes.Buffer)
	zw := zip.NewWriter(buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.Name, Method: zip.Deflate}
		switch {
		case e.Dir:
			h.SetMode(os.ModeDir | 0755)
		case e.Symlink != "":
			h.SetMode(os.ModeSymlink | 0777)
			e.Content = e.Symlink
		default:
			h.SetMode(0755)
		}
		w, err := zw.CreateHeader(h)
		Expect(err).NotTo(HaveOccurred())
		w.Write([]byte(e.Content))
	}
	Expect(zw.Close()).To(Succeed())
	return buf.Bytes()
}

func fileWith(content []byte) string {
	p := filepath.Join(GinkgoT().TempDir(), "download")
	Expect(os.WriteFile(p, content, 0600)).To(Succeed())
	return p
}

// listing is "name type [content|target]" of every entry of a tar stream.
func listing(b []byte) []string {
	GinkgoHelper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		Expect(err).NotTo(HaveOccurred())
		content, _ := io.ReadAll(tr)
		switch h.Typeflag {
		case tar.TypeDir:
			out = append(out, h.Name+" dir")
		case tar.TypeSymlink:
			out = append(out, h.Name+" -> "+h.Linkname)
		default:
			out = append(out, h.Name+" "+string(content))
		}
	}
}

func toTar(content []byte, name string) ([]byte, error) {
	buf := new(bytes.Buffer)
	err := archive.ToTar(fileWith(content), name, buf)
	return buf.Bytes(), err
}

var _ = Describe("ToTar", func() {
	files := []entry{{Name: "app/", Dir: true}, {Name: "app/run.sh", Content: "echo hi"}, {Name: "app/link", Symlink: "run.sh"}}

	It("passes a tar's entries through, gunzips a tgz, repacks a zip and wraps any other file", func() {
		for _, archived := range [][]byte{tarOf(files...), gzipOf(tarOf(files...)), zipOf(files...)} {
			b, err := toTar(archived, "ignored")
			Expect(err).NotTo(HaveOccurred())
			Expect(listing(b)).To(Equal([]string{"app/ dir", "app/run.sh echo hi", "app/link -> run.sh"}))
		}
		b, err := toTar([]byte("#!/bin/sh\n"), "tool.sh")
		Expect(err).NotTo(HaveOccurred())
		Expect(listing(b)).To(Equal([]string{"tool.sh #!/bin/sh\n"}))
		b, err = toTar(nil, "empty")
		Expect(err).NotTo(HaveOccurred())
		Expect(listing(b)).To(Equal([]string{"empty "}))
	})

	It("keeps a zip's modes", func() {
		b, err := toTar(zipOf(entry{Name: "bin/tool", Content: "x"}), "")
		Expect(err).NotTo(HaveOccurred())
		h, err := tar.NewReader(bytes.NewReader(b)).Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(h.Mode).To(BeEquivalentTo(0755))
	})

	It("refuses archives with entries outside the directory they unpack into, and broken ones", func() {
		for _, name := range []string{"../escape", "/etc/passwd", "a/../../escape"} {
			_, err := toTar(gzipOf(tarOf(entry{Name: name, Content: "x"})), "")
			Expect(err).To(MatchError(ContainSubstring(`archive entry "` + name + `" is outside the directory it unpacks into`)))
			_, err = toTar(zipOf(entry{Name: name, Content: "x"}), "")
			Expect(err).To(MatchError(ContainSubstring(`archive entry "` + name + `" is outside`)))
		}
		_, err := toTar(gzipOf([]byte("not a tar at all, but long enough to be read as a header? no")), "")
		Expect(err).To(MatchError(ContainSubstring("not a gzipped tar")))
		_, err = toTar(gzipOf(tarOf(files...))[:40], "")
		Expect(err).To(MatchError(ContainSubstring("not a gzipped tar")))
	})
})

var _ = Describe("Unpack", func() {
	var dir string
	BeforeEach(func() { dir = GinkgoT().TempDir() })

	unpack := func(b []byte) error { return archive.Unpack(bytes.NewReader(b), dir) }
	tree := func() []string {
		var out []string
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			rel, _ := filepath.Rel(dir, p)
			if rel != "." {
				out = append(out, rel+" "+fi.Mode().String())
			}
			return nil
		})
		sort.Strings(out)
		return out
	}

	It("writes files, directories and links inside the directory with their permission bits, never setuid", func() {
		Expect(unpack(tarOf(
			entry{Name: "./bin/", Dir: true, Mode: 0750},
			entry{Name: "bin/tool", Content: "#!", Mode: 04755},
			entry{Name: "lib/deep/data", Content: "d", Mode: 0600},
			entry{Name: "bin/same", Hardlink: "bin/tool"},
			entry{Name: "lib/deep/up", Symlink: "../../bin/tool"},
			entry{Name: "ro/", Dir: true, Mode: 0555},
			entry{Name: "ro/inside", Content: "written before the directory is made read-only"},
		))).To(Succeed())
		Expect(tree()).To(Equal([]string{"bin drwxr-x---", "bin/same -rwxr-xr-x", "bin/tool -rwxr-xr-x",
			"lib drwxr-xr-x", "lib/deep drwxr-xr-x", "lib/deep/data -rw-------", "lib/deep/up Lrwxrwxrwx",
			"ro dr-xr-xr-x", "ro/inside -rw-r--r--"}))
		b, err := os.ReadFile(filepath.Join(dir, "lib/deep/up"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(Equal("#!"))
	})

	DescribeTable("refuses an entry that would land outside the directory",
		func(complaint string, entries ...entry) {
			outside := filepath.Join(filepath.Dir(dir), "outside")
			Expect(unpack(tarOf(entries...))).To(MatchError(ContainSubstring(complaint)))
			Expect(outside).NotTo(BeAnExistingFile())
		},
		Entry("a name with ..", `archive entry "../outside" is outside`, entry{Name: "../outside", Content: "x"}),
		Entry("an absolute link", `archive entry "l" links to "/etc"`, entry{Name: "l", Symlink: "/etc"}),
		Entry("a link climbing out", `links to "../outside"`, entry{Name: "l", Symlink: "../outside"}),
		Entry("a link climbing out from deeper", `links to "../../outside"`, entry{Name: "a/l", Symlink: "../../outside"}),
		Entry("a link whose .. follows a name (through another link)", `links to "self/../outside"`,
			entry{Name: "self", Symlink: "."}, entry{Name: "l", Symlink: "self/../outside"}),
		Entry("a file written through a link", `archive entry "l/outside": its path goes through the symbolic link l`,
			entry{Name: "l", Symlink: "."}, entry{Name: "l/outside", Content: "x"}),
		Entry("a hard link to a file outside", `archive entry "h": hard link: archive entry "../outside" is outside`,
			entry{Name: "h", Hardlink: "../outside"}),
		Entry("a hard link through a symbolic link", `archive entry "h" is a hard link to "l/x"`,
			entry{Name: "x", Content: "x"}, entry{Name: "l", Symlink: "."}, entry{Name: "h", Hardlink: "l/x"}),
	)

	It("replaces a link by a later entry of the same name instead of writing through it", func() {
		target := filepath.Join(GinkgoT().TempDir(), "target")
		Expect(os.WriteFile(target, []byte("untouched"), 0644)).To(Succeed())
		Expect(os.Symlink(target, filepath.Join(dir, "f"))).To(Succeed())
		Expect(unpack(tarOf(entry{Name: "f", Content: "new"}))).To(Succeed())
		Expect(os.ReadFile(target)).To(Equal([]byte("untouched")))
		Expect(os.ReadFile(filepath.Join(dir, "f"))).To(Equal([]byte("new")))
	})
})

var _ = Describe("Detect", func() {
	It("tells tar, gzip, zip and other files apart by their content", func() {
		for content, kind := range map[string]archive.Kind{
			string(tarOf(entry{Name: "a", Content: "b"})): archive.Tar,
			string(gzipOf([]byte("x"))):                   archive.Gzip,
			string(zipOf(entry{Name: "a", Content: "b"})): archive.Zip,
			"plain text": archive.Other,
			"":           archive.Other,
		} {
			f, err := os.Open(fileWith([]byte(content)))
			Expect(err).NotTo(HaveOccurred())
			Expect(archive.Detect(f)).To(Equal(kind))
			rest, _ := io.ReadAll(f)
			Expect(string(rest)).To(Equal(content), "read from the start again")
			f.Close()
		}
	})
})
