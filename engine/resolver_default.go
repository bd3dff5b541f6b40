package engine

import (
	"context"
	"net"
	"net/netip"
)

// defaultResolver is a stop-gap until the resolver package lands.
type defaultResolver struct{}

func newDefaultResolver() *defaultResolver { return &defaultResolver{} }

func (defaultResolver) LookupAsync(ctx context.Context, network, host string, cb func([]netip.Addr, error)) {
	go func() { cb(net.DefaultResolver.LookupNetIP(ctx, network, host)) }()
}

func (defaultResolver) Close() {}
