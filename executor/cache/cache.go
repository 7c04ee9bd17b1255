// Package cache downloads the artifacts of Download actions and cached dependencies over HTTP
// and keeps them on the cell by cache key: each use revalidates the copy with the server
// (If-None-Match / If-Modified-Since; 304 keeps it), the cache's size is bounded and the least
// recently used artifacts no one is using are evicted first. Archives (tgz, zip, tar) are kept
// as tar streams and unpacked into directories on demand; any other file is one tar entry.
package cache

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/diego-go/diego/executor/archive"
)

// Checksum is the expected digest of a download: Algorithm md5, sha1 or sha256 and Value in hex.
// The zero Checksum checks nothing.
type Checksum struct {
	Algorithm string
	Value     string
}

// Attempts is how many times a download is tried when the connection fails or the server
// answers 5xx, as upstream's downloader does.
const Attempts = 3

// retryWait is the pause before the second attempt; it doubles for each further one.
var retryWait = 250 * time.Millisecond

// Cache is safe for concurrent use.
type Cache struct {
	dir    string
	max    int64
	client *http.Client

	initOnce sync.Once
	initErr  error

	mu      sync.Mutex
	entries map[string]*entry // by cache key: the current artifact of each
	total   int64             // bytes on disk of every entry in entries and every stale one still in use
	keys    map[string]*keyLock
	seq     int
}

// entry is one stored artifact: dir/<id>/artifact.tar, its unpacked dir/<id>/dir once asked
// for, and dir/<id>/meta.json.
type entry struct {
	meta
	id       string
	path     string
	size     int64
	refs     int
	lastUsed time.Time
	cached   bool // in entries or counted in total; false: for one caller, removed when released
	stale    bool // replaced or evicted while in use: removed when released
	unpacked bool
}

type meta struct {
	Key          string            `json:"cache_key"`
	URL          string            `json:"url"`
	ETag         string            `json:"etag,omitempty"`
	LastModified string            `json:"last_modified,omitempty"`
	Sums         map[string]string `json:"sums,omitempty"` // algorithm -> hex digest of the download
}

// NewCache keeps artifacts in dir, at most maxBytes of them (artifacts in use may take the
// cache over it until they are released). Artifacts stored in dir by an earlier Cache are kept
// (none of them counts as in use); dir is for one Cache at a time. client nil means
// http.DefaultClient.
func NewCache(dir string, maxBytes int64, client *http.Client) *Cache {
	if client == nil {
		client = http.DefaultClient
	}
	return &Cache{dir: dir, max: maxBytes, client: client, entries: map[string]*entry{}, keys: map[string]*keyLock{}}
}

// Fetch returns a tar stream of the artifact at rawURL, ready for garden's StreamIn: an
// archive's entries, or any other file as one entry named after the URL's last element. With a
// cacheKey the artifact is kept by it; "" downloads it for this call only. A non-zero sum is
// verified. Close the stream to let the artifact be evicted.
func (c *Cache) Fetch(ctx context.Context, rawURL, cacheKey string, sum Checksum) (io.ReadCloser, error) {
	e, err := c.acquire(ctx, rawURL, cacheKey, sum, false)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(e.path, "artifact.tar"))
	if err != nil {
		c.release(e)
		return nil, fmt.Errorf("cached artifact of %s: %w", rawURL, err)
	}
	return &artifactReader{File: f, release: sync.OnceFunc(func() { c.release(e) })}, nil
}

type artifactReader struct {
	*os.File
	release func()
}

func (r *artifactReader) Close() error {
	err := r.File.Close()
	r.release()
	return err
}

// FetchDir unpacks the artifact at rawURL into a directory on the host (for a read-only bind
// mount) and returns it; it is not evicted or changed until release is called. cacheKey and
// sum are as for Fetch.
func (c *Cache) FetchDir(ctx context.Context, rawURL, cacheKey string, sum Checksum) (string, func(), error) {
	e, err := c.acquire(ctx, rawURL, cacheKey, sum, true)
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(e.path, "dir"), sync.OnceFunc(func() { c.release(e) }), nil
}

