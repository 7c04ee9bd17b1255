// Package archive turns downloaded artifacts into tar streams and unpacks tar streams into host
// directories without letting an entry land outside of them.
package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Kind is what a file holds.
type Kind string

const (
	Tar   Kind = "tar"
	Gzip  Kind = "gzip" // a gzipped tar
	Zip   Kind = "zip"
	Other Kind = "other"
)

// Detect reads the start of f (and seeks back) to tell an archive from any other file.
func Detect(f *os.File) (Kind, error) {
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", err
	}
	head = head[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return Gzip, nil
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return Zip, nil
	case len(head) >= 263 && string(head[257:262]) == "ustar":
		return Tar, nil
	}
	return Other, nil
}

// ToTar writes the file at src as a tar stream: a tar's entries, a gzipped tar's, a zip's, or,
// for any other file, one entry called name (mode 0644). Every entry's name must stay inside
// the directory it will be unpacked in.
func ToTar(src, name string, w io.Writer) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	kind, err := Detect(f)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	switch kind {
	case Tar:
		err = copyTar(tar.NewReader(f), tw)
	case Gzip:
		var gz *gzip.Reader
		if gz, err = gzip.NewReader(f); err == nil {
			err = copyTar(tar.NewReader(gz), tw)
		}
		if err == nil {
			// the tar ends before the gzip trailer: read it, so a truncated download is caught
			_, err = io.Copy(io.Discard, gz)
		}
		if err != nil {
			err = fmt.Errorf("not a gzipped tar: %w", err)
		}
	case Zip:
		err = zipToTar(f, tw)
	default:
		err = fileToTar(f, name, tw)
	}
	if err != nil {
		return err
	}
	return tw.Close()
}

func copyTar(tr *tar.Reader, tw *tar.Writer) error {
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := entryName(h.Name); err != nil {
			return err
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

func zipToTar(f *os.File, tw *tar.Writer) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(f, fi.Size())
	if err != nil {
		return fmt.Errorf("not a zip archive: %w", err)
	}
	for _, zf := range zr.File {
		if _, err := entryName(zf.Name); err != nil {
			return err
		}
		mode := zf.Mode()
		h := &tar.Header{Name: zf.Name, Mode: int64(mode.Perm()), ModTime: zf.Modified, Typeflag: tar.TypeReg, Size: int64(zf.UncompressedSize64)}
		rc, err := zf.Open()
		if err != nil {
			return fmt.Errorf("zip entry %s: %w", zf.Name, err)
		}
		switch {
		case mode.IsDir():
			h.Typeflag, h.Size = tar.TypeDir, 0
		case mode&fs.ModeSymlink != 0:
			target, err := io.ReadAll(io.LimitReader(rc, 4096))
			if err != nil {
				rc.Close()
				return fmt.Errorf("zip entry %s: %w", zf.Name, err)
			}
			h.Typeflag, h.Size, h.Linkname = tar.TypeSymlink, 0, string(target)
		}
		err = tw.WriteHeader(h)
		if err == nil && h.Typeflag == tar.TypeReg {
			_, err = io.Copy(tw, rc)
		}
		rc.Close()
		if err != nil {
			return fmt.Errorf("zip entry %s: %w", zf.Name, err)
		}
	}
	return nil
}

func fileToTar(f *os.File, name string, tw *tar.Writer) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := entryName(name); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0644, Size: fi.Size(), ModTime: fi.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// entryName is name cleaned, relative to the directory unpacked into; a name that is absolute
// or climbs out of it with ".." is refused.
func entryName(name string) (string, error) {
	clean := path.Clean(strings.TrimPrefix(name, "./"))
	if path.IsAbs(name) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("archive entry %q is outside the directory it unpacks into", name)
	}
	return clean, nil
}

