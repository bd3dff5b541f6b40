package tlsconn

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/youmark/pkcs8"
)

// X509KeyPair is tls.X509KeyPair for a private key that may be encrypted
// (see Config.KeyPEM); password may be empty for a plain key. Errors wrap
// ErrNoPEM, ErrKeyEncrypted, ErrKeyPassword or the parse error.
func X509KeyPair(certPEM, keyPEM []byte, password string) (tls.Certificate, error) {
	return keyPair(certPEM, "PEM bytes", keyPEM, "PEM bytes", password)
}

// loadKeyPair builds the client certificate of cfg from bytes or files.
func loadKeyPair(cfg *Config) (tls.Certificate, error) {
	certPEM, certSrc, err := pemInput("certificate", cfg.CertPEM, cfg.CertFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, keySrc, err := pemInput("private key", cfg.KeyPEM, cfg.KeyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	defer clear(keyPEM) // the key file may be the only copy of a plain key
	return keyPair(certPEM, certSrc, keyPEM, keySrc, cfg.KeyPassword)
}

// pemInput picks bytes given inline or read from file, saying which.
func pemInput(what string, inline []byte, file string) ([]byte, string, error) {
	switch {
	case len(inline) > 0 && file != "":
		return nil, "", &ConfigError{What: what, Source: "Config", Err: errors.New("both PEM bytes and a file given")}
	case len(inline) > 0:
		return append([]byte(nil), inline...), "PEM bytes", nil
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, "", &ConfigError{What: what, Source: file, Err: err}
		}
		return data, file, nil
	}
	return nil, "", &ConfigError{What: what, Source: "Config", Err: errors.New("missing (a client certificate needs both certificate and key)")}
}

func keyPair(certPEM []byte, certSrc string, keyPEM []byte, keySrc, password string) (tls.Certificate, error) {
	if !hasPEM(certPEM, "CERTIFICATE") {
		return tls.Certificate{}, &ConfigError{What: "certificate", Source: certSrc, Err: ErrNoPEM}
	}
	key, err := parseKeyPEM(keyPEM, password)
	if err != nil {
		return tls.Certificate{}, &ConfigError{What: "private key", Source: keySrc, Err: err}
	}
	// Hand the decrypted key to tls.X509KeyPair, which parses the chain
	// and checks that the key belongs to the leaf.
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, &ConfigError{What: "private key", Source: keySrc, Err: err}
	}
	plain := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	cert, err := tls.X509KeyPair(certPEM, plain)
	clear(plain)
	if err != nil {
		src := certSrc
		if keySrc != certSrc {
			src += " and " + keySrc
		}
		return tls.Certificate{}, &ConfigError{What: "certificate and key", Source: src, Err: err}
	}
	return cert, nil
}

// parseKeyPEM finds the first private key block in data and parses it,
// decrypting it with password if it is encrypted. Malformed input of any
// kind gives an error, never a panic.
func parseKeyPEM(data []byte, password string) (key crypto.PrivateKey, err error) {
	defer func() {
		// The PKCS#8 decryption library trusts lengths in its input (a
		// bad IV length panics in crypto/cipher); a key file is
		// configuration, but still must not crash the program.
		if r := recover(); r != nil {
			key, err = nil, fmt.Errorf("malformed encrypted private key (%v)", r)
		}
	}()
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, ErrNoPEM
		}
		switch {
		case b.Type == "ENCRYPTED PRIVATE KEY":
			return decryptPKCS8(b.Bytes, password)
		case !strings.HasSuffix(b.Type, "PRIVATE KEY"):
			continue // EC PARAMETERS, a certificate, ...
		case x509.IsEncryptedPEMBlock(b): //nolint:staticcheck // reading legacy files is the point
			return decryptLegacy(b, password)
		}
		return parseDERKey(b.Bytes)
	}
}

// decryptPKCS8 decrypts an RFC 5958 EncryptedPrivateKeyInfo. The standard
// library has no PBES2; github.com/youmark/pkcs8 provides it.
func decryptPKCS8(der []byte, password string) (crypto.PrivateKey, error) {
	if password == "" {
		return nil, ErrKeyEncrypted
	}
	key, err := pkcs8.ParsePKCS8PrivateKey(der, []byte(password))
	if err != nil {
		// The library reports a key that does not parse after decryption,
		// the sign of a wrong password, with this text and no sentinel.
		if err.Error() == "pkcs8: incorrect password" {
			return nil, ErrKeyPassword
		}
		return nil, fmt.Errorf("encrypted PKCS#8 key: %w", err)
	}
	return key, nil
}

// decryptLegacy decrypts an RFC 1423 ("Proc-Type: 4,ENCRYPTED") block.
// That format has no integrity check, so a wrong password shows either as
// bad padding or as garbage that does not parse: both are reported as
// ErrKeyPassword.
func decryptLegacy(b *pem.Block, password string) (crypto.PrivateKey, error) {
	if password == "" {
		return nil, ErrKeyEncrypted
	}
	der, err := x509.DecryptPEMBlock(b, []byte(password)) //nolint:staticcheck // see above
	if errors.Is(err, x509.IncorrectPasswordError) {
		return nil, ErrKeyPassword
	}
	if err != nil {
		return nil, err
	}
	defer clear(der)
	key, err := parseDERKey(der)
	if err != nil {
		return nil, ErrKeyPassword
	}
	return key, nil
}

// parseDERKey parses an unencrypted key in any of the usual encodings.
func parseDERKey(der []byte) (crypto.PrivateKey, error) {
	if key, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return key, nil
	}
	if key, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return key, nil
	}
	if key, err := x509.ParseECPrivateKey(der); err == nil {
		return key, nil
	}
	return nil, errors.New("not a PKCS#8, PKCS#1 or EC private key")
}

// addRoots adds every certificate in data to pool.
func addRoots(pool *x509.CertPool, data []byte, source string) error {
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return &ConfigError{What: "root CAs", Source: source, Err: fmt.Errorf("certificate %d: %w", n+1, err)}
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return &ConfigError{What: "root CAs", Source: source, Err: ErrNoPEM}
	}
	return nil
}

func hasPEM(data []byte, typ string) bool {
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return false
		}
		if b.Type == typ {
			return true
		}
	}
}