// Hold keeps cacheKey's current unpacked directory (the one FetchDir would return) from eviction
// until release is called, without asking the server: a container still running since before
// this Cache started has it mounted, and revalidating could replace it under the container.
// ok is false when the cache has no unpacked directory for cacheKey.
func (c *Cache) Hold(cacheKey string) (release func(), ok bool) {
	if cacheKey == "" || c.init() != nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[cacheKey]
	if e == nil || !e.unpacked {
		return nil, false
	}
	e.refs++
	return sync.OnceFunc(func() { c.release(e) }), true
}

func (c *Cache) init() error {
	c.initOnce.Do(func() { c.initErr = c.load() })
	return c.initErr
}

// load takes over the artifacts an earlier Cache left in dir and removes anything half-written.
func (c *Cache) load() error {
	if err := os.MkdirAll(c.dir, 0755); err != nil {
		return fmt.Errorf("download cache %s: %w", c.dir, err)
	}
	if err := os.RemoveAll(filepath.Join(c.dir, "tmp")); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(c.dir, "tmp"), 0755); err != nil {
		return err
	}
	dirents, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	for _, d := range dirents {
		if d.Name() == "tmp" {
			continue
		}
		p := filepath.Join(c.dir, d.Name())
		e, err := loadEntry(p)
		if err != nil || c.entries[e.Key] != nil {
			os.RemoveAll(p)
			continue
		}
		if n, err := strconv.Atoi(d.Name()); err == nil && n > c.seq {
			c.seq = n
		}
		e.id, e.path, e.cached = d.Name(), p, true
		c.entries[e.Key] = e
		c.total += e.size
	}
	c.trim()
	return nil
}

func loadEntry(p string) (*entry, error) {
	b, err := os.ReadFile(filepath.Join(p, "meta.json"))
	if err != nil {
		return nil, err
	}
	e := &entry{}
	if err := json.Unmarshal(b, &e.meta); err != nil || e.Key == "" {
		return nil, fmt.Errorf("bad meta.json in %s", p)
	}
	fi, err := os.Stat(filepath.Join(p, "meta.json"))
	if err != nil {
		return nil, err
	}
	e.lastUsed = fi.ModTime()
	if e.size, err = diskUsage(filepath.Join(p, "artifact.tar")); err != nil {
		return nil, err
	}
	os.RemoveAll(filepath.Join(p, "dir.tmp"))
	if n, err := diskUsage(filepath.Join(p, "dir")); err == nil {
		e.size += n
		e.unpacked = true
	}
	return e, nil
}

