package gpio

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"periph.io/x/conn/v3/gpio"
)

// The pin line protocol, one request and one reply per line over TCP:
//
//	IN <pin>            -> OK              set the pin up as an input
//	READ <pin>          -> L 0 | L 1       read its level
//	OUT <pin> 0|1       -> OK              drive it
//	any                 -> ERR <reason>    the pin does not exist, refuses, or the request is malformed
//
// Pin names are line names such as GPIO17 or PCC_COIL.

// Op is a request's operation.
type Op string

// The operations.
const (
	OpIn   Op = "IN"
	OpRead Op = "READ"
	OpOut  Op = "OUT"
)

// MaxLine bounds a request or reply line, newline included.
const MaxLine = 256

// Request is one parsed request line.
type Request struct {
	Op    Op
	Pin   string
	Level gpio.Level // OUT only
}

// Reply is one parsed reply line.
type Reply struct {
	Level gpio.Level // after READ
	Err   string     // non-empty for ERR
}

var pinName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,31}$`)

// ValidPinName reports whether s may name a pin on the wire.
func ValidPinName(s string) bool { return pinName.MatchString(s) }

// ParseRequest parses one request line (without its newline).
func ParseRequest(line string) (Request, error) {
	if len(line) >= MaxLine {
		return Request{}, fmt.Errorf("gpio wire: request of %d bytes, limit %d", len(line), MaxLine-1)
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return Request{}, fmt.Errorf("gpio wire: request %q: want OP PIN [LEVEL]", line)
	}
	r := Request{Op: Op(f[0]), Pin: f[1]}
	if !ValidPinName(r.Pin) {
		return Request{}, fmt.Errorf("gpio wire: request %q: pin name %q is not a line name", line, r.Pin)
	}
	switch r.Op {
	case OpIn, OpRead:
		if len(f) != 2 {
			return Request{}, fmt.Errorf("gpio wire: request %q: %s takes only a pin", line, r.Op)
		}
	case OpOut:
		if len(f) != 3 || (f[2] != "0" && f[2] != "1") {
			return Request{}, fmt.Errorf("gpio wire: request %q: OUT takes a pin and 0 or 1", line)
		}
		r.Level = f[2] == "1"
	default:
		return Request{}, fmt.Errorf("gpio wire: request %q: operation %q not among IN, READ, OUT", line, f[0])
	}
	return r, nil
}

// String formats the request as its line (without the newline).
func (r Request) String() string {
	if r.Op == OpOut {
		return fmt.Sprintf("%s %s %s", r.Op, r.Pin, bit(r.Level))
	}
	return fmt.Sprintf("%s %s", r.Op, r.Pin)
}

func bit(l gpio.Level) string {
	if l {
		return "1"
	}
	return "0"
}

// ErrRemote wraps an ERR reply.
var ErrRemote = errors.New("gpio wire: pin server refused")

// ParseReply parses one reply line (without its newline) to a request of op.
func ParseReply(op Op, line string) (Reply, error) {
	if len(line) >= MaxLine {
		return Reply{}, fmt.Errorf("gpio wire: reply of %d bytes, limit %d", len(line), MaxLine-1)
	}
	if rest, ok := strings.CutPrefix(line, "ERR"); ok && (rest == "" || rest[0] == ' ') {
		reason := strings.TrimSpace(rest)
		if reason == "" {
			reason = "no reason given"
		}
		return Reply{Err: reason}, fmt.Errorf("%w: %s", ErrRemote, reason)
	}
	switch op {
	case OpRead:
		switch line {
		case "L 0":
			return Reply{Level: gpio.Low}, nil
		case "L 1":
			return Reply{Level: gpio.High}, nil
		}
		return Reply{}, fmt.Errorf("gpio wire: reply %q to READ: want L 0, L 1 or ERR", line)
	case OpIn, OpOut:
		if line == "OK" {
			return Reply{}, nil
		}
		return Reply{}, fmt.Errorf("gpio wire: reply %q to %s: want OK or ERR", line, op)
	}
	return Reply{}, fmt.Errorf("gpio wire: reply to unknown operation %q", op)
}
