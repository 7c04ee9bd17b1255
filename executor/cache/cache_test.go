package cache_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/executor/cache"
)

// server serves artifacts by path, with an ETag (or only a Last-Modified) per version, and
// records the requests it got.
type server struct {
	*httptest.Server
	mu        sync.Mutex
	files     map[string][]byte
	noETag    map[string]bool
	failFirst map[string]int // answer 500 this many times first
	requests  []string       // "path status"
	// slowRequests counts requests of /slow, which answers nothing for 10 s
	slowRequests atomic.Int32
}

func newServer() *server {
	s := &server{files: map[string][]byte{}, noETag: map[string]bool{}, failFirst: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	DeferCleanup(s.Close)
	return s
}

var modTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	content, ok := s.files[r.URL.Path]
	fail := s.failFirst[r.URL.Path] > 0
	if fail {
		s.failFirst[r.URL.Path]--
	}
	noETag := s.noETag[r.URL.Path]
	s.mu.Unlock()
	status := http.StatusOK
	etag := fmt.Sprintf(`"%x"`, md5.Sum(content))
	switch {
	case r.URL.Path == "/slow":
		s.slowRequests.Add(1)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return
	case fail:
		status = http.StatusInternalServerError
	case !ok:
		status = http.StatusNotFound
	case !noETag && r.Header.Get("If-None-Match") == etag:
		status = http.StatusNotModified
	case noETag && r.Header.Get("If-Modified-Since") == modTime.Format(http.TimeFormat):
		status = http.StatusNotModified
	}
	s.mu.Lock()
	s.requests = append(s.requests, fmt.Sprintf("%s %d", r.URL.Path, status))
	s.mu.Unlock()
	if noETag {
		w.Header().Set("Last-Modified", modTime.Format(http.TimeFormat))
	} else {
		w.Header().Set("ETag", etag)
	}
	w.WriteHeader(status)
	if status == http.StatusOK {
		w.Write(content)
	}
}

func (s *server) put(path string, content []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = content
}

func (s *server) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.requests
	s.requests = nil
	return out
}

func tgz(files map[string]string) []byte {
	buf := new(bytes.Buffer)
	gw := gzip.NewWriter(buf)
	tw := tar.NewWriter(gw)
	for name, content := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0644, Size: int64(len(content)), Typeflag: tar.TypeReg})
		tw.Write([]byte(content))
	}
	tw.Close()
	gw.Close()
	return buf.Bytes()
}

// contents reads a tar stream into name -> content and closes it.
func contents(rc io.ReadCloser) map[string]string {
	GinkgoHelper()
	defer rc.Close()
	out := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		Expect(err).NotTo(HaveOccurred())
		b, _ := io.ReadAll(tr)
		out[h.Name] = string(b)
	}
}

