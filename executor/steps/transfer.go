package steps

import (
	"archive/tar"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"code.cloudfoundry.org/garden"

	"github.com/diego-go/diego/executor/cache"
	"github.com/diego-go/diego/models"
)

// maxEmittedError is how much of a download error goes to the log (as upstream).
const maxEmittedError = 1024

// stepError is a failure in upstream's words that still wraps its causes (for errors.Is).
type stepError struct {
	msg    string
	causes []error
}

func (e *stepError) Error() string   { return e.msg }
func (e *stepError) Unwrap() []error { return e.causes }

// downloadStep fetches an artifact through the cache and streams it into the container.
type downloadStep struct {
	container garden.Container
	fetcher   Fetcher
	action    *models.DownloadAction
	logs      logs
}

func (s *downloadStep) run(ctx context.Context, ready func()) error {
	ready()
	done := make(chan error, 1)
	go func() { done <- s.perform(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return cancelled()
	}
}

func (s *downloadStep) perform(ctx context.Context) error {
	a := s.action
	s.emit("Downloading %s...", a.Artifact)
	if _, err := url.ParseRequestURI(a.From); err != nil {
		return s.fail("Downloading failed", err)
	}
	stream, err := s.fetcher.Fetch(ctx, a.From, a.CacheKey, cache.Checksum{Algorithm: a.ChecksumAlgorithm, Value: a.ChecksumValue})
	if err != nil {
		return s.fail("Downloading failed", err)
	}
	defer stream.Close()
	counted := &countingReader{r: stream}
	if err := s.container.StreamIn(garden.StreamInSpec{Path: a.To, User: a.User, TarStream: counted}); err != nil {
		return s.fail(fmt.Sprintf("Copying into the container failed: %v", err), err)
	}
	s.emit("Downloaded %s (%s)", a.Artifact, byteSize(counted.n))
	return nil
}

// fail logs and returns upstream's message; what failed is named with the artifact when it has one.
func (s *downloadStep) fail(msg string, cause error) error {
	if a := s.action.Artifact; a != "" {
		switch msg {
		case "Downloading failed":
			msg = fmt.Sprintf("Downloading %s failed", a)
		default:
			msg = fmt.Sprintf("Copying %s into the container failed: %v", a, cause)
		}
	}
	line := msg
	if len(line) > maxEmittedError {
		const suffix = " (error truncated)"
		line = line[:maxEmittedError-len(suffix)] + suffix
	}
	s.logs.line(s.logs.stderr(), "%s", line)
	return &stepError{msg: msg, causes: []error{ErrDownloadFailed, cause}}
}

// emit logs progress only for a named artifact (as upstream).
func (s *downloadStep) emit(format string, args ...any) {
	if s.action.Artifact != "" {
		s.logs.line(s.logs.stdout(), format, args...)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// uploadAttempts is how often an upload is tried before it fails (as upstream).
const uploadAttempts = 3

// uploadStep streams a file out of the container and POSTs it to a URL.
type uploadStep struct {
	container garden.Container
	client    *http.Client
	action    *models.UploadAction
	logs      logs
}

func (s *uploadStep) run(ctx context.Context, ready func()) error {
	ready()
	a := s.action
	s.emit("Uploading %s...", a.Artifact)
	to, err := url.ParseRequestURI(a.To)
	if err != nil {
		// The URL may hold credentials: it is neither logged nor returned.
		s.emitError("Failed to parse URL")
		return errors.New("Failed to parse URL")
	}
	file, err := os.CreateTemp("", "upload")
	if err != nil {
		return s.fail("Failed to create temp file", err)
	}
	defer os.Remove(file.Name())
	defer file.Close()
	out, err := s.container.StreamOut(garden.StreamOutSpec{Path: a.From, User: a.User})
	if err != nil {
		return s.fail("Failed to establish stream from container", err)
	}
	defer out.Close()
	tr := tar.NewReader(out)
	if _, err := tr.Next(); err != nil {
		return s.fail("Failed to find first item in tar stream", err)
	}
	sumMD5, sum256 := md5.New(), sha256.New()
	size, err := io.Copy(io.MultiWriter(file, sumMD5, sum256), tr)
	if err != nil {
		return s.fail("Failed to copy stream contents into temp file", err)
	}
	headers := http.Header{}
	headers.Set("Content-Type", "application/octet-stream")
	headers.Set("Content-MD5", base64.StdEncoding.EncodeToString(sumMD5.Sum(nil)))
	headers.Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum256.Sum(nil))+":")
	for attempt := 0; attempt < uploadAttempts; attempt++ {
		if err = s.post(ctx, to, file, size, headers); err == nil || ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		return cancelled()
	}
	if err != nil {
		s.emitError("Failed to upload payload")
		return err
	}
	s.emit("Uploaded %s (%s)", a.Artifact, byteSize(size))
	return nil
}

func (s *uploadStep) post(ctx context.Context, to *url.URL, file *os.File, size int64, headers http.Header) error {
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to.String(), io.NopCloser(file))
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header = headers.Clone()
	client := s.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode >= 400 {
		return fmt.Errorf("Upload failed: Status code %d", resp.StatusCode)
	}
	return nil
}

func (s *uploadStep) fail(what string, cause error) error {
	msg := what
	if s.action.Artifact != "" {
		msg = fmt.Sprintf("%s for %s", what, s.action.Artifact)
	}
	s.emitError(what)
	return &stepError{msg: msg, causes: []error{cause}}
}

func (s *uploadStep) emit(format string, args ...any) {
	if s.action.Artifact != "" {
		s.logs.line(s.logs.stdout(), format, args...)
	}
}

func (s *uploadStep) emitError(what string) {
	if s.action.Artifact != "" {
		s.logs.line(s.logs.stderr(), "%s for %s", what, s.action.Artifact)
	}
}

// byteSize writes a size as upstream's logs do: 512B, 1.5K, 12M, 1G.
func byteSize(n int64) string {
	units := []string{"B", "K", "M", "G", "T"}
	v := float64(n)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0") + units[i]
}
