package modbus

import (
	"strings"
	"testing"
)

// A TCP gateway whose port cannot exist is refused when it is built, not dialled for ever.
func TestGatewayRefusesImpossibleAddress(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:99999", "127.0.0.1:0", "h:-1", "h:modbus", "localhost"} {
		if g, err := NewGateway(Config{Address: addr}); err == nil {
			g.Close()
			t.Errorf("%q accepted", addr)
		} else if !strings.Contains(err.Error(), addr) {
			t.Errorf("%q: error %v does not name the address", addr, err)
		}
	}
	g, err := NewGateway(Config{Address: "127.0.0.1:5020"})
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
}
