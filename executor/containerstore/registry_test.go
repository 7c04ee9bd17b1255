package containerstore_test

import (
	"archive/tar"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"code.cloudfoundry.org/garden"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const registryUser, registryPassword = "puller", "s3cret-image-password"

// startRegistry serves an in-process registry that answers only requests with the basic
// credentials above, as a private registry does; it returns its host:port.
func startRegistry() string {
	reg := registry.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != registryUser || p != registryPassword {
			w.Header().Set("WWW-Authenticate", `Basic realm="private"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	DeferCleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// pushImage pushes an image of one layer holding one file.
func pushImage(ref, path, content string) {
	GinkgoHelper()
	buf := new(bytes.Buffer)
	tw := tar.NewWriter(buf)
	Expect(tw.WriteHeader(&tar.Header{Name: path, Mode: 0644, Size: int64(len(content)), Typeflag: tar.TypeReg})).To(Succeed())
	_, err := tw.Write([]byte(content))
	Expect(err).NotTo(HaveOccurred())
	Expect(tw.Close()).To(Succeed())
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	Expect(err).NotTo(HaveOccurred())
	img, err := mutate.AppendLayers(empty.Image, layer)
	Expect(err).NotTo(HaveOccurred())
	r, err := name.ParseReference(ref, name.Insecure)
	Expect(err).NotTo(HaveOccurred())
	Expect(remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: registryUser, Password: registryPassword}))).To(Succeed())
}

// fileIn is a file's content in the container, read through garden.
func fileIn(gc garden.Container, path string) string {
	GinkgoHelper()
	rc, err := gc.StreamOut(garden.StreamOutSpec{Path: path, User: "root"})
	Expect(err).NotTo(HaveOccurred())
	defer rc.Close()
	tr := tar.NewReader(rc)
	_, err = tr.Next()
	Expect(err).NotTo(HaveOccurred())
	b, err := io.ReadAll(tr)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}
