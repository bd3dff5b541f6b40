package http2

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/egress-go/egress/internal/bufpool"
	"golang.org/x/net/http2/hpack"
)

// HeaderField is a field of a request, a response or a trailer section:
// a name and a value. Names received are lowercase, as HTTP/2 requires.
type HeaderField struct {
	Name, Value string
}

// Request is what OpenStream encodes into a HEADERS frame: the request's
// pseudo-header fields and its header fields.
type Request struct {
	// Method is the request method; empty means GET.
	Method string
	// Scheme is :scheme, "https" or "http". Not sent for CONNECT.
	Scheme string
	// Authority is :authority, host[:port]. When empty, a Host field (in
	// Fields or Header) supplies it; a Host field is never sent as such.
	Authority string
	// Path is :path: an absolute path with an optional query, or "*" for
	// OPTIONS. Not sent for CONNECT.
	Path string

	// Fields and Header are the header fields, Fields first. Names may be
	// in any case; they are sent lowercase. Connection-specific fields
	// (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding,
	// Upgrade) are dropped, as HTTP/2 forbids them, and so is TE unless it
	// is "trailers". Content-Length is dropped in favour of
	// ContentLength.
	Fields []HeaderField
	Header http.Header

	// ContentLength is the request body's length if positive, sent as
	// content-length. Zero sends "content-length: 0" for POST, PUT and
	// PATCH (whose servers may expect one) and nothing for other methods;
	// -1 means unknown, and sends nothing.
	ContentLength int64
}

// ResponseHead is a response head (interim or final) or a trailer section
// as a StreamHandler receives it.
type ResponseHead struct {
	// Status is the :status code; 0 for a trailer section.
	Status int
	// Fields are the regular fields in the order received, with lowercase
	// names. The slice is reused after the handler returns; the strings
	// may be kept.
	Fields []HeaderField
	// ContentLength is the content-length field's value, or -1 without
	// one.
	ContentLength int64
}

// Get returns the value of the first field named name (compared without
// regard to case), or "".
func (h *ResponseHead) Get(name string) string {
	for i := range h.Fields {
		if strings.EqualFold(h.Fields[i].Name, name) {
			return h.Fields[i].Value
		}
	}
	return ""
}

// Header returns the fields as a new http.Header with canonical keys. It
// allocates; it is meant for the http.RoundTripper path.
func (h *ResponseHead) Header() http.Header {
	hd := make(http.Header, len(h.Fields))
	// One slab holds every field's value slice, instead of a slice
	// allocated per field; the three-index slices keep an append to one
	// key (a repeated field, or the caller's Add) off the next key's.
	vals := make([]string, len(h.Fields))
	for i, f := range h.Fields {
		k := textproto.CanonicalMIMEHeaderKey(f.Name)
		if vv, ok := hd[k]; ok {
			hd[k] = append(vv, f.Value)
			continue
		}
		vals[i] = f.Value
		hd[k] = vals[i : i+1 : i+1]
	}
	return hd
}

// Character classes of RFC 9110 §5.6.2 (token) and §5.5 (field value).
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validValue reports whether v may be a field value: no control byte but
// HTAB (which rules out the NUL, CR and LF RFC 9113 §8.2.1 names), no DEL.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChars[s[i]] {
			return false
		}
	}
	return true
}

// connectionSpecific reports whether a lowercase name is a field HTTP/2
// forbids (RFC 9113 §8.2.2). TE is handled by the caller: a request may
// carry "te: trailers".
func connectionSpecific(name string) bool {
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return true
	}
	return false
}

// fieldSize is a field's size as SETTINGS_MAX_HEADER_LIST_SIZE counts it.
func fieldSize(name, value string) int { return len(name) + len(value) + 32 }

// appendWriter is the io.Writer the HPACK encoder writes to: it appends to
// a pooled buffer.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = bufpool.Grow(w.b, len(p))
	w.b = append(w.b, p...)
	return len(p), nil
}

// maxLowerCache bounds the per-connection cache of lowercased names.
const maxLowerCache = 64

// requestEncoder encodes request heads and trailers with a connection's
// HPACK encoder.
type requestEncoder struct {
	enc *hpack.Encoder // nil after release, until the next header block
	w   appendWriter
	// lower caches the lowercase form of names that are neither lowercase
	// already nor common (textproto's canonical form of a custom field),
	// so that a client sending the same fields on every request lowercases
	// each once per connection.
	lower map[string]string
}

func (e *requestEncoder) init() {
	e.enc = hpack.NewEncoder(&e.w)
	e.lower = nil
}