// linkTargetSafe: a symbolic link's target is relative, climbs at most to the top of the
// directory unpacked into and climbs only at its start. A ".." after a name could climb through
// another link (a/.. where a links to .), so it is refused even when the names cancel out.
func linkTargetSafe(entry, target string) bool {
	if path.IsAbs(target) || target == "" {
		return false
	}
	depth := strings.Count(entry, "/") // of the link's directory
	climbing := true
	for _, part := range strings.Split(target, "/") {
		switch {
		case part == "" || part == ".":
		case part == "..":
			if !climbing || depth == 0 {
				return false
			}
			depth--
		default:
			climbing = false
		}
	}
	return true
}

// Unpack extracts the tar stream r into dir, which must exist. Entries are refused (and the
// unpacking stops with an error naming the entry) when their name is outside dir, when they
// would be written through a symbolic link, when a symbolic link points outside dir or a hard
// link at anything but a file unpacked before. Devices and other special files are skipped;
// modes keep their permission bits only (no setuid); files belong to the unpacking user.
func Unpack(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	type dirAttrs struct {
		path string
		mode os.FileMode
		t    time.Time
	}
	var dirs []dirAttrs
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name, err := entryName(h.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := mkdirNoLinks(dir, path.Dir(name)); err != nil {
			return fmt.Errorf("archive entry %q: %w", h.Name, err)
		}
		mode := os.FileMode(h.Mode).Perm()
		existing, lerr := os.Lstat(p)
		if lerr == nil && !(existing.IsDir() && h.Typeflag == tar.TypeDir) {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.Mkdir(p, 0700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			if err := os.Chmod(p, mode|0700); err != nil {
				return err
			}
			dirs = append(dirs, dirAttrs{p, mode, h.ModTime})
		case tar.TypeReg, tar.TypeRegA:
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := os.Chmod(p, mode); err != nil {
				return err
			}
			os.Chtimes(p, h.ModTime, h.ModTime)
		case tar.TypeSymlink:
			if !linkTargetSafe(name, h.Linkname) {
				return fmt.Errorf("archive entry %q links to %q, outside the directory it unpacks into", h.Name, h.Linkname)
			}
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		case tar.TypeLink:
			target, err := entryName(h.Linkname)
			if err != nil {
				return fmt.Errorf("archive entry %q: hard link: %w", h.Name, err)
			}
			tp := filepath.Join(dir, filepath.FromSlash(target))
			fi, err := lstatNoLinks(dir, target)
			if err != nil || !fi.Mode().IsRegular() {
				return fmt.Errorf("archive entry %q is a hard link to %q, which is not a file unpacked before it", h.Name, h.Linkname)
			}
			if err := os.Link(tp, p); err != nil {
				return err
			}
		}
	}
	// a directory's mode may keep its entries from being written and its time changes as they
	// are: both are set last, deepest first
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i].path, dirs[i].mode); err != nil {
			return err
		}
		os.Chtimes(dirs[i].path, dirs[i].t, dirs[i].t)
	}
	return nil
}

// mkdirNoLinks makes rel's directories below dir, refusing to go through a symbolic link.
func mkdirNoLinks(dir, rel string) error {
	p := dir
	for _, part := range strings.Split(rel, "/") {
		if part == "." || part == "" {
			continue
		}
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(p, 0755); err != nil {
				return err
			}
		case err != nil:
			return err
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("its path goes through the symbolic link %s", strings.TrimPrefix(p, dir+"/"))
		case !fi.IsDir():
			return fmt.Errorf("%s is not a directory", strings.TrimPrefix(p, dir+"/"))
		}
	}
	return nil
}

// lstatNoLinks is Lstat of rel below dir when no directory on the way is a symbolic link.
func lstatNoLinks(dir, rel string) (fs.FileInfo, error) {
	p := dir
	parts := strings.Split(rel, "/")
	for i, part := range parts {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		if i == len(parts)-1 {
			return fi, nil
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("%s is not a directory", p)
		}
	}
	return nil, fs.ErrNotExist
}
