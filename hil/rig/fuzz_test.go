package rig

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzFaultHandler: any body posted to /fault gets 200 (a fault it applied) or 400 with a reason,
// never a panic or another status.
func FuzzFaultHandler(f *testing.F) {
	for _, s := range []string{`{"device":"inverter","kind":"offline","on":true}`, `{"device":"inverter","kind":"slow","on":true,"value":1e9}`,
		`{"device":"inverter","kind":"exception","on":true,"value":-3}`, `{"device":"pcc","kind":"stuck","on":true}`,
		`{"device":"broker","kind":"down"}`, `{"device":"meter","kind":"offline","on":false}`, `{"x":1}`, `[`, ``,
		`{"device":"load9","kind":"stuck","on":true}`, `{"device":"inverter","kind":"exception","on":true,"value":NaN}`} {
		f.Add(s)
	}
	r := startRig(f, 1)
	h := r.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		if strings.Contains(body, `"pins"`) || strings.Contains(body, `"broker"`) {
			return // these restart servers: covered by their own tests, too slow to fuzz
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/fault", strings.NewReader(body)))
		if w.Code != 200 && w.Code != 400 {
			t.Fatalf("body %q: status %d", body, w.Code)
		}
		if w.Code == 400 && strings.TrimSpace(w.Body.String()) == "" {
			t.Fatalf("body %q: 400 without a reason", body)
		}
	})
}

func TestPinServerIsLoopbackOnlyUnlessRemote(t *testing.T) {
	for _, c := range []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:0", false, true}, {"[::1]:7000", false, true}, {"localhost:1", false, true},
		{"0.0.0.0:7000", false, false}, {"192.168.1.5:7000", false, false}, {":7000", false, false},
		{"0.0.0.0:7000", true, true}, {"nonsense", false, false},
	} {
		if err := checkPinListen(c.addr, c.remote); (err == nil) != c.ok {
			t.Errorf("%q remote=%v: err %v, want ok=%v", c.addr, c.remote, err, c.ok)
		}
	}
}
