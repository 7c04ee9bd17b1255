package proxy

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// gorouter's route service headers.
const (
	headerSignature    = "X-Cf-Proxy-Signature"
	headerMetadata     = "X-Cf-Proxy-Metadata"
	headerForwardedURL = "X-Cf-Forwarded-Url"
)

var errExpired = errors.New("route service request expired")

// signer makes and checks gorouter's route service signatures: the JSON of the forwarded URL
// and the time, sealed with AES-GCM under a key derived from the route services secret, so a
// request that comes back from the route service proves that the router sent it there.
type signer struct {
	aead    cipher.AEAD
	timeout time.Duration
}

// signatureContents and signatureMetadata are gorouter's JSON.
type signatureContents struct {
	ForwardedURL  string    `json:"forwarded_url"`
	RequestedTime time.Time `json:"requested_time"`
}

type signatureMetadata struct {
	Nonce []byte `json:"nonce"`
}

func newSigner(secret string, timeout time.Duration) *signer {
	var key []byte
	if secret == "" {
		key = make([]byte, 16)
		rand.Read(key)
	} else {
		// gorouter's derivation: PBKDF2-SHA256, no salt, 100001 rounds, a 16-byte key.
		var err error
		if key, err = pbkdf2.Key(sha256.New, secret, nil, 100001, 16); err != nil {
			panic(fmt.Sprintf("proxy: route service key: %v", err))
		}
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(fmt.Sprintf("proxy: route service key: %v", err))
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(fmt.Sprintf("proxy: route service key: %v", err))
	}
	return &signer{aead: aead, timeout: timeout}
}

// sign is the X-CF-Proxy-Signature and X-CF-Proxy-Metadata for a request to be sent back to
// forwardedURL.
func (s *signer) sign(forwardedURL string, now time.Time) (signature, metadata string, err error) {
	plain, err := json.Marshal(signatureContents{ForwardedURL: forwardedURL, RequestedTime: now})
	if err != nil {
		return "", "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", "", err
	}
	meta, err := json.Marshal(signatureMetadata{Nonce: nonce})
	if err != nil {
		return "", "", err
	}
	return base64.URLEncoding.EncodeToString(s.aead.Seal(nil, nonce, plain, nil)),
		base64.URLEncoding.EncodeToString(meta), nil
}

// validate checks a signature that came back from a route service: sealed by this key,
// younger than the timeout, and for a URL that matches (checked by matches).
func (s *signer) validate(signature, metadata string, matches func(forwarded *url.URL) error) error {
	if metadata == "" {
		return errors.New("No metadata found")
	}
	rawMeta, err := base64.URLEncoding.DecodeString(metadata)
	if err != nil {
		return err
	}
	var meta signatureMetadata
	if err := json.Unmarshal(rawMeta, &meta); err != nil {
		return err
	}
	sealed, err := base64.URLEncoding.DecodeString(signature)
	if err != nil {
		return err
	}
	if len(meta.Nonce) != s.aead.NonceSize() {
		return errors.New("incorrect nonce length")
	}
	plain, err := s.aead.Open(nil, meta.Nonce, sealed, nil)
	if err != nil {
		return err
	}
	var contents signatureContents
	if err := json.Unmarshal(plain, &contents); err != nil {
		return err
	}
	if time.Since(contents.RequestedTime) > s.timeout {
		return errExpired
	}
	forwarded, err := url.ParseRequestURI(contents.ForwardedURL)
	if err != nil {
		return err
	}
	return matches(forwarded)
}
