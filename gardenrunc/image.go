package gardenrunc

import (
	"errors"
	"log/slog"
)

// ImageInfo is a resolved rootfs: overlay lower directories (top-most first) and the image's
// process defaults.
type ImageInfo struct {
	Lowers  []string
	Env     []string
	User    string
	WorkDir string
}

// ImageStore pulls OCI/Docker images and caches their unpacked layers by digest.
type ImageStore struct {
	dir      string
	insecure []string
	log      *slog.Logger
}

func NewImageStore(dir string, insecure []string, log *slog.Logger) *ImageStore {
	return &ImageStore{dir: dir, insecure: insecure, log: log}
}

func (s *ImageStore) Pull(uri, username, password string) (*ImageInfo, error) {
	return nil, errors.New("docker images are not supported yet")
}
