package gardenrunc

import (
	"archive/tar"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sys/unix"
)

// ImageInfo is a resolved rootfs: overlay lower directories (top-most first) and the image's
// process defaults.
type ImageInfo struct {
	Lowers  []string
	Env     []string
	User    string
	WorkDir string
}

// ImageStore pulls OCI/Docker images with go-containerregistry and keeps their unpacked layers
// (by digest) and configs (by digest) on disk, so a cached image downloads only its manifest.
// Credentials are used for the pull only: never stored or logged.
type ImageStore struct {
	dir      string
	insecure map[string]bool
	log      *slog.Logger

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func NewImageStore(dir string, insecure []string, log *slog.Logger) *ImageStore {
	s := &ImageStore{dir: dir, insecure: map[string]bool{}, log: log, locks: map[string]*sync.Mutex{}}
	for _, h := range insecure {
		s.insecure[h] = true
	}
	return s
}

// ParseDockerURI turns docker:///repo#tag or docker://host:port/repo#tag (the tag may also be a
// sha256 digest) into a registry reference string and its registry host ("" for Docker Hub).
func ParseDockerURI(uri string) (ref, host string, err error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", "", err
	}
	if u.Scheme != "docker" {
		return "", "", fmt.Errorf("not a docker:// URI: %s", uri)
	}
	repo := strings.TrimPrefix(u.Path, "/")
	if repo == "" {
		return "", "", fmt.Errorf("no repository in %s", uri)
	}
	tag := u.Fragment
	if tag == "" {
		tag = "latest"
	}
	ref = repo
	if u.Host != "" {
		ref = u.Host + "/" + repo
	}
	if strings.HasPrefix(tag, "sha256:") {
		ref += "@" + tag
	} else {
		ref += ":" + tag
	}
	return ref, u.Host, nil
}