// release drops the encoder, its dynamic table and the name cache; the
// next header block makes a new encoder (see ensure).
func (e *requestEncoder) release() {
	e.enc, e.lower = nil, nil
}

// setTableSize applies the server's SETTINGS_HEADER_TABLE_SIZE (up to
// the 4096 bytes we index at most).
func (e *requestEncoder) setTableSize(v uint32) {
	if e.enc != nil {
		e.enc.SetMaxDynamicTableSize(min(v, InitialHeaderTableSize))
	}
}

// ensure makes an encoder if release dropped it. The server's decoder
// still holds the entries the old encoder indexed, which the new one
// knows nothing of: the new one's first block says the table size is 0,
// which empties the server's table, and then the size the server allows
// (peerTable, its SETTINGS_HEADER_TABLE_SIZE), so that both tables start
// empty again.
func (e *requestEncoder) ensure(peerTable uint32) {
	if e.enc == nil {
		e.enc = hpack.NewEncoder(&e.w)
		e.enc.SetMaxDynamicTableSize(0)
		e.enc.SetMaxDynamicTableSize(min(peerTable, InitialHeaderTableSize))
	}
}

// lowerName returns name in lowercase, allocating only for a name neither
// lowercase, nor common, nor seen before on this connection.
func (e *requestEncoder) lowerName(name string) string {
	upper := false
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			upper = true
			break
		}
	}
	if !upper {
		return name
	}
	if l, ok := commonLower[name]; ok {
		return l
	}
	if l, ok := e.lower[name]; ok {
		return l
	}
	l := strings.ToLower(name)
	if len(e.lower) < maxLowerCache {
		if e.lower == nil {
			e.lower = make(map[string]string)
		}
		e.lower[name] = l
	}
	return l
}

// commonLower maps the canonical form of common request fields to their
// lowercase form.
var commonLower = func() map[string]string {
	m := make(map[string]string)
	for _, n := range []string{
		"accept", "accept-charset", "accept-encoding", "accept-language", "authorization",
		"cache-control", "content-encoding", "content-language", "content-length",
		"content-type", "cookie", "date", "etag", "expect", "forwarded", "from", "host",
		"if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
		"max-forwards", "origin", "pragma", "priority", "range", "referer", "te", "trailer",
		"user-agent", "via", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
		"x-request-id", "x-requested-with", "connection", "keep-alive", "proxy-connection",
		"transfer-encoding", "upgrade", "proxy-authorization", "grpc-timeout",
		"grpc-encoding", "grpc-accept-encoding", "x-api-key", "x-amz-date",
		"x-amz-content-sha256", "x-amz-security-token", "x-ms-version", "x-ms-date",
	} {
		m[textproto.CanonicalMIMEHeaderKey(n)] = n
	}
	return m
}()

// pseudoFields calls yield with the pseudo-header fields of r, in order,
// until yield returns false.
func pseudoFields(r *Request, yield func(name, value string) bool) {
	method := r.Method
	if method == "" {
		method = "GET"
	}
	if !yield(":method", method) {
		return
	}
	authority := r.Authority
	if authority == "" {
		authority = r.host()
	}
	if method == "CONNECT" {
		yield(":authority", authority)
		return
	}
	_ = yield(":scheme", r.Scheme) && (authority == "" || yield(":authority", authority)) && yield(":path", r.Path)
}

// regularFields calls yield with each regular field r encodes into,
// names lowercase, until yield returns false. It and pseudoFields run
// twice per request (to check and measure, then to encode), so that a
// request refused leaves the HPACK state untouched.
func (e *requestEncoder) regularFields(r *Request, yield func(name, value string) bool) {
	for _, f := range r.Fields {
		if !e.regularField(f.Name, f.Value, yield) {
			return
		}
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			if !e.regularField(k, v, yield) {
				return
			}
		}
	}
	switch {
	case r.ContentLength > 0:
		// The HPACK encoder keeps the strings it indexes, so the length
		// must be a string of its own; common small ones come from a
		// table.
		if r.ContentLength < int64(len(smallInts)) {
			yield("content-length", smallInts[r.ContentLength])
		} else {
			yield("content-length", strconv.FormatInt(r.ContentLength, 10))
		}
	case r.ContentLength == 0 && (r.Method == "POST" || r.Method == "PUT" || r.Method == "PATCH"):
		yield("content-length", "0")
	}
}

