package gardenrunc_test

import (
	"archive/tar"
	"io"
)

type tarWriter struct{ tw *tar.Writer }

func newTarWriter(w io.Writer) *tarWriter { return &tarWriter{tw: tar.NewWriter(w)} }

func (t *tarWriter) add(name, content string) {
	t.tw.WriteHeader(&tar.Header{Name: name, Mode: 0644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	t.tw.Write([]byte(content))
}

func (t *tarWriter) close() { t.tw.Close() }

// readTar returns the regular files of a tar stream.
func readTar(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				return out, err
			}
			out[h.Name] = string(b)
		}
	}
}

func tarSymlink(name, target string) *tar.Header {
	return &tar.Header{Name: name, Linkname: target, Typeflag: tar.TypeSymlink, Mode: 0777}
}
