package frame

import (
	"errors"
	"strconv"
)

// ErrFrameTooLarge is matched by errors.Is for every *FrameTooLargeError.
var ErrFrameTooLarge = errors.New("frame: frame too large")

// ErrInvalidLength reports a length prefix that cannot describe a frame,
// such as a length that counts the header but is smaller than the header.
var ErrInvalidLength = errors.New("frame: invalid length prefix")

// ErrDelimiterInLine is returned by AppendLine when the line would not
// decode back to itself because the delimiter occurs in it.
var ErrDelimiterInLine = errors.New("frame: line contains the delimiter")

// ErrInvalidFormat reports a decoder or encoder configuration that cannot
// work, such as an empty delimiter or a 3-byte length prefix.
var ErrInvalidFormat = errors.New("frame: invalid format")

// FrameTooLargeError reports a frame longer than a decoder's maximum.
type FrameTooLargeError struct {
	// Size is the frame's length as far as it is known. For a length prefix
	// it is the payload length the header declared. A line decoder stops
	// as soon as the line is certain to be too long, so Size is Max+1 there:
	// the real length is never read.
	Size uint64
	// Max is the configured maximum.
	Max int
}

// Error describes the frame size and the limit it exceeds.
func (e *FrameTooLargeError) Error() string {
	return "frame: frame of " + strconv.FormatUint(e.Size, 10) +
		" bytes exceeds the maximum of " + strconv.Itoa(e.Max)
}

// Is reports whether target is ErrFrameTooLarge.
func (e *FrameTooLargeError) Is(target error) bool { return target == ErrFrameTooLarge }
