package tlsconn

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/youmark/pkcs8"
)

const keyPassword = "correct horse battery staple"

// encryptedKeys returns the test client key encrypted in each supported
// way, with keyPassword.
func encryptedKeys(t *testing.T) map[string][]byte {
	t.Helper()
	p := pki()
	keys := map[string][]byte{}

	der, err := pkcs8.MarshalPrivateKey(p.clientKey, []byte(keyPassword), nil) // PBES2, PBKDF2-SHA256, AES-256-CBC
	if err != nil {
		t.Fatal(err)
	}
	keys["pkcs8 pbkdf2"] = pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})

	ec, err := x509.MarshalECPrivateKey(p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 legacy PEM encryption is what is being tested
	blk, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", ec, []byte(keyPassword), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	keys["legacy pem"] = pem.EncodeToMemory(blk)

	// Keys written by openssl itself, when it is installed: the format
	// people actually have on disk.
	if path, err := exec.LookPath("openssl"); err == nil {
		dir := t.TempDir()
		plain := writeFile(t, dir, "plain.pem", p.clientKeyPEM)
		for name, args := range map[string][]string{
			"openssl pbkdf2": {"-v2", "aes-256-cbc"},
			"openssl scrypt": {"-scrypt"},
		} {
			out := filepath.Join(dir, "enc.pem")
			cmd := exec.Command(path, append([]string{"pkcs8", "-topk8", "-in", plain, "-out", out, "-passout", "pass:" + keyPassword}, args...)...)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Logf("openssl %s: %v: %s", name, err, b)
				continue
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			keys[name] = data
		}
	} else {
		t.Log("openssl not installed: keys encrypted by openssl not tested")
	}
	return keys
}

func TestEncryptedKeys(t *testing.T) {
	p := pki()
	for name, keyPEM := range encryptedKeys(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := X509KeyPair(p.clientCertPEM, keyPEM, keyPassword); err != nil {
				t.Fatalf("right password: %v", err)
			}
			_, err := X509KeyPair(p.clientCertPEM, keyPEM, "wrong password")
			mustIs(t, err, ErrKeyPassword)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.What != "private key" {
				t.Fatalf("wrong password: %v (%T)", err, err)
			}
			_, err = X509KeyPair(p.clientCertPEM, keyPEM, "")
			mustIs(t, err, ErrKeyEncrypted)
			t.Log(err)
		})
	}
}

// TestKeyErrors: bad input of every kind gives a typed error, not a panic.
func TestKeyErrors(t *testing.T) {
	p := pki()
	_, otherKey, _, _ := p.ca.issue(leafOpts{cn: "other", client: true})
	badIV := malformedPKCS8(t, make([]byte, 3), make([]byte, 32))
	badLen := malformedPKCS8(t, make([]byte, 16), make([]byte, 33))
	for _, c := range []struct {
		name      string
		cert, key []byte
		password  string
		want      error
	}{
		{"no key PEM", p.clientCertPEM, []byte("garbage"), "", ErrNoPEM},
		{"no cert PEM", []byte("garbage"), p.clientKeyPEM, "", ErrNoPEM},
		{"cert as key", p.clientCertPEM, p.clientCertPEM, "", ErrNoPEM},
		{"key of another cert", p.clientCertPEM, otherKey, "", nil},
		{"junk key", p.clientCertPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), "", nil},
		{"junk encrypted key", p.clientCertPEM, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}}), "pw", nil},
		{"bad IV length", p.clientCertPEM, badIV, "pw", nil},
		{"ciphertext not whole blocks", p.clientCertPEM, badLen, "pw", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := X509KeyPair(c.cert, c.key, c.password)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T), want *ConfigError", err, err)
			}
			if c.want != nil {
				mustIs(t, err, c.want)
			}
			t.Log(err)
		})
	}
}

// malformedPKCS8 builds an EncryptedPrivateKeyInfo (PBES2, PBKDF2,
// AES-256-CBC) with the given IV and ciphertext, however wrong.
func malformedPKCS8(t *testing.T, iv, data []byte) []byte {
	t.Helper()
	type kdfParams struct {
		Salt       []byte
		Iterations int
	}
	type algo struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue
	}
	type pbes2 struct {
		KDF    algo
		Scheme algo
	}
	type info struct {
		Algo pkix.AlgorithmIdentifier
		Data []byte
	}
	raw := func(v any) asn1.RawValue {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return asn1.RawValue{FullBytes: b}
	}
	params := pbes2{
		KDF:    algo{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}, raw(kdfParams{Salt: []byte("saltsalt"), Iterations: 1})},
		Scheme: algo{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}, raw(iv)},
	}
	der, err := asn1.Marshal(info{Algo: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}, Parameters: raw(params)}, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
}

// TestConfigKeyErrors: NewClient reports key problems from files too.
func TestConfigKeyErrors(t *testing.T) {
	p := pki()
	dir := t.TempDir()
	keys := encryptedKeys(t)
	certFile := writeFile(t, dir, "cert.pem", p.clientCertPEM)
	keyFile := writeFile(t, dir, "key.pem", keys["pkcs8 pbkdf2"])

	if _, err := NewClient(&Config{CertFile: certFile, KeyFile: keyFile, KeyPassword: keyPassword}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cfg  Config
		want error
	}{
		{"wrong password", Config{CertFile: certFile, KeyFile: keyFile, KeyPassword: "nope"}, ErrKeyPassword},
		{"no password", Config{CertFile: certFile, KeyFile: keyFile}, ErrKeyEncrypted},
		{"missing key file", Config{CertFile: certFile, KeyFile: dir + "/none.pem"}, os.ErrNotExist},
		{"cert without key", Config{CertPEM: p.clientCertPEM}, nil},
		{"key twice", Config{CertPEM: p.clientCertPEM, KeyPEM: p.clientKeyPEM, KeyFile: keyFile}, nil},
		{"RequireALPN without protocols", Config{RequireALPN: true}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewClient(&c.cfg)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T), want *ConfigError", err, err)
			}
			if c.want != nil {
				mustIs(t, err, c.want)
			}
			t.Log(err)
		})
	}
}
