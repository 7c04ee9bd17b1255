package fileserver_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/diego-go/diego/fileserver"
)

var _ = Describe("Handler", func() {
	var (
		dir     string
		outside string
		h       *fileserver.Handler
		logs    *gbytes.Buffer
		mtime   = time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	)
	write := func(name, content string, at time.Time) {
		GinkgoHelper()
		p := filepath.Join(dir, name)
		Expect(os.MkdirAll(filepath.Dir(p), 0o755)).To(Succeed())
		Expect(os.WriteFile(p, []byte(content), 0o644)).To(Succeed())
		Expect(os.Chtimes(p, at, at)).To(Succeed())
	}
	BeforeEach(func() {
		base := GinkgoT().TempDir()
		dir = filepath.Join(base, "static")
		outside = filepath.Join(base, "secret")
		Expect(os.Mkdir(dir, 0o755)).To(Succeed())
		Expect(os.WriteFile(outside, []byte("not to be served"), 0o644)).To(Succeed())
		write("lifecycle.tgz", "0123456789abcdef", mtime)
		write("sub/app.zip", "app bits", mtime)
		logs = gbytes.NewBuffer()
		var err error
		h, err = fileserver.New(slog.New(slog.NewJSONHandler(logs, nil)), dir)
		Expect(err).NotTo(HaveOccurred())
	})
	// do serves one request; target is sent as is (the handler sees paths a client did not clean).
	do := func(method, target string, header ...string) *http.Response {
		GinkgoHelper()
		r := httptest.NewRequest(method, "http://files"+target, nil)
		Expect(r.URL.Path).To(Equal(target), "sent as is")
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result()
	}
	body := func(resp *http.Response) string {
		GinkgoHelper()
		b, err := io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		return string(b)
	}

	It("serves a file with a strong ETag of its size and mtime, Last-Modified and its length", func() {
		resp := do("GET", "/v1/static/lifecycle.tgz")
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(body(resp)).To(Equal("0123456789abcdef"))
		Expect(resp.Header.Get("ETag")).To(Equal(fmt.Sprintf(`"10-%x"`, mtime.UnixNano())))
		Expect(resp.Header.Get("Last-Modified")).To(Equal("Fri, 02 Jan 2026 03:04:05 GMT"))
		Expect(resp.Header.Get("Content-Length")).To(Equal("16"))
		Expect(resp.Header.Get("Accept-Ranges")).To(Equal("bytes"))
		Expect(do("GET", "/v1/static/sub/app.zip").StatusCode).To(Equal(http.StatusOK))
		Eventually(logs).Should(gbytes.Say(`"msg":"request","method":"GET","path":"/v1/static/lifecycle.tgz","status":200,"bytes":16`))
	})

	It("answers HEAD with the headers and no body", func() {
		resp := do("HEAD", "/v1/static/lifecycle.tgz")
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(resp.Header.Get("Content-Length")).To(Equal("16"))
		Expect(resp.Header.Get("ETag")).NotTo(BeEmpty())
		Expect(body(resp)).To(BeEmpty())
	})

	It("serves byte ranges", func() {
		resp := do("GET", "/v1/static/lifecycle.tgz", "Range", "bytes=2-5")
		Expect(resp.StatusCode).To(Equal(http.StatusPartialContent))
		Expect(resp.Header.Get("Content-Range")).To(Equal("bytes 2-5/16"))
		Expect(body(resp)).To(Equal("2345"))

		resp = do("GET", "/v1/static/lifecycle.tgz", "Range", "bytes=-3")
		Expect(resp.StatusCode).To(Equal(http.StatusPartialContent))
		Expect(body(resp)).To(Equal("def"))

		resp = do("GET", "/v1/static/lifecycle.tgz", "Range", "bytes=0-1,4-5")
		Expect(resp.StatusCode).To(Equal(http.StatusPartialContent))
		Expect(resp.Header.Get("Content-Type")).To(HavePrefix("multipart/byteranges"))

		Expect(do("GET", "/v1/static/lifecycle.tgz", "Range", "bytes=100-").StatusCode).To(Equal(http.StatusRequestedRangeNotSatisfiable))

		By("If-Range with a stale ETag: the whole file")
		resp = do("GET", "/v1/static/lifecycle.tgz", "Range", "bytes=2-5", "If-Range", `"0-0"`)
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(body(resp)).To(Equal("0123456789abcdef"))
	})

	It("answers 304 without a body to If-None-Match with the ETag and to If-Modified-Since at or after the mtime, and 200 once the file changed", func() {
		etag := do("GET", "/v1/static/lifecycle.tgz").Header.Get("ETag")
		resp := do("GET", "/v1/static/lifecycle.tgz", "If-None-Match", etag)
		Expect(resp.StatusCode).To(Equal(http.StatusNotModified))
		Expect(body(resp)).To(BeEmpty())
		Expect(resp.Header.Get("ETag")).To(Equal(etag))
		Expect(do("GET", "/v1/static/lifecycle.tgz", "If-None-Match", `"other", `+etag).StatusCode).To(Equal(http.StatusNotModified))
		Expect(do("GET", "/v1/static/lifecycle.tgz", "If-None-Match", `"other"`).StatusCode).To(Equal(http.StatusOK))
		Expect(do("GET", "/v1/static/lifecycle.tgz", "If-Modified-Since", "Fri, 02 Jan 2026 03:04:05 GMT").StatusCode).To(Equal(http.StatusNotModified))
		Expect(do("GET", "/v1/static/lifecycle.tgz", "If-Modified-Since", "Fri, 02 Jan 2026 03:04:04 GMT").StatusCode).To(Equal(http.StatusOK))

		By("rewritten with the same size: a new mtime, a new ETag")
		write("lifecycle.tgz", "fedcba9876543210", mtime.Add(time.Millisecond))
		resp = do("GET", "/v1/static/lifecycle.tgz", "If-None-Match", etag)
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(body(resp)).To(Equal("fedcba9876543210"))
		Expect(resp.Header.Get("ETag")).NotTo(Equal(etag))
	})

	It("answers 404 naming the path for a missing file, a directory (no listings) and the prefix itself", func() {
		for _, p := range []string{"/v1/static/missing", "/v1/static/sub", "/v1/static/sub/", "/v1/static/", "/v1/static/.", "/v1/static", "/lifecycle.tgz", "/v1/static//lifecycle.tgz"} {
			resp := do("GET", p)
			Expect(resp.StatusCode).To(Equal(http.StatusNotFound), p)
			Expect(body(resp)).To(Equal("not found: "+p+"\n"), p)
		}
	})

	It("never leaves the directory: .. elements and symbolic links pointing outside answer 404", func() {
		Expect(os.Symlink(outside, filepath.Join(dir, "abs-link"))).To(Succeed())
		Expect(os.Symlink("../secret", filepath.Join(dir, "rel-link"))).To(Succeed())
		Expect(os.Symlink("..", filepath.Join(dir, "sub", "up"))).To(Succeed())
		Expect(os.Symlink("lifecycle.tgz", filepath.Join(dir, "inside-link"))).To(Succeed())
		for _, p := range []string{"/v1/static/../secret", "/v1/static/sub/../../secret", "/v1/static/abs-link", "/v1/static/rel-link", "/v1/static/sub/up/../secret", "/v1/static/./lifecycle.tgz"} {
			resp := do("GET", p)
			Expect(resp.StatusCode).To(Equal(http.StatusNotFound), p)
			Expect(body(resp)).NotTo(ContainSubstring("not to be served"))
		}
		By("a link that stays inside is followed")
		resp := do("GET", "/v1/static/inside-link")
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(body(resp)).To(Equal("0123456789abcdef"))
	})

	It("answers 405 to other methods", func() {
		resp := do("POST", "/v1/static/lifecycle.tgz")
		Expect(resp.StatusCode).To(Equal(http.StatusMethodNotAllowed))
		Expect(resp.Header.Get("Allow")).To(Equal("GET, HEAD"))
	})

	It("serves a directory replaced under it, and says when it is gone", func() {
		Expect(h.Check()).To(Succeed())
		next := dir + ".next"
		Expect(os.Mkdir(next, 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(next, "lifecycle.tgz"), []byte("new"), 0o644)).To(Succeed())
		Expect(os.RemoveAll(dir)).To(Succeed())
		Expect(h.Check()).To(MatchError(ContainSubstring("no such file or directory")))
		Expect(do("GET", "/v1/static/lifecycle.tgz").StatusCode).To(Equal(http.StatusNotFound))
		Expect(os.Rename(next, dir)).To(Succeed())
		Expect(h.Check()).To(Succeed())
		Expect(body(do("GET", "/v1/static/lifecycle.tgz"))).To(Equal("new"))
	})

	It("refuses a directory that does not exist or is a file", func() {
		_, err := fileserver.New(slog.Default(), filepath.Join(dir, "nope"))
		Expect(err).To(MatchError(ContainSubstring("no such file or directory")))
		_, err = fileserver.New(slog.Default(), filepath.Join(dir, "lifecycle.tgz"))
		Expect(err).To(MatchError(ContainSubstring("is not a directory")))
	})
})
