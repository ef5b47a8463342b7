package gpio

import (
	"strings"
	"testing"

	"periph.io/x/conn/v3/gpio/gpiotest"
)

// FuzzParseRequest: any line parses or fails with an error naming it; what parses re-formats to a
// line that parses to the same request.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{"READ GPIO17", "OUT PCC_COIL 1", "IN A", "OUT A 2", "", "READ\x00", "ERR x", "OUT A 1 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseRequest(line)
		if err != nil {
			return
		}
		again, err := ParseRequest(r.String())
		if err != nil || again != r {
			t.Fatalf("%q -> %+v -> %q -> %+v %v", line, r, r.String(), again, err)
		}
	})
}

// FuzzParseReply: replies never panic, and a server's answer to any request is one valid line.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"L 0", "L 1", "OK", "ERR no pin X", "ERR", "ERRx", "L 2", strings.Repeat("L", 300)} {
		f.Add(s)
	}
	srv := NewPinServer(&pinBank{pins: map[string]*gpiotest.Pin{"A": {N: "A"}}})
	f.Fuzz(func(t *testing.T, line string) {
		for _, op := range []Op{OpIn, OpRead, OpOut, "BAD"} {
			_, _ = ParseReply(op, line)
		}
		reply := srv.Handle(line)
		if strings.ContainsAny(reply, "\r\n") || len(reply) >= MaxLine {
			t.Fatalf("request %q got a reply that is not one line: %q", line, reply)
		}
		if req, err := ParseRequest(line); err == nil {
			if _, err := ParseReply(req.Op, reply); err != nil && !strings.HasPrefix(reply, "ERR") {
				t.Fatalf("request %q: server reply %q does not parse: %v", line, reply, err)
			}
		}
	})
}