// diskUsage is the bytes of the files at or below p.
func diskUsage(p string) (int64, error) {
	var n int64
	err := filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

// keyLock lets one caller at a time download or unpack a cache key's artifact.
type keyLock struct {
	held  chan struct{}
	users int // holding or waiting; the lock is forgotten when none are left
}

// lockKey waits for key's lock until ctx ends.
func (c *Cache) lockKey(ctx context.Context, key, rawURL string) (unlock func(), err error) {
	c.mu.Lock()
	l := c.keys[key]
	if l == nil {
		l = &keyLock{held: make(chan struct{}, 1)}
		c.keys[key] = l
	}
	l.users++
	c.mu.Unlock()
	leave := func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if l.users--; l.users == 0 {
			delete(c.keys, key)
		}
	}
	select {
	case l.held <- struct{}{}:
		return func() { <-l.held; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, fmt.Errorf("downloading %s: waiting for another download of cache key %s: %w", rawURL, key, ctx.Err())
	}
}

// acquire returns the artifact, current with the server, with a reference taken.
func (c *Cache) acquire(ctx context.Context, rawURL, key string, sum Checksum, unpack bool) (*entry, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("download URL %q is not an http(s) URL", rawURL)
	}
	if sum != (Checksum{}) {
		if newHash(sum.Algorithm) == nil {
			return nil, fmt.Errorf("checksum algorithm %q for %s is not one of md5, sha1, sha256", sum.Algorithm, rawURL)
		}
		if _, err := hex.DecodeString(sum.Value); err != nil || sum.Value == "" {
			return nil, fmt.Errorf("checksum value %q for %s is not hex", sum.Value, rawURL)
		}
	}
	if err := c.init(); err != nil {
		return nil, err
	}
	if key != "" {
		unlock, err := c.lockKey(ctx, key, rawURL)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}

	c.mu.Lock()
	old := c.entries[key]
	if old != nil && (old.URL != rawURL || (sum != (Checksum{}) && old.Sums[sum.Algorithm] == "")) {
		old = nil // not what is asked for now: download it afresh
	}
	if old != nil {
		old.refs++ // kept while the server is asked
	}
	c.mu.Unlock()

	e, err := c.download(ctx, rawURL, key, sum, old)
	if old != nil && e != old {
		c.release(old)
	}
	if err != nil {
		return nil, err
	}
	if unpack && !e.unpacked {
		if err := c.unpack(e); err != nil {
			c.release(e)
			return nil, fmt.Errorf("unpacking %s: %w", rawURL, err)
		}
	}
	c.mu.Lock()
	if e.cached {
		e.lastUsed = time.Now()
		os.Chtimes(filepath.Join(e.path, "meta.json"), e.lastUsed, e.lastUsed)
	}
	c.trim()
	c.mu.Unlock()
	return e, nil
}

// download asks the server for the artifact (conditionally when old is the cached copy) and
// returns old when it is still current or a new entry with a reference taken.
func (c *Cache) download(ctx context.Context, rawURL, key string, sum Checksum, old *entry) (*entry, error) {
	var err error
	for attempt := 1; ; attempt++ {
		var e *entry
		var retry bool
		e, retry, err = c.try(ctx, rawURL, key, sum, old)
		if err == nil {
			return e, nil
		}
		if !retry || attempt == Attempts {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("downloading %s: %w", rawURL, ctx.Err())
		case <-time.After(retryWait << (attempt - 1)):
		}
	}
}

func (c *Cache) try(ctx context.Context, rawURL, key string, sum Checksum, old *entry) (e *entry, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, false, fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	if old != nil {
		if old.ETag != "" {
			req.Header.Set("If-None-Match", old.ETag)
		}
		if old.LastModified != "" {
			req.Header.Set("If-Modified-Since", old.LastModified)
		}
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, ctx.Err() == nil, fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && old != nil:
		if err := verify(rawURL, sum, old.Sums); err != nil {
			return nil, false, err
		}
		return old, false, nil
	case resp.StatusCode != http.StatusOK:
		return nil, resp.StatusCode >= 500, fmt.Errorf("downloading %s: status code %d", rawURL, resp.StatusCode)
	}

	c.mu.Lock()
	c.seq++
	id := strconv.Itoa(c.seq)
	c.mu.Unlock()
	tmp := filepath.Join(c.dir, "tmp", id)
	if err := os.Mkdir(tmp, 0755); err != nil {
		return nil, false, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()

	sums, err := save(resp.Body, filepath.Join(tmp, "download"), sum.Algorithm)
	if err != nil {
		return nil, ctx.Err() == nil, fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	if err := verify(rawURL, sum, sums); err != nil {
		return nil, false, err
	}
	tarFile, err := os.Create(filepath.Join(tmp, "artifact.tar"))
	if err != nil {
		return nil, false, err
	}
	err = archive.ToTar(filepath.Join(tmp, "download"), fileName(req.URL), tarFile)
	if cerr := tarFile.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("downloaded %s: %w", rawURL, err)
	}
	os.Remove(filepath.Join(tmp, "download"))
	e = &entry{meta: meta{Key: key, URL: rawURL, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), Sums: sums},
		id: id, refs: 1, lastUsed: time.Now()}
	if e.size, err = diskUsage(filepath.Join(tmp, "artifact.tar")); err != nil {
		return nil, false, err
	}
	if key == "" {
		e.path = tmp
		ok = true
		return e, false, nil
	}
	b, _ := json.Marshal(e.meta)
	if err := os.WriteFile(filepath.Join(tmp, "meta.json"), b, 0644); err != nil {
		return nil, false, err
	}
	e.path = filepath.Join(c.dir, id)
	if err := os.Rename(tmp, e.path); err != nil {
		return nil, false, err
	}
	ok = true

	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.entries[key]; prev != nil {
		c.drop(prev)
	}
	e.cached = true
	c.entries[key] = e
	c.total += e.size
	return e, false, nil
}

