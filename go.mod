module github.com/egress-go/egress

go 1.26.8

require github.com/youmark/pkcs8 v0.0.0-20240726163527-a2c0da244d78

require (
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
