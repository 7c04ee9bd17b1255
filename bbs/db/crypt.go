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
//	byte 0        format: FormatKeyBound (2)
//	byte 1        length L of the key label (1..255)
//	bytes 2..2+L  the label of the key the record is encrypted under
//	12 bytes      AES-GCM nonce (random)
//	rest          AES-GCM ciphertext + tag of the protobuf encoding of the record
//
// The additional authenticated data is the header (format, length, label) followed by the
// record's etcd key, so a record cannot be moved under another label or to another key (a value
// copied, or rolled back, to another record's key fails to open).
//
// Format 1 (FormatUnbound) has the same layout with only the label as additional data. Schema
// migration 1 -> 2 re-seals every such record as format 2; afterwards format 1 is refused.
const (
	FormatUnbound  byte = 1
	FormatKeyBound byte = 2
)

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

// Seal encrypts the plaintext of the record stored at key into an envelope under the active key.
func (k *Keyring) Seal(key string, plaintext []byte) []byte {
	aead := k.aeads[k.active]
	ns := aead.NonceSize()
	hl := 2 + len(k.active)
	out := make([]byte, hl+ns, hl+ns+len(plaintext)+aead.Overhead())
	out[0] = FormatKeyBound
	out[1] = byte(len(k.active))
	copy(out[2:], k.active)
	nonce := out[hl:]
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return aead.Seal(out, nonce, plaintext, boundData(out[:hl], key))
}

func boundData(header []byte, key string) []byte {
	ad := make([]byte, 0, len(header)+len(key))
	return append(append(ad, header...), key...)
}

// Open decrypts the envelope stored at key and returns the plaintext and the label it was under.
func (k *Keyring) Open(key string, envelope []byte) ([]byte, string, error) {
	if len(envelope) > 0 && envelope[0] == FormatUnbound {
		return nil, "", models.NewError(models.Error_FailedToOpenEnvelope, "record %s is sealed without its key (envelope format 1): the schema migration re-seals it", key)
	}
	return k.open(key, envelope, FormatKeyBound)
}

// openUnbound opens a format 1 envelope, and nothing else. Only migration 1 -> 2 may use it: such
// an envelope says nothing about the key it was sealed for, so anything else re-sealing what it
// opens would bind a value moved from another record to the key it was moved to.
func (k *Keyring) openUnbound(key string, envelope []byte) ([]byte, string, error) {
	return k.open(key, envelope, FormatUnbound)
}

// open opens an envelope of the given format stored at key.
func (k *Keyring) open(key string, envelope []byte, format byte) ([]byte, string, error) {
	if len(envelope) < 2 {
		return nil, "", models.NewError(models.Error_FailedToOpenEnvelope, "record %s: envelope too short", key)
	}
	if envelope[0] != format {
		return nil, "", models.NewError(models.Error_FailedToOpenEnvelope, "record %s: envelope format %d, expected %d", key, envelope[0], format)
	}
	hl := 2 + int(envelope[1])
	if len(envelope) < hl {
		return nil, "", models.NewError(models.Error_FailedToOpenEnvelope, "record %s: envelope too short", key)
	}
	label := string(envelope[2:hl])
	aead, ok := k.aeads[label]
	if !ok {
		return nil, label, models.NewError(models.Error_FailedToOpenEnvelope, "record %s is encrypted under unknown key %q", key, label)
	}
	rest := envelope[hl:]
	if len(rest) < aead.NonceSize() {
		return nil, label, models.NewError(models.Error_FailedToOpenEnvelope, "record %s: envelope too short", key)
	}
	ad := []byte(label)
	if format == FormatKeyBound {
		ad = boundData(envelope[:hl], key)
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], ad)
	if err != nil {
		return nil, label, models.NewError(models.Error_FailedToOpenEnvelope, "cannot open record %s under key %q (wrong key, or sealed for another record): %v", key, label, err)
	}
	return plain, label, nil
}

// Label returns the key label of an envelope without decrypting it.
func Label(envelope []byte) (string, bool) {
	if len(envelope) < 2 || len(envelope) < 2+int(envelope[1]) {
		return "", false
	}
	return string(envelope[2 : 2+int(envelope[1])]), true
}

func (k *Keyring) encode(key string, m proto.Message) ([]byte, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, models.NewError(models.Error_InvalidRecord, "cannot encode record: %v", err)
	}
	return k.Seal(key, b), nil
}

func (k *Keyring) decode(key string, envelope []byte, m proto.Message) error {
	plain, _, err := k.Open(key, envelope)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(plain, m); err != nil {
		return models.NewError(models.Error_Deserialize, "cannot decode record: %v", err)
	}
	return nil
}
