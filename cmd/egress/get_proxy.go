package main

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
)

// proxies picks the proxy of each request, as curl does: -x/--proxy for
// every URL, or else the environment by scheme (http_proxy, https_proxy,
// then all_proxy; lower case first, upper case too), except for hosts in
// --noproxy or no_proxy/NO_PROXY. A proxy from the environment is not
// used for loopback hosts, which a proxy elsewhere could not reach (as in
// Go's net/http); -x is used for every host the no-proxy list lets
// through.
type proxies struct {
	explicit    *url.URL // -x
	http, https *url.URL // from the environment
	httpVar     string   // the variable each came from, for -v
	httpsVar    string
	noProxy     []string // host names and domains, lower case
	noProxyNets []netip.Prefix
	noProxyAll  bool
}

// newProxies reads -x, --noproxy and the environment. A bad proxy URL is
// a usage error naming where it came from.
func newProxies(flag string, noProxy *string) (*proxies, error) {
	p := &proxies{}
	var err error
	if flag != "" {
		if p.explicit, err = parseProxy("-x/--proxy", flag); err != nil {
			return nil, err
		}
	} else {
		for _, v := range []struct {
			dst  **url.URL
			name *string
			vars []string
		}{
			{&p.http, &p.httpVar, []string{"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"}},
			{&p.https, &p.httpsVar, []string{"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}},
		} {
			for _, name := range v.vars {
				if val := os.Getenv(name); val != "" {
					if *v.dst, err = parseProxy(name, val); err != nil {
						return nil, err
					}
					*v.name = name
					break
				}
			}
		}
	}
	list := os.Getenv("no_proxy")
	if list == "" {
		list = os.Getenv("NO_PROXY")
	}
	if noProxy != nil {
		list = *noProxy
	}
	p.parseNoProxy(list)
	return p, nil
}

// parseProxy accepts host:port (http:// is implied, as in curl) or an
// http:// URL with optional user:password; the transport has no other
// kind of proxy.
func parseProxy(from, raw string) (*url.URL, error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, usagef("get: %s: bad proxy %q: %v", from, raw, errorsTail(err))
	}
	if u.Scheme != "http" {
		return nil, usagef("get: %s: proxy scheme %q is not supported (http:// only)", from, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, usagef("get: %s: bad proxy %q: no host", from, raw)
	}
	return u, nil
}

func (p *proxies) parseNoProxy(list string) {
	for _, e := range strings.Split(list, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		switch {
		case e == "":
			continue
		case e == "*":
			p.noProxyAll = true
			continue
		}
		if pf, err := netip.ParsePrefix(e); err == nil {
			p.noProxyNets = append(p.noProxyNets, pf.Masked())
			continue
		}
		if a, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil {
			p.noProxyNets = append(p.noProxyNets, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		e = strings.TrimPrefix(strings.TrimPrefix(e, "*"), ".")
		p.noProxy = append(p.noProxy, e)
	}
}

// bypass reports whether host goes direct by the no-proxy list: a name
// matches itself and its subdomains, an address its prefix.
func (p *proxies) bypass(host string) bool {
	if p.noProxyAll {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if a, err := netip.ParseAddr(host); err == nil {
		for _, pf := range p.noProxyNets {
			if pf.Contains(a.Unmap()) || pf.Contains(a) {
				return true
			}
		}
		return false
	}
	for _, d := range p.noProxy {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// forURL returns the proxy for u, or nil to go direct, and what set it.
func (p *proxies) forURL(u *url.URL) (*url.URL, string) {
	host := u.Hostname()
	if p.bypass(host) {
		return nil, ""
	}
	if p.explicit != nil {
		return p.explicit, "-x"
	}
	if isLoopback(host) {
		return nil, ""
	}
	if u.Scheme == "https" {
		return p.https, p.httpsVar
	}
	return p.http, p.httpVar
}

// proxyFunc is the transport's Options.Proxy.
func (p *proxies) proxyFunc(req *http.Request) (*url.URL, error) {
	pu, _ := p.forURL(req.URL)
	return pu, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
