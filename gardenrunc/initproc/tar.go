package initproc

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// RunTarIn is `garden-init tar-in DEST`, run by the server through nsenter inside a container
// (its root and user): it extracts the tar stream on stdin below DEST. Images need no tar.
func RunTarIn(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: tar-in DEST")
		return 2
	}
	if err := extract(os.Stdin, args[0]); err != nil {
		fmt.Fprintf(os.Stderr, "tar-in: %v\n", err)
		return 1
	}
	return 0
}

// RunTarOut is `garden-init tar-out PATH`: it writes a tar stream of PATH to stdout, with PATH's
// last element as the top entry, or PATH's contents when PATH ends in "/".
func RunTarOut(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: tar-out PATH")
		return 2
	}
	src := args[0]
	base, top := filepath.Dir(filepath.Clean(src)), filepath.Base(filepath.Clean(src))
	if strings.HasSuffix(src, "/") {
		base, top = filepath.Clean(src), "."
	}
	tw := tar.NewWriter(os.Stdout)
	err := filepath.Walk(filepath.Join(base, top), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = rel
		if fi.IsDir() && rel != "." {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tar-out: %v\n", err)
		return 1
	}
	return 0
}

func extract(r io.Reader, dest string) error {
	if err := os.MkdirAll(dest, 0755); err != nil {
		return err
	}
	root := os.Geteuid() == 0
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dest, filepath.Clean("/"+h.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0755); err != nil {
			return err
		}
		mode := os.FileMode(h.Mode & 0777)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, mode|0700); err != nil {
				return err
			}
			os.Chmod(p, mode)
		case tar.TypeReg, tar.TypeRegA:
			os.Remove(p)
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return err
			}
			os.Chmod(p, mode)
		case tar.TypeSymlink:
			os.Remove(p)
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		case tar.TypeLink:
			os.Remove(p)
			if err := os.Link(filepath.Join(dest, filepath.Clean("/"+h.Linkname)), p); err != nil {
				return err
			}
		default:
			continue
		}
		if root {
			os.Lchown(p, h.Uid, h.Gid)
		}
		if h.Typeflag != tar.TypeSymlink {
			os.Chtimes(p, h.ModTime, h.ModTime)
		}
	}
}