// smallInts holds the decimal strings of 0..1023, so that common
// content-lengths cost no allocation.
var smallInts = func() (s [1024]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

// host returns the value of the first Host field, or "".
func (r *Request) host() string {
	for _, f := range r.Fields {
		if strings.EqualFold(f.Name, "host") {
			return f.Value
		}
	}
	if vs := r.Header["Host"]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// regularField yields one field of the caller's, transformed as HTTP/2
// requires, or nothing if it is dropped. An invalid name or value is
// yielded as is, for the check to refuse.
func (e *requestEncoder) regularField(name, value string, yield func(name, value string) bool) bool {
	n := e.lowerName(name)
	switch {
	case connectionSpecific(n), n == "host", n == "content-length":
		return true
	case n == "te":
		if !strings.EqualFold(strings.TrimSpace(value), "trailers") {
			return true
		}
		return yield("te", "trailers")
	case n == "cookie":
		// RFC 9113 §8.2.3: crumbs compress better, each indexed on its
		// own.
		for {
			i := strings.Index(value, "; ")
			if i < 0 {
				return yield(n, value)
			}
			if !yield(n, value[:i]) {
				return false
			}
			value = value[i+2:]
		}
	}
	return yield(n, value)
}

// checkRequest validates r and measures its header list. It returns a
// *RequestError for a field that cannot be sent, or a list larger than
// maxList (0: no limit).
func (e *requestEncoder) checkRequest(r *Request, maxList uint32) error {
	var err error
	size := 0
	pseudoFields(r, func(name, value string) bool {
		size += fieldSize(name, value)
		err = checkPseudo(name, value)
		return err == nil
	})
	if err != nil {
		return err
	}
	e.regularFields(r, func(name, value string) bool {
		size += fieldSize(name, value)
		err = checkRegular(name, value)
		return err == nil
	})
	if err == nil && maxList > 0 && size > int(maxList) {
		err = &RequestError{Err: ErrHeaderListTooLarge, Value: strconv.Itoa(size) + " bytes, server's limit " + strconv.FormatUint(uint64(maxList), 10)}
	}
	return err
}

func checkPseudo(name, value string) error {
	ok := true
	switch name {
	case ":method":
		if !validToken(value) {
			return requestErr(ErrBadFieldValue, name, value)
		}
	case ":scheme":
		ok = validToken(value)
	case ":path":
		ok = value != "" && (value[0] == '/' || value == "*") && !strings.ContainsAny(value, " \t") && validValue(value)
	case ":authority":
		ok = value != "" && !strings.ContainsAny(value, " \t/") && validValue(value)
	}
	if !ok {
		return requestErr(ErrUnknownPseudo, name, value)
	}
	return nil
}

// checkRegular checks a regular field, its name already lowercased.
func checkRegular(name, value string) error {
	if !validToken(name) {
		return requestErr(ErrBadFieldName, name, value)
	}
	if !validValue(value) {
		return requestErr(ErrBadFieldValue, name, value)
	}
	return nil
}

// encodeRequest checks r and appends its header block to dst.
func (e *requestEncoder) encodeRequest(dst []byte, r *Request, maxList uint32) ([]byte, error) {
	if r.Method != "CONNECT" && r.Scheme == "" {
		return dst, requestErr(ErrUnknownPseudo, ":scheme", "")
	}
	if err := e.checkRequest(r, maxList); err != nil {
		return dst, err
	}
	e.w.b = dst
	write := func(name, value string) bool {
		e.enc.WriteField(hpack.HeaderField{Name: name, Value: value})
		return true
	}
	pseudoFields(r, write)
	e.regularFields(r, write)
	dst, e.w.b = e.w.b, nil
	return dst, nil
}

// encodeTrailers checks a trailer section and appends its header block
// to dst.
func (e *requestEncoder) encodeTrailers(dst []byte, fields []HeaderField, maxList uint32) ([]byte, error) {
	size := 0
	for _, f := range fields {
		n := e.lowerName(f.Name)
		if err := checkRegular(n, f.Value); err != nil {
			return dst, err
		}
		size += fieldSize(n, f.Value)
	}
	if maxList > 0 && size > int(maxList) {
		return dst, &RequestError{Err: ErrHeaderListTooLarge, Value: strconv.Itoa(size) + " bytes"}
	}
	e.w.b = dst
	for _, f := range fields {
		n := e.lowerName(f.Name)
		if connectionSpecific(n) || n == "te" {
			continue
		}
		e.enc.WriteField(hpack.HeaderField{Name: n, Value: f.Value})
	}
	dst, e.w.b = e.w.b, nil
	return dst, nil
}

// responseDecoder decodes the header blocks of a connection's responses
// with its HPACK decoder, checking each field as it is emitted.
type responseDecoder struct {
	dec *hpack.Decoder

	head     ResponseHead
	err      error
	seen     string
	size     int   // decoded list size so far
	limit    int32 // MaxHeaderListSize
	trailers bool  // decoding a trailer section
	regular  bool  // a regular field was seen
	status   bool  // :status was seen
}

func (d *responseDecoder) init(tableSize, maxList uint32) {
	d.limit = int32(min(maxList, 1<<30))
	// A new connection starts with an empty dynamic table: a new
	// decoder, as hpack has no way to empty one.
	d.dec = hpack.NewDecoder(tableSize, d.emit)
	// No single name or value can be larger than the list.
	d.dec.SetMaxStringLength(int(d.limit))
	d.head.Fields = d.head.Fields[:0]
}

// decode decodes a whole header block. A block HPACK cannot decode is a
// connection error (returned); a block that decodes but breaks a rule of
// RFC 9113 §8 sets rule (a sentinel) and seen (an excerpt), for the
// caller to reset the stream. The head is in d.head until the next call.
func (d *responseDecoder) decode(block []byte, trailers bool) (cerr error, rule error, seen string) {
	d.head = ResponseHead{Fields: d.head.Fields[:0], ContentLength: -1}
	d.trailers, d.size, d.regular, d.status, d.err, d.seen = trailers, 0, false, false, nil, ""
	d.dec.SetEmitEnabled(true)
	if _, err := d.dec.Write(block); err != nil {
		return connErr(ErrCodeCompression, ErrCompression, err.Error()), nil, ""
	}
	if err := d.dec.Close(); err != nil {
		return connErr(ErrCodeCompression, ErrCompression, err.Error()), nil, ""
	}
	if d.err == nil && !trailers && !d.status {
		d.err = ErrMissingStatus
	}
	return nil, d.err, d.seen
}

// fail records the first rule broken, and stops the decoder from making
// strings for the rest of the block, which only has to be decoded to keep
// the dynamic table in step.
func (d *responseDecoder) fail(rule error, name, value string) {
	if d.err == nil {
		d.err, d.seen = rule, clip(name+": "+value)
	}
	d.dec.SetEmitEnabled(false)
}

// emit checks one decoded field and adds it to the head.
func (d *responseDecoder) emit(f hpack.HeaderField) {
	if d.err != nil {
		return
	}
	d.size += fieldSize(f.Name, f.Value)
	if d.size > int(d.limit) {
		d.fail(ErrHeaderListTooLarge, f.Name, strconv.Itoa(d.size)+" bytes")
		return
	}
	if f.IsPseudo() {
		switch {
		case d.trailers || f.Name != ":status":
			d.fail(ErrUnknownPseudo, f.Name, f.Value)
		case d.regular:
			d.fail(ErrPseudoAfterRegular, f.Name, f.Value)
		case d.status:
			d.fail(ErrDuplicateStatus, f.Name, f.Value)
		default:
			d.status = true
			d.head.Status = parseStatus(f.Value)
			if d.head.Status == 0 {
				d.fail(ErrBadStatus, f.Name, f.Value)
			}
		}
		return
	}
	d.regular = true
	if rule := checkResponseName(f.Name); rule != nil {
		d.fail(rule, f.Name, f.Value)
		return
	}
	if !validValue(f.Value) {
		d.fail(ErrBadFieldValue, f.Name, f.Value)
		return
	}
	if f.Name == "content-length" {
		n, ok := parseContentLength(f.Value)
		if !ok || d.head.ContentLength >= 0 && d.head.ContentLength != n {
			d.fail(ErrBadContentLength, f.Name, f.Value)
			return
		}
		d.head.ContentLength = n
	}
	d.head.Fields = append(d.head.Fields, HeaderField{Name: f.Name, Value: f.Value})
}

// checkResponseName applies RFC 9113 §8.2 to a regular field's name.
func checkResponseName(name string) error {
	if name == "" {
		return ErrBadFieldName
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			return ErrUppercaseName
		}
		if !tokenChars[c] {
			return ErrBadFieldName
		}
	}
	if connectionSpecific(name) || name == "te" {
		return ErrConnectionSpecific
	}
	return nil
}

// parseStatus returns the code of a :status value, or 0 if it is not three
// digits from 100 to 599.
func parseStatus(v string) int {
	if len(v) != 3 || v[0] < '1' || v[0] > '5' {
		return 0
	}
	n := 0
	for i := 0; i < 3; i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// parseContentLength parses a plain decimal int64.
func parseContentLength(v string) (int64, bool) {
	if v == "" || len(v) > 19 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n >= 0
}