var _ = Describe("the download cache", func() {
	var (
		srv *server
		dir string
		c   *cache.Cache
		ctx = context.Background()
	)

	BeforeEach(func() {
		srv = newServer()
		dir = filepath.Join(GinkgoT().TempDir(), "cache")
		c = cache.NewCache(dir, 1<<20, nil)
	})

	fetch := func(path, key string, sum cache.Checksum) map[string]string {
		GinkgoHelper()
		rc, err := c.Fetch(ctx, srv.URL+path, key, sum)
		Expect(err).NotTo(HaveOccurred())
		return contents(rc)
	}

	It("returns a tgz's entries, and any other file as one entry named after the URL", func() {
		srv.put("/droplet.tgz", tgz(map[string]string{"app/run": "ok"}))
		srv.put("/bin/tool", []byte("binary"))
		Expect(fetch("/droplet.tgz", "", cache.Checksum{})).To(Equal(map[string]string{"app/run": "ok"}))
		Expect(fetch("/bin/tool?x=1", "", cache.Checksum{})).To(Equal(map[string]string{"tool": "binary"}))
	})

	It("keeps an artifact by its cache key and revalidates it with the server on every use (ETag, then Last-Modified)", func() {
		srv.put("/a.tgz", tgz(map[string]string{"v": "1"}))
		Expect(fetch("/a.tgz", "key-a", cache.Checksum{})).To(Equal(map[string]string{"v": "1"}))
		Expect(fetch("/a.tgz", "key-a", cache.Checksum{})).To(Equal(map[string]string{"v": "1"}))
		Expect(srv.got()).To(Equal([]string{"/a.tgz 200", "/a.tgz 304"}))

		srv.put("/a.tgz", tgz(map[string]string{"v": "2"}))
		Expect(fetch("/a.tgz", "key-a", cache.Checksum{})).To(Equal(map[string]string{"v": "2"}), "a new version replaces the copy")
		Expect(srv.got()).To(Equal([]string{"/a.tgz 200"}))

		srv.noETag["/b"] = true
		srv.put("/b", []byte("b"))
		fetch("/b", "key-b", cache.Checksum{})
		fetch("/b", "key-b", cache.Checksum{})
		Expect(srv.got()).To(Equal([]string{"/b 200", "/b 304"}))

		fetch("/b", "", cache.Checksum{})
		Expect(srv.got()).To(Equal([]string{"/b 200"}), "no cache key, no cached copy")
		Expect(c.Size()).To(BeNumerically(">", 0))
		entries, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		Expect(entries).To(BeEmpty(), "an uncached download is removed once read")
	})

	It("downloads an artifact once when many ask for its key at the same time", func() {
		srv.put("/a.tgz", tgz(map[string]string{"v": "1"}))
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				Expect(fetch("/a.tgz", "key-a", cache.Checksum{})).To(Equal(map[string]string{"v": "1"}))
			}()
		}
		wg.Wait()
		Expect(srv.got()).To(ConsistOf(append([]string{"/a.tgz 200"}, slices.Repeat([]string{"/a.tgz 304"}, 7)...)))
	})

	It("keeps the artifacts of an earlier cache in the same directory", func() {
		srv.put("/a", []byte("a"))
		fetch("/a", "key-a", cache.Checksum{})
		c = cache.NewCache(dir, 1<<20, nil)
		Expect(fetch("/a", "key-a", cache.Checksum{})).To(Equal(map[string]string{"a": "a"}))
		Expect(srv.got()).To(Equal([]string{"/a 200", "/a 304"}))
	})

	Describe("checksums", func() {
		content := []byte("checked")
		sums := map[string]string{}
		m, s1, s256 := md5.Sum(content), sha1.Sum(content), sha256.Sum256(content)
		sums["md5"], sums["sha1"], sums["sha256"] = hex.EncodeToString(m[:]), hex.EncodeToString(s1[:]), hex.EncodeToString(s256[:])

		It("verifies md5, sha1 and sha256, and keeps nothing that does not match", func() {
			srv.put("/f", content)
			for alg, value := range sums {
				Expect(fetch("/f", "", cache.Checksum{Algorithm: alg, Value: strings.ToUpper(value)})).To(HaveKey("f"))
				wrong := strings.Repeat("0", len(value))
				_, err := c.Fetch(ctx, srv.URL+"/f", "key-"+alg, cache.Checksum{Algorithm: alg, Value: wrong})
				Expect(err).To(MatchError(ContainSubstring("checksum mismatch")))
			}
			_, err := c.Fetch(ctx, srv.URL+"/f", "key", cache.Checksum{Algorithm: "sha256", Value: strings.Repeat("0", 64)})
			Expect(err).To(MatchError("checksum mismatch for " + srv.URL + "/f: sha256 expected " + strings.Repeat("0", 64) + ", got " + sums["sha256"]))
			Expect(c.Size()).To(BeZero())
		})

		It("checks a cached copy against the checksum asked for now", func() {
			srv.put("/f", content)
			fetch("/f", "key", cache.Checksum{Algorithm: "sha1", Value: sums["sha1"]})
			_, err := c.Fetch(ctx, srv.URL+"/f", "key", cache.Checksum{Algorithm: "sha1", Value: strings.Repeat("1", 40)})
			Expect(err).To(MatchError(ContainSubstring("checksum mismatch")))
			fetch("/f", "key", cache.Checksum{Algorithm: "md5", Value: sums["md5"]})
			Expect(srv.got()).To(Equal([]string{"/f 200", "/f 304", "/f 200"}), "a digest the copy was not checked with downloads it again")
		})

		It("refuses an unknown algorithm or a value that is not hex before downloading", func() {
			_, err := c.Fetch(ctx, srv.URL+"/f", "", cache.Checksum{Algorithm: "crc32", Value: "00"})
			Expect(err).To(MatchError(`checksum algorithm "crc32" for ` + srv.URL + `/f is not one of md5, sha1, sha256`))
			_, err = c.Fetch(ctx, srv.URL+"/f", "", cache.Checksum{Algorithm: "md5", Value: "xyz"})
			Expect(err).To(MatchError(ContainSubstring(`checksum value "xyz"`)))
			Expect(srv.got()).To(BeEmpty())
		})
	})

	Describe("failures", func() {
		It("names the URL and the status, retrying only 5xx and connection failures", func() {
			_, err := c.Fetch(ctx, srv.URL+"/missing", "k", cache.Checksum{})
			Expect(err).To(MatchError("downloading " + srv.URL + "/missing: status code 404"))
			Expect(srv.got()).To(HaveLen(1))

			srv.put("/flaky", []byte("x"))
			srv.failFirst["/flaky"] = 2
			Expect(fetch("/flaky", "k", cache.Checksum{})).To(HaveKey("flaky"))
			Expect(srv.got()).To(Equal([]string{"/flaky 500", "/flaky 500", "/flaky 200"}))

			srv.failFirst["/flaky"] = cache.Attempts
			_, err = c.Fetch(ctx, srv.URL+"/flaky", "other", cache.Checksum{})
			Expect(err).To(MatchError(ContainSubstring("status code 500")))

			_, err = c.Fetch(ctx, "ftp://host/x", "", cache.Checksum{})
			Expect(err).To(MatchError(`download URL "ftp://host/x" is not an http(s) URL`))
		})

		It("says what is wrong with a broken archive and keeps nothing of it", func() {
			srv.put("/broken.tgz", tgz(map[string]string{"a": strings.Repeat("x", 4096)})[:100])
			_, err := c.Fetch(ctx, srv.URL+"/broken.tgz", "k", cache.Checksum{})
			Expect(err).To(MatchError(ContainSubstring("downloaded " + srv.URL + "/broken.tgz: not a gzipped tar")))
			srv.put("/evil.tgz", tgz(map[string]string{"../../etc/cron.d/x": "evil"}))
			_, _, err = c.FetchDir(ctx, srv.URL+"/evil.tgz", "k", cache.Checksum{})
			Expect(err).To(MatchError(ContainSubstring(`archive entry "../../etc/cron.d/x" is outside the directory it unpacks into`)))
			Expect(c.Size()).To(BeZero())
			entries, _ := os.ReadDir(dir)
			Expect(entries).To(HaveLen(1), "only tmp/")
		})

		It("stops waiting for another download of the same key when the context ends", func() {
			first, cancelFirst := context.WithCancel(ctx)
			defer cancelFirst()
			done := make(chan error, 1)
			go func() {
				_, err := c.Fetch(first, srv.URL+"/slow", "k", cache.Checksum{})
				done <- err
			}()
			Eventually(srv.slowRequests.Load).Should(BeEquivalentTo(1))
			second, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := c.Fetch(second, srv.URL+"/slow", "k", cache.Checksum{})
			Expect(err).To(MatchError(context.DeadlineExceeded))
			Expect(err).To(MatchError(ContainSubstring("waiting for another download of cache key k")))
			Expect(time.Since(start)).To(BeNumerically("<", 2*time.Second))
			cancelFirst()
			Eventually(done, 5*time.Second).Should(Receive(MatchError(context.Canceled)))
		})

		It("stops when the context ends", func() {
			ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := c.Fetch(ctx, srv.URL+"/slow", "", cache.Checksum{})
			Expect(err).To(MatchError(context.DeadlineExceeded))
			Expect(time.Since(start)).To(BeNumerically("<", 2*time.Second))
		})
	})

	Describe("FetchDir", func() {
		It("unpacks the artifact into a directory kept until released", func() {
			srv.put("/dep.tgz", tgz(map[string]string{"lib/x.so": "elf"}))
			d, release, err := c.FetchDir(ctx, srv.URL+"/dep.tgz", "dep", cache.Checksum{})
			Expect(err).NotTo(HaveOccurred())
			Expect(os.ReadFile(filepath.Join(d, "lib/x.so"))).To(Equal([]byte("elf")))
			d2, release2, err := c.FetchDir(ctx, srv.URL+"/dep.tgz", "dep", cache.Checksum{})
			Expect(err).NotTo(HaveOccurred())
			Expect(d2).To(Equal(d), "unpacked once")
			Expect(srv.got()).To(Equal([]string{"/dep.tgz 200", "/dep.tgz 304"}))

			srv.put("/dep.tgz", tgz(map[string]string{"lib/x.so": "elf v2"}))
			d3, release3, err := c.FetchDir(ctx, srv.URL+"/dep.tgz", "dep", cache.Checksum{})
			Expect(err).NotTo(HaveOccurred())
			Expect(os.ReadFile(filepath.Join(d3, "lib/x.so"))).To(Equal([]byte("elf v2")))
			Expect(os.ReadFile(filepath.Join(d, "lib/x.so"))).To(Equal([]byte("elf")), "the old version stays while in use")
			release()
			release() // a second call does nothing
			Expect(d).To(BeADirectory())
			release2()
			Expect(d).NotTo(BeAnExistingFile(), "the replaced version goes with its last user")
			release3()
			Expect(d3).To(BeADirectory(), "the current one stays cached")
		})

		It("without a cache key, removes the directory on release", func() {
			srv.put("/dep.tgz", tgz(map[string]string{"f": "x"}))
			d, release, err := c.FetchDir(ctx, srv.URL+"/dep.tgz", "", cache.Checksum{})
			Expect(err).NotTo(HaveOccurred())
			Expect(filepath.Join(d, "f")).To(BeARegularFile())
			release()
			Expect(d).NotTo(BeAnExistingFile())
			Expect(c.Size()).To(BeZero())
		})
	})

	Describe("the size bound", func() {
		const artifact = 10 << 10 // each artifact's tar is a little more
		BeforeEach(func() {
			c = cache.NewCache(dir, 3*artifact+3*4096, nil)
			for _, name := range []string{"a", "b", "c", "d", "big"} {
				size := artifact
				if name == "big" {
					size = 4 * artifact
				}
				srv.put("/"+name, bytes.Repeat([]byte(name[:1]), size))
			}
		})

		It("evicts the least recently used artifacts first", func() {
			fetch("/a", "a", cache.Checksum{})
			fetch("/b", "b", cache.Checksum{})
			fetch("/c", "c", cache.Checksum{})
			fetch("/a", "a", cache.Checksum{}) // a is now more recent than b
			fetch("/d", "d", cache.Checksum{})
			srv.got()
			fetch("/a", "a", cache.Checksum{})
			fetch("/c", "c", cache.Checksum{})
			fetch("/d", "d", cache.Checksum{})
			fetch("/b", "b", cache.Checksum{})
			Expect(srv.got()).To(Equal([]string{"/a 304", "/c 304", "/d 304", "/b 200"}))
			Expect(c.Size()).To(BeNumerically("<=", 3*artifact+3*4096))
		})

		It("never evicts an artifact in use, and serves one larger than the cache without keeping it", func() {
			held, err := c.Fetch(ctx, srv.URL+"/a", "a", cache.Checksum{})
			Expect(err).NotTo(HaveOccurred())
			d, release, err := c.FetchDir(ctx, srv.URL+"/b", "b", cache.Checksum{})
			Expect(err).NotTo(HaveOccurred())
			Expect(fetch("/big", "big", cache.Checksum{})).To(HaveKeyWithValue("big", HaveLen(4*artifact)))
			fetch("/c", "c", cache.Checksum{})
			fetch("/d", "d", cache.Checksum{})
			Expect(filepath.Join(d, "b")).To(BeARegularFile())
			Expect(contents(held)).To(HaveKeyWithValue("a", HaveLen(artifact)))
			release()
			srv.got()
			fetch("/big", "big", cache.Checksum{})
			Expect(srv.got()).To(Equal([]string{"/big 200"}), "too big to keep")
			Expect(c.Size()).To(BeNumerically("<=", 3*artifact+3*4096))
		})

		It("never evicts a directory held after a restart, and holds it without asking the server", func() {
			// never released: the executor restarts while a container has d mounted
			d, _, err := c.FetchDir(ctx, srv.URL+"/b", "b", cache.Checksum{})
			Expect(err).NotTo(HaveOccurred())
			fetch("/a", "a", cache.Checksum{})
			c = cache.NewCache(dir, 3*artifact+3*4096, nil)
			srv.got()
			hold, ok := c.Hold("b")
			Expect(ok).To(BeTrue())
			_, ok = c.Hold("a")
			Expect(ok).To(BeFalse(), "never unpacked: nothing can have it mounted")
			_, ok = c.Hold("nope")
			Expect(ok).To(BeFalse())
			Expect(srv.got()).To(BeEmpty())

			fetch("/c", "c", cache.Checksum{})
			fetch("/d", "d", cache.Checksum{})
			Expect(filepath.Join(d, "b")).To(BeARegularFile(), "the least recently used, but held")
			hold()
			hold()
			fetch("/a", "a", cache.Checksum{})
			Expect(d).NotTo(BeAnExistingFile(), "evicted once released")
		})
	})
})