// fileName is the tar entry name of a download that is not an archive.
func fileName(u *url.URL) string {
	if name := path.Base(u.Path); name != "/" && name != "." && name != ".." {
		return name
	}
	return "download"
}

// save writes body to p, with the digest of algorithm (if any) computed on the way.
func save(body io.Reader, p, algorithm string) (map[string]string, error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0600)
	if err != nil {
		return nil, err
	}
	var w io.Writer = f
	h := newHash(algorithm)
	if h != nil {
		w = io.MultiWriter(f, h)
	}
	_, err = io.Copy(w, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if h == nil {
		return map[string]string{}, nil
	}
	return map[string]string{algorithm: hex.EncodeToString(h.Sum(nil))}, nil
}

func newHash(algorithm string) hash.Hash {
	switch algorithm {
	case "md5":
		return md5.New()
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	}
	return nil
}

func verify(rawURL string, sum Checksum, sums map[string]string) error {
	if sum == (Checksum{}) {
		return nil
	}
	if got := sums[sum.Algorithm]; !strings.EqualFold(got, sum.Value) {
		return fmt.Errorf("checksum mismatch for %s: %s expected %s, got %s", rawURL, sum.Algorithm, strings.ToLower(sum.Value), got)
	}
	return nil
}

// unpack makes e's directory once.
func (c *Cache) unpack(e *entry) error {
	tmp := filepath.Join(e.path, "dir.tmp")
	os.RemoveAll(tmp)
	if err := os.Mkdir(tmp, 0755); err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(e.path, "artifact.tar"))
	if err != nil {
		return err
	}
	err = archive.Unpack(f, tmp)
	f.Close()
	if err == nil {
		err = os.Rename(tmp, filepath.Join(e.path, "dir"))
	}
	if err != nil {
		os.RemoveAll(tmp)
		return err
	}
	n, _ := diskUsage(filepath.Join(e.path, "dir"))
	c.mu.Lock()
	e.unpacked = true
	e.size += n
	if e.cached {
		c.total += n
	}
	c.mu.Unlock()
	return nil
}

// release drops a reference; an artifact no longer current goes with its last one.
func (c *Cache) release(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.refs == 0 && !e.cached {
		os.RemoveAll(e.path)
	}
	if e.refs == 0 && e.stale {
		c.total -= e.size
		os.RemoveAll(e.path)
	}
	c.trim()
}

// drop takes e out of entries: it is removed now or, when in use, at its last release. Holds mu.
func (c *Cache) drop(e *entry) {
	delete(c.entries, e.Key)
	if e.refs > 0 {
		e.stale = true
		return
	}
	c.total -= e.size
	os.RemoveAll(e.path)
}

// trim evicts the least recently used artifacts no one uses until the cache is within its
// bound. Holds mu.
func (c *Cache) trim() {
	if c.total <= c.max {
		return
	}
	var idle []*entry
	for _, e := range c.entries {
		if e.refs == 0 {
			idle = append(idle, e)
		}
	}
	sort.Slice(idle, func(i, j int) bool { return idle[i].lastUsed.Before(idle[j].lastUsed) })
	for _, e := range idle {
		if c.total <= c.max {
			return
		}
		c.drop(e)
	}
}

// Size is the bytes the cache holds on disk.
func (c *Cache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}
