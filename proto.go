package egress

// ProtoMajor is the response's HTTP major version, 1 or 2, during OnHead
// only (0 outside it): a load generator uses it to say which protocol
// ran without keeping the head.
func (ex *Exchange) ProtoMajor() int {
	if ex.resp == nil {
		return 0
	}
	return ex.resp.ProtoMajor()
}
