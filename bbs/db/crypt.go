package db

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/models"
)

// Envelope format of every record value stored in etcd:
//
//	byte 0        format: FormatEncryptedProtobuf (1)
//	byte 1        length L of the key label (1..255)
//	bytes 2..2+L  the label of the key the record is encrypted under
//	12 bytes      AES-GCM nonce (random)
//	rest          AES-GCM ciphertext + tag of the protobuf encoding of the record
//
// The label is the additional authenticated data, so a record cannot be moved under another label.
const FormatEncryptedProtobuf byte = 1

// Keyring holds the named encryption keys; records are written under the active one and read under
// whichever one their envelope names.
type Keyring struct {
	active string
	aeads  map[string]cipher.AEAD
}

// NewKeyring builds a keyring from label -> passphrase; each AES-256 key is the SHA-256 of its
// passphrase. active must be one of the labels.
func NewKeyring(keys map[string]string, active string) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no encryption keys")
	}
	k := &Keyring{active: active, aeads: map[string]cipher.AEAD{}}
	for label, phrase := range keys {
		if label == "" || len(label) > 255 {
			return nil, fmt.Errorf("encryption key label %q must be 1..255 bytes", label)
		}
		if phrase == "" {
			return nil, fmt.Errorf("encryption key %q has an empty passphrase", label)
		}
		sum := sha256.Sum256([]byte(phrase))
		block, err := aes.NewCipher(sum[:])
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k.aeads[label] = aead
	}
	if _, ok := k.aeads[active]; !ok {
		return nil, fmt.Errorf("active key label %q is not among the encryption keys", active)
	}
	return k, nil
}

// ActiveLabel is the label new records are written under.
func (k *Keyring) ActiveLabel() string { return k.active }

// Labels lists the configured labels, sorted.
func (k *Keyring) Labels() []string {
	out := make([]string, 0, len(k.aeads))
	for l := range k.aeads {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Seal encrypts plaintext into an envelope under the active key.
func (k *Keyring) Seal(plaintext []byte) []byte {
	aead := k.aeads[k.active]
	ns := aead.NonceSize()
	out := make([]byte, 2+len(k.active)+ns, 2+len(k.active)+ns+len(plaintext)+aead.Overhead())
	out[0] = FormatEncryptedProtobuf
	out[1] = byte(len(k.active))
	copy(out[2:], k.active)
	nonce := out[2+len(k.active):]
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return aead.Seal(out, nonce, plaintext, []byte(k.active))
}

// Open decrypts an envelope and returns the plaintext and the label it was under.
func (k *Keyring) Open(envelope []byte) ([]byte, string, error) {
	if len(envelope) < 2 {
		return nil, "", models.NewError(models.Error_FailedToOpenEnvelope, "envelope too short")
	}
	if envelope[0] != FormatEncryptedProtobuf {
		return nil, "", models.NewError(models.Error_FailedToOpenEnvelope, "unknown envelope format %d", envelope[0])
	}
	l := int(envelope[1])
	if len(envelope) < 2+l {
		return nil, "", models.NewError(models.Error_FailedToOpenEnvelope, "envelope too short")
	}
	label := string(envelope[2 : 2+l])
	aead, ok := k.aeads[label]
	if !ok {
		return nil, label, models.NewError(models.Error_FailedToOpenEnvelope, "record is encrypted under unknown key %q", label)
	}
	rest := envelope[2+l:]
	if len(rest) < aead.NonceSize() {
		return nil, label, models.NewError(models.Error_FailedToOpenEnvelope, "envelope too short")
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], []byte(label))
	if err != nil {
		return nil, label, models.NewError(models.Error_FailedToOpenEnvelope, "cannot decrypt record under key %q: %v", label, err)
	}
	return plain, label, nil
}

// Label returns the key label of an envelope without decrypting it.
func Label(envelope []byte) (string, bool) {
	if len(envelope) < 2 || envelope[0] != FormatEncryptedProtobuf || len(envelope) < 2+int(envelope[1]) {
		return "", false
	}
	return string(envelope[2 : 2+int(envelope[1])]), true
}

func (k *Keyring) encode(m proto.Message) ([]byte, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, models.NewError(models.Error_InvalidRecord, "cannot encode record: %v", err)
	}
	return k.Seal(b), nil
}

func (k *Keyring) decode(envelope []byte, m proto.Message) error {
	plain, _, err := k.Open(envelope)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(plain, m); err != nil {
		return models.NewError(models.Error_Deserialize, "cannot decode record: %v", err)
	}
	return nil
}
