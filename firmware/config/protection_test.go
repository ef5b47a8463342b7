package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/grid/ieee1547"
)

const protectionSection = `
protection:
  category: 3
  tick: 50ms
  trip:
    uv1:
      level: 0.5
      clearing: 30s
  enter_service:
    delay: 60s
  switch_retries: 2
`

func unitWith(t *testing.T, section string) string {
	t.Helper()
	base, err := os.ReadFile("testdata/unit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(base) + section
}

func TestProtectionSectionReachesTheController(t *testing.T) {
	u, err := Parse("unit.yaml", strings.NewReader(unitWith(t, protectionSection)))
	if err != nil {
		t.Fatal(err)
	}
	pc := ProtectionFor(u.Protection, 50, 300*time.Second)
	if pc.Relay.Category != ieee1547.CategoryIII || pc.Tick != 50*time.Millisecond || pc.Relay.Voltage.UV1.Level != 0.5 ||
		pc.Relay.Voltage.UV1.Clearing != 30*time.Second || pc.EnterService.Delay != 60*time.Second || pc.SwitchRetries != 2 {
		t.Fatalf("protection settings not applied: %+v", pc)
	}
	if err := pc.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestProtectionRefusedOutsideIEEE1547WithLine(t *testing.T) {
	base := unitWith(t, protectionSection)
	lines := strings.Count(unitWith(t, ""), "\n")
	cases := []struct{ from, to, want string }{
		{"category: 3", "category: 4", ":2: protection.category: 4: accepted 1 (I), 2 (II), 3 (III)"},
		{"tick: 50ms", "tick: 5ms", ":3: protection.tick"},
		{"      level: 0.5", "      level: 0.2", ":6: protection.trip.uv1: ieee1547: voltage trip levels out of order"},
		{"    uv1:", "    uv9:", ":6: protection.trip.uv9: unknown trip function"},
		{"    delay: 60s", "    delay: 20m", ":9: protection.enter_service: ieee1547: enter-service delay"},
		{"switch_retries: 2", "switch_retries: 50", ":10: protection.switch_retries: 50 outside 1..10"},
	}
	for _, c := range cases {
		_, err := Parse("unit.yaml", strings.NewReader(strings.Replace(base, c.from, c.to, 1)))
		if err == nil {
			t.Errorf("%q: accepted", c.to)
			continue
		}
		want := c.want
		// Line numbers in the cases count from the line before "protection:" (1); a mapping-valued
		// field is reported at the first line of its value.
		n := 0
		if i := strings.Index(want[1:], ":"); i > 0 {
			for _, ch := range want[1 : 1+i] {
				n = 10*n + int(ch-'0')
			}
			want = "unit.yaml:" + itoa(lines+1+n) + want[1+i:]
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q:\n got %v\nwant %s", c.to, err, want)
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
