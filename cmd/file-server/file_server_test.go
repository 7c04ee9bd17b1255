package main_test

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/executor/cache"
	"github.com/diego-go/diego/internal/daemontest"
)

// fileServer is a cmd/file-server process serving dir (stopped when the spec ends).
type fileServer struct {
	session *gexec.Session
	addr    string
	health  string
	dir     string
}

func startFileServer() *fileServer {
	GinkgoHelper()
	base := GinkgoT().TempDir()
	f := &fileServer{addr: daemontest.FreeAddr(), health: daemontest.FreeAddr(), dir: filepath.Join(base, "static")}
	Expect(os.Mkdir(f.dir, 0o755)).To(Succeed())
	Expect(os.WriteFile(filepath.Join(base, "secret"), []byte("not to be served"), 0o644)).To(Succeed())
	f.session = daemontest.Start(fileServerPath, "-config", daemontest.WriteConfig(map[string]any{
		"listen_address":   f.addr,
		"health_address":   f.health,
		"static_directory": f.dir,
		"log_level":        "info",
	}))
	Eventually(func() bool { return daemontest.Listening(f.addr) }, 10*time.Second, 20*time.Millisecond).Should(BeTrue())
	return f
}

// put writes a file into the served directory with the given mtime.
func (f *fileServer) put(name, content string, mtime time.Time) {
	GinkgoHelper()
	p := filepath.Join(f.dir, name)
	Expect(os.WriteFile(p, []byte(content), 0o644)).To(Succeed())
	Expect(os.Chtimes(p, mtime, mtime)).To(Succeed())
}

// raw sends one request line as is (no client cleans its path) and returns the status code.
func (f *fileServer) raw(method, target string) int {
	GinkgoHelper()
	c, err := net.Dial("tcp", f.addr)
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	_, err = io.WriteString(c, method+" "+target+" HTTP/1.1\r\nHost: files\r\nConnection: close\r\n\r\n")
	Expect(err).NotTo(HaveOccurred())
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	Expect(string(b)).NotTo(ContainSubstring("not to be served"))
	return resp.StatusCode
}

// untar is the single file in a tar stream, by name.
func untar(r io.ReadCloser) map[string]string {
	GinkgoHelper()
	defer r.Close()
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		Expect(err).NotTo(HaveOccurred())
		b, err := io.ReadAll(tr)
		Expect(err).NotTo(HaveOccurred())
		out[h.Name] = string(b)
	}
}

var _ = Describe("the file server", func() {
	ctx := context.Background()
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	It("refuses a bad config with every problem named (exit 2)", func() {
		s := daemontest.Start(fileServerPath, "-config", daemontest.WriteConfig(map[string]any{
			"health_address": "0.0.0.0:1", "static_directory": "/does/not/exist",
		}))
		Eventually(s, 10*time.Second).Should(gexec.Exit(2))
		Expect(string(s.Err.Contents())).To(And(ContainSubstring("file-server: config"),
			ContainSubstring(`health_address "0.0.0.0:1" must be a loopback address`),
			ContainSubstring("static_directory: stat /does/not/exist: no such file or directory")))
	})

	It("lets the executor's download cache revalidate: downloaded once, then 304 and the cached copy, then downloaded again once changed", func() {
		f := startFileServer()
		f.put("lifecycle.txt", "version 1", mtime)
		c := cache.NewCache(GinkgoT().TempDir(), 1<<20, nil)
		url := "http://" + f.addr + "/v1/static/lifecycle.txt"
		fetch := func() map[string]string {
			GinkgoHelper()
			r, err := c.Fetch(ctx, url, "lifecycle", cache.Checksum{})
			Expect(err).NotTo(HaveOccurred())
			return untar(r)
		}

		By("the first fetch downloads")
		Expect(fetch()).To(Equal(map[string]string{"lifecycle.txt": "version 1"}))
		Eventually(f.session.Err).Should(gbytes.Say(`"path":"/v1/static/lifecycle.txt","status":200,"bytes":9`))

		By("the second fetch revalidates: 304, no body, the cached copy")
		Expect(fetch()).To(Equal(map[string]string{"lifecycle.txt": "version 1"}))
		Eventually(f.session.Err).Should(gbytes.Say(`"path":"/v1/static/lifecycle.txt","status":304,"bytes":0`))
		Expect(c.Size()).To(BeNumerically(">", 0))

		By("a changed file is downloaded again, even of the same size and within the same second (Last-Modified alike: the ETag tells)")
		f.put("lifecycle.txt", "version 2", mtime.Add(time.Millisecond))
		Expect(fetch()).To(Equal(map[string]string{"lifecycle.txt": "version 2"}))
		Eventually(f.session.Err).Should(gbytes.Say(`"path":"/v1/static/lifecycle.txt","status":200,"bytes":9`))
		Expect(fetch()).To(Equal(map[string]string{"lifecycle.txt": "version 2"}))
		Eventually(f.session.Err).Should(gbytes.Say(`"path":"/v1/static/lifecycle.txt","status":304,"bytes":0`))
	})

	It("serves ranges, HEAD, ETag and Last-Modified; never leaves the directory; answers its health check", func() {
		f := startFileServer()
		f.put("bits.zip", "0123456789", mtime)
		Expect(os.Symlink("../secret", filepath.Join(f.dir, "escape"))).To(Succeed())

		req, err := http.NewRequest("GET", "http://"+f.addr+"/v1/static/bits.zip", nil)
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Range", "bytes=3-5")
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusPartialContent))
		Expect(string(b)).To(Equal("345"))
		Expect(resp.Header.Get("ETag")).To(MatchRegexp(`^"a-[0-9a-f]+"$`))
		Expect(resp.Header.Get("Last-Modified")).To(Equal("Fri, 02 Jan 2026 03:04:05 GMT"))

		resp, err = http.Head("http://" + f.addr + "/v1/static/bits.zip")
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(resp.ContentLength).To(Equal(int64(10)))

		for _, target := range []string{"/v1/static/../secret", "/v1/static/%2e%2e/secret", "/v1/static/escape", "/v1/static/", "/v1/static/missing"} {
			Expect(f.raw("GET", target)).To(Equal(http.StatusNotFound), target)
		}

		for _, path := range []string{"/ping", "/healthz"} {
			resp, err := http.Get("http://" + f.health + path)
			Expect(err).NotTo(HaveOccurred())
			var h map[string]any
			Expect(json.NewDecoder(resp.Body).Decode(&h)).To(Succeed())
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusOK))
			Expect(h).To(Equal(map[string]any{"healthy": true}))
		}
		By("health fails once the directory is gone")
		Expect(os.RemoveAll(f.dir)).To(Succeed())
		resp, err = http.Get("http://" + f.health + "/ping")
		Expect(err).NotTo(HaveOccurred())
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusServiceUnavailable))
		Expect(string(b)).To(ContainSubstring("static_directory: stat"))

		By("SIGINT: exits 0")
		f.session.Interrupt()
		Eventually(f.session, 5*time.Second).Should(gexec.Exit(0))
	})
})
