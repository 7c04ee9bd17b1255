package gardenrunc_test

import (
	"archive/tar"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"code.cloudfoundry.org/garden"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// An in-process registry (go-containerregistry's pkg/registry) that counts blob downloads.
var (
	registryServer *httptest.Server
	registryHost   string
	blobGetsMu     sync.Mutex
	blobGets       = map[string]int{}
)

func startRegistry() {
	reg := registry.New()
	registryServer = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			blobGetsMu.Lock()
			blobGets[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]++
			blobGetsMu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	registryHost = strings.TrimPrefix(registryServer.URL, "http://")
}

func blobGetCount(digests []string) int {
	blobGetsMu.Lock()
	defer blobGetsMu.Unlock()
	n := 0
	for _, d := range digests {
		n += blobGets[d]
	}
	return n
}

// layerFromDir tars a directory into a layer; extra entries are appended (e.g. whiteouts).
func layerFromDir(dir string, extra map[string]string) v1.Layer {
	buf := new(bytes.Buffer)
	tw := tar.NewWriter(buf)
	if dir != "" {
		filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			Expect(err).NotTo(HaveOccurred())
			rel, _ := filepath.Rel(dir, p)
			if rel == "." {
				return nil
			}
			link := ""
			if info.Mode()&os.ModeSymlink != 0 {
				link, _ = os.Readlink(p)
			}
			h, err := tar.FileInfoHeader(info, link)
			Expect(err).NotTo(HaveOccurred())
			h.Name = rel
			Expect(tw.WriteHeader(h)).To(Succeed())
			if info.Mode().IsRegular() {
				f, _ := os.Open(p)
				io.Copy(tw, f)
				f.Close()
			}
			return nil
		})
	}
	for n, content := range extra {
		Expect(tw.WriteHeader(&tar.Header{Name: n, Mode: 0644, Size: int64(len(content)), Typeflag: tar.TypeReg})).To(Succeed())
		tw.Write([]byte(content))
	}
	Expect(tw.Close()).To(Succeed())
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	Expect(err).NotTo(HaveOccurred())
	return l
}

var _ = Describe("images from a registry", func() {
	BeforeEach(requireIntegration)

	It("pulls an image, applies its config and whiteouts, and pulls no layer again for a second container", func() {
		base := layerFromDir(rootfsDir, map[string]string{"etc/remove-me": "gone", "etc/from-base": "base"})
		top := layerFromDir("", map[string]string{"etc/.wh.remove-me": "", "etc/from-top": "top"})
		img, err := mutate.AppendLayers(empty.Image, base, top)
		Expect(err).NotTo(HaveOccurred())
		img, err = mutate.Config(img, v1.Config{Env: []string{"IMAGE_ENV=from-image", "PATH=/bin"}, WorkingDir: "/etc", User: "vcap"})
		Expect(err).NotTo(HaveOccurred())
		ref, err := name.ParseReference(registryHost+"/diego/busybox:v1", name.Insecure)
		Expect(err).NotTo(HaveOccurred())
		Expect(remote.Write(ref, img)).To(Succeed())
		var digests []string
		for _, l := range []v1.Layer{base, top} {
			d, err := l.Digest()
			Expect(err).NotTo(HaveOccurred())
			digests = append(digests, d.String())
		}

		uri := "docker://" + registryHost + "/diego/busybox#v1"
		c1 := createContainer(garden.ContainerSpec{Image: garden.ImageRef{URI: uri, Username: "user", Password: "s3cret-never-stored"}})
		Expect(blobGetCount(digests)).To(Equal(2))
		r := sh(c1, "echo $IMAGE_ENV $(pwd) $(id -u); cat from-base from-top; ls remove-me 2>&1")
		Expect(r.stdout).To(HavePrefix("from-image /etc 2000\nbasetop"))
		Expect(r.stdout).To(ContainSubstring("No such file"))

		c2 := createContainer(garden.ContainerSpec{Image: garden.ImageRef{URI: uri}})
		Expect(sh(c2, "cat /etc/from-top").stdout).To(Equal("top"))
		Expect(blobGetCount(digests)).To(Equal(2), "the second container downloaded layers again")

		state, err := os.ReadFile(filepath.Join(srv.depot, c1.Handle(), "state.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(state)).NotTo(ContainSubstring("s3cret"))
		Expect(string(srv.session.Err.Contents())).NotTo(ContainSubstring("s3cret"))
	})

	It("refuses plain HTTP to a registry not configured as insecure, even on loopback", func() {
		img, err := mutate.AppendLayers(empty.Image, layerFromDir("", map[string]string{"f": "x"}))
		Expect(err).NotTo(HaveOccurred())
		ref, err := name.ParseReference(registryHost+"/diego/plain:v1", name.Insecure)
		Expect(err).NotTo(HaveOccurred())
		Expect(remote.Write(ref, img)).To(Succeed())
		// the same registry under a name that is not in insecure_registries
		port := registryHost[strings.LastIndex(registryHost, ":")+1:]
		_, err = srv.client.Create(garden.ContainerSpec{Image: garden.ImageRef{URI: "docker://localhost:" + port + "/diego/plain#v1"}})
		Expect(err).To(MatchError(ContainSubstring("not configured as insecure")))
	})
})
