package redis

import (
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// testCert is a self-signed certificate for 127.0.0.1 and localhost,
// which is also its own CA.
type testCert struct {
	CertPEM, KeyPEM []byte
}

func newTestCert(t testing.TB) *testCert {
	t.Helper()
	c, k := testkit.SelfSignedCert(t, "egress redis test")
	return &testCert{CertPEM: c, KeyPEM: k}
}
