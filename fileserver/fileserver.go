// Package fileserver serves a static directory over HTTP under /v1/static/, with what a
// revalidating download cache (executor/cache) needs: a strong ETag and Last-Modified on every
// answer, 304 for If-None-Match and If-Modified-Since, byte ranges and HEAD (http.ServeContent).
//
// The ETag is derived from the file's size and modification time (nanoseconds), not from its
// content: "<size hex>-<mtime ns hex>". It changes whenever the file is rewritten (a new mtime)
// and costs no read of the file. Two versions written within the filesystem's timestamp
// resolution with the same size would share it; files are expected to be replaced, not edited
// in place within a nanosecond.
//
// Only regular files inside the directory are served: no directory listings, and a path that
// leaves the directory (a ".." element, or a symbolic link pointing outside it or absolute)
// answers 404, as a missing file does; a link that stays inside is followed.
package fileserver

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Prefix is the URL path under which the directory is served.
const Prefix = "/v1/static/"

// Handler serves a directory; see the package doc. Each request opens the directory by its path
// anew, so a directory replaced under the server (renamed into place) is served at once.
type Handler struct {
	dir    string
	logger *slog.Logger
}

// New serves dir, which must be a directory. Every request is logged on logger (one access log
// line: method, path, status, bytes, duration, remote address).
func New(logger *slog.Logger, dir string) (*Handler, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("static directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("static directory %s is not a directory", dir)
	}
	return &Handler{dir: dir, logger: logger}, nil
}

// Check says whether the directory is still there (for the health check).
func (h *Handler) Check() error {
	fi, err := os.Stat(h.dir)
	if err == nil && !fi.IsDir() {
		err = fmt.Errorf("static directory %s is not a directory", h.dir)
	}
	return err
}

// ETag is the strong ETag of a file with this size and modification time.
func ETag(fi fs.FileInfo) string {
	return `"` + strconv.FormatInt(fi.Size(), 16) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 16) + `"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	h.serve(rec, r)
	h.logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status(), "bytes", rec.bytes,
		"duration", time.Since(start).String(), "remote", r.RemoteAddr)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method "+r.Method+" not allowed: GET or HEAD", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	// fs.ValidPath refuses "..", ".", empty elements and a leading slash; os.OpenInRoot
	// refuses symbolic links that resolve outside the directory (and absolute ones).
	if !ok || !fs.ValidPath(name) {
		notFound(w, r)
		return
	}
	f, err := os.OpenInRoot(h.dir, name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			h.logger.Info("refused", "path", r.URL.Path, "error", err.Error())
		}
		notFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		notFound(w, r)
		return
	}
	w.Header().Set("ETag", ETag(fi))
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}

func notFound(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not found: "+r.URL.Path, http.StatusNotFound)
}

// recorder notes the status and the body bytes of an answer, for the access log.
type recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}