func (s *ImageStore) lock(key string) func() {
	s.mu.Lock()
	l, ok := s.locks[key]
	if !ok {
		l = &sync.Mutex{}
		s.locks[key] = l
	}
	s.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Pull resolves the image's manifest and makes sure every layer is unpacked in the cache.
func (s *ImageStore) Pull(uri, username, password string) (*ImageInfo, error) {
	refStr, host, err := ParseDockerURI(uri)
	if err != nil {
		return nil, err
	}
	var opts []name.Option
	if s.insecure[host] {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(refStr, opts...)
	if err != nil {
		return nil, err
	}
	auth := authn.Anonymous
	if username != "" || password != "" {
		auth = &authn.Basic{Username: username, Password: password}
	}
	start := time.Now()
	img, err := remote.Image(ref, remote.WithAuth(auth), remote.WithTransport(s.transport()),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))
	if err != nil {
		return nil, fmt.Errorf("fetch image %s: %w", refStr, err)
	}
	cfg, err := s.config(img)
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	info := &ImageInfo{Env: cfg.Config.Env, User: cfg.Config.User, WorkDir: cfg.Config.WorkingDir}
	for i := len(layers) - 1; i >= 0; i-- {
		dir, err := s.layer(layers[i])
		if err != nil {
			return nil, err
		}
		info.Lowers = append(info.Lowers, dir)
	}
	if len(info.Lowers) == 0 {
		empty := filepath.Join(s.dir, "empty")
		os.MkdirAll(empty, 0755)
		info.Lowers = []string{empty}
	}
	s.log.Info("image-ready", "ref", refStr, "layers", len(layers), "took", time.Since(start).String())
	return info, nil
}

// transport refuses plain HTTP and unverified TLS except to the configured insecure registries
// (go-containerregistry on its own falls back to HTTP for loopback and private addresses).
func (s *ImageStore) transport() http.RoundTripper {
	secure := http.DefaultTransport.(*http.Transport).Clone()
	insecure := http.DefaultTransport.(*http.Transport).Clone()
	insecure.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if s.insecure[req.URL.Host] {
			return insecure.RoundTrip(req)
		}
		if req.URL.Scheme != "https" {
			return nil, fmt.Errorf("registry %s is not configured as insecure: refusing %s", req.URL.Host, req.URL.Scheme)
		}
		return secure.RoundTrip(req)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (s *ImageStore) config(img v1.Image) (*v1.ConfigFile, error) {
	digest, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(s.dir, "configs", digest.Hex+".json")
	if b, err := os.ReadFile(path); err == nil {
		cfg := &v1.ConfigFile{}
		if json.Unmarshal(b, cfg) == nil {
			return cfg, nil
		}
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := &v1.ConfigFile{}
	if err := json.Unmarshal(raw, cfg); err != nil {
		return nil, err
	}
	os.MkdirAll(filepath.Dir(path), 0700)
	tmp := path + ".tmp"
	if os.WriteFile(tmp, raw, 0600) == nil {
		os.Rename(tmp, path)
	}
	return cfg, nil
}

// layer returns the unpacked directory of a layer, downloading it only if it is not cached.
func (s *ImageStore) layer(l v1.Layer) (string, error) {
	digest, err := l.Digest()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(s.dir, "layers", digest.Algorithm+"-"+digest.Hex)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	defer s.lock(digest.String())()
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return "", fmt.Errorf("layer %s: %w", digest, err)
	}
	defer rc.Close()
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0755); err != nil {
		return "", err
	}
	if err := UnpackLayer(rc, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("unpack layer %s: %w", digest, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// UnpackLayer extracts a layer tarball into dir as an overlayfs layer: AUFS-style whiteouts
// (.wh.NAME) become overlay whiteouts (0/0 character devices) and opaque markers (.wh..wh..opq)
// become the trusted.overlay.opaque xattr. No entry may escape dir.
func UnpackLayer(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	type dirTime struct {
		path string
		t    time.Time
	}
	var dirs []dirTime
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		rel := filepath.Clean("/" + h.Name)
		if rel == "/" {
			continue
		}
		path := filepath.Join(dir, rel)
		parent := filepath.Dir(path)
		if err := safeParents(dir, parent); err != nil {
			return err
		}
		base := filepath.Base(rel)
		if base == ".wh..wh..opq" {
			if err := os.MkdirAll(parent, 0755); err != nil {
				return err
			}
			if err := unix.Setxattr(parent, "trusted.overlay.opaque", []byte("y"), 0); err != nil {
				return err
			}
			continue
		}
		if strings.HasPrefix(base, ".wh.") {
			target := filepath.Join(parent, strings.TrimPrefix(base, ".wh."))
			if err := os.MkdirAll(parent, 0755); err != nil {
				return err
			}
			os.RemoveAll(target)
			if err := unix.Mknod(target, unix.S_IFCHR, 0); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(parent, 0755); err != nil {
			return err
		}
		if fi, err := os.Lstat(path); err == nil && !(fi.IsDir() && h.Typeflag == tar.TypeDir) {
			os.RemoveAll(path)
		}
		mode := uint32(h.Mode & 07777)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0755); err != nil {
				return err
			}
			dirs = append(dirs, dirTime{path, h.ModTime})
		case tar.TypeReg, tar.TypeRegA:
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, path); err != nil {
				return err
			}
		case tar.TypeLink:
			target := filepath.Join(dir, filepath.Clean("/"+h.Linkname))
			if err := safeParents(dir, filepath.Dir(target)); err != nil {
				return err
			}
			if err := os.Link(target, path); err != nil {
				return err
			}
			continue
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			t := uint32(unix.S_IFCHR)
			if h.Typeflag == tar.TypeBlock {
				t = unix.S_IFBLK
			} else if h.Typeflag == tar.TypeFifo {
				t = unix.S_IFIFO
			}
			if err := unix.Mknod(path, t|mode, int(unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor)))); err != nil {
				return err
			}
		default:
			continue
		}
		if err := os.Lchown(path, h.Uid, h.Gid); err != nil {
			return err
		}
		if h.Typeflag != tar.TypeSymlink {
			if err := os.Chmod(path, os.FileMode(mode&0777)|modeBits(mode)); err != nil {
				return err
			}
			os.Chtimes(path, h.ModTime, h.ModTime)
		}
		for k, v := range h.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				unix.Lsetxattr(path, strings.TrimPrefix(k, "SCHILY.xattr."), []byte(v), 0)
			}
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Chtimes(dirs[i].path, dirs[i].t, dirs[i].t)
	}
	return nil
}

func modeBits(m uint32) os.FileMode {
	var out os.FileMode
	if m&04000 != 0 {
		out |= os.ModeSetuid
	}
	if m&02000 != 0 {
		out |= os.ModeSetgid
	}
	if m&01000 != 0 {
		out |= os.ModeSticky
	}
	return out
}

// safeParents refuses paths whose existing components below root are symlinks, so a layer
// cannot write through a link it planted.
func safeParents(root, p string) error {
	rel, err := filepath.Rel(root, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("path %s escapes the layer", p)
	}
	cur := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if part == "." || part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			return nil
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("layer entry below symlink %s", cur)
		}
	}
	return nil
}
