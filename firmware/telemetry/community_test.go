package telemetry

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/fractals-energy/fractals/der/mqtt"
	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/clock"
)

// communityUnit is a simulated unit with what the community adds: a devp2p mesh node linked to a
// neighbour's on loopback, unit A's ledger with a channel to B on a simulated chain (30 paid to B),
// and a market commitment.
type communityUnit struct {
	d   *firmware.Daemon
	clk *clock.Sim
}

const paidToB = 30

var commitment = fractals.Schedule{Start: t0, End: t0.Add(15 * time.Minute), NetExchange: -650, EV: 200}

func startCommunityUnit(t *testing.T) communityUnit {
	t.Helper()
	nodes, err := firmware.StartLoopbackCommunity(2, "telemetry-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Close()
		}
	})
	c, err := newTestChain()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.sim.Close() })
	dir := t.TempDir()
	a, b, err := c.startPair(filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(); b.Shutdown() })
	for id := uint64(1); id <= 3; id++ {
		if err := a.Pay(context.Background(), b.Address(), paidToB/3, id); err != nil {
			t.Fatal(err)
		}
	}
	d, clk := simDaemon(t)
	d.AttachMesh(nodes[1])
	d.AttachLedger(a)
	d.Unit().SetSchedule(commitment)
	waitFor(t, "the mesh peer", func() bool {
		ms, _ := d.MeshView()
		return len(ms.Peers) == 1 && ms.Peers[0].Connected
	})
	return communityUnit{d: d, clk: clk}
}

// TestInfluxCarriesMeshLedgerAndMarket writes a community unit to a real influxd and queries the
// mesh, ledger and market measurements back as the unit's parts report them.
func TestInfluxCarriesMeshLedgerAndMarket(t *testing.T) {
	port := freePort(t)
	startInfluxd(t, port)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	createDatabase(t, base, "fractals")
	u := startCommunityUnit(t)
	in, err := NewInflux(InfluxOptions{URL: base, Bucket: "fractals/autogen", Unit: "unit-a", BatchSize: 100,
		FlushInterval: 200 * time.Millisecond, BufferPoints: 10000, QueueCycles: 1024})
	if err != nil {
		t.Fatal(err)
	}
	in.AttachDaemon(u.d)
	u.d.AddObserver(in)
	tick(u.d, u.clk, 60)
	u.d.StopObservers()
	if s := in.Stats(); s.Written != s.Handed || s.DroppedQueue != 0 {
		t.Fatalf("stats %+v", s)
	}
	ms, _ := u.d.MeshView()
	one := func(q string) []any {
		_, v := influxQuery(t, base, "fractals", q)
		if len(v) != 1 {
			t.Fatalf("%s: %v", q, v)
		}
		return v[0]
	}
	wantPoints := float64(60 / int(CommunityEvery/time.Second))
	if v := one(`SELECT count(peers), last(peers_connected), last(msgs_in), last(bytes_out), last(drops) FROM mesh WHERE unit='unit-a'`); v[1] != wantPoints || v[2] != 1.0 ||
		v[3].(float64) > float64(ms.Peers[0].MsgsIn) || v[4].(float64) > float64(ms.Peers[0].BytesOut) || v[5] != float64(ms.Counters.Rejected+ms.Counters.Expired) {
		t.Fatalf("mesh: count, connected, msgs in, bytes out, drops = %v; node now %+v", v[1:], ms.Peers[0])
	}
	if v := one(`SELECT last(channels), last(sent), last(received), last(pending_chain_actions) FROM ledger WHERE unit='unit-a'`); v[1] != 1.0 || v[2] != float64(paidToB) || v[3] != 0.0 {
		t.Fatalf("ledger: channels, sent, received, pending = %v", v[1:])
	}
	if v := one(`SELECT last(net_exchange_w), last(ev_w), last(interval) FROM market WHERE unit='unit-a'`); v[1] != -650.0 || v[2] != 200.0 || v[3] != float64(t0.Unix()) {
		t.Fatalf("market: net exchange, ev, interval = %v", v[1:])
	}
}

// TestMQTTCarriesMeshLedgerAndMarket: a community unit announces its mesh and ledger sensors to
// Home Assistant and its state carries their figures and the commitment; mosquitto_sub reads both
// from the embedded broker.
func TestMQTTCarriesMeshLedgerAndMarket(t *testing.T) {
	sub := peer(t, "mosquitto_sub", "apt-get install -y mosquitto-clients")
	b, err := mqtt.StartBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	u := startCommunityUnit(t)
	m, err := NewMQTT(MQTTOptions{Broker: b.URL(), Topics: Topics{Prefix: "fractals", Discovery: "homeassistant", Unit: "unit-a"},
		Every: time.Second, Version: "test", Daemon: u.d})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the announcement", func() bool { return m.Announced() > 0 })
	u.d.AddObserver(m)
	tick(u.d, u.clk, 1)
	waitFor(t, "a published state", func() bool { return m.Published() > 0 })
	configs := subscribeRetained(t, sub, b.Addr(), "homeassistant/#")
	for _, key := range []string{"mesh_peers_connected", "mesh_bytes_in", "mesh_drops", "ledger_sent", "ledger_pending_chain_actions", "market_net_exchange_w"} {
		raw, ok := configs["homeassistant/sensor/unit-a/"+key+"/config"]
		if !ok {
			t.Fatalf("no discovery config for %s; have %d configs", key, len(configs))
		}
		var c map[string]any
		if err := json.Unmarshal([]byte(raw), &c); err != nil || c["value_template"] != "{{ value_json."+key+" }}" {
			t.Fatalf("%s config %s: %v", key, raw, err)
		}
	}
	if c := configs["homeassistant/sensor/unit-a/mesh_bytes_in/config"]; !strings.Contains(c, `"device_class":"data_size"`) ||
		!strings.Contains(c, `"state_class":"total_increasing"`) || !strings.Contains(c, `"unit_of_measurement":"B"`) {
		t.Fatalf("mesh bytes in config %s", c)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(subscribeRetained(t, sub, b.Addr(), "fractals/unit-a/state")["fractals/unit-a/state"]), &st); err != nil {
		t.Fatal(err)
	}
	if st["mesh_peers_connected"] != 1.0 || st["ledger_channels"] != 1.0 || st["ledger_sent"] != float64(paidToB) ||
		st["market_net_exchange_w"] != -650.0 || st["market_ev_w"] != 200.0 {
		t.Fatalf("state %v", st)
	}
	u.d.StopObservers()
}

// TestDashboardShowsLedgerAndMarketInChromium: the dashboard of a community unit, in a real
// headless Chromium, shows its channel with what was paid over it and its market commitment, as
// /api/community and /api/status have them, without console errors.
func TestDashboardShowsLedgerAndMarketInChromium(t *testing.T) {
	bin := chromiumBin(t)
	u := startCommunityUnit(t)
	ops, err := Start(u.d, Setup{UnitName: "unit-ui"})
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	tick(u.d, u.clk, 5)
	u.d.StopObservers()
	srv := httptest.NewServer(u.d.Handler())
	defer srv.Close()
	dom, console := chromium(t, bin, srv.URL+"/", "--dump-dom")
	if len(console) > 0 {
		t.Fatalf("console messages:\n%s", strings.Join(console, "\n"))
	}
	cell := func(key string) string {
		m := regexp.MustCompile(`<td>` + regexp.QuoteMeta(key) + `</td><td>([^<]*)</td>`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("no %q row in the page", key)
		}
		return m[1]
	}
	if got := cell("channels"); got != "1" {
		t.Errorf("channels shows %q", got)
	}
	if got := cell("pending chain actions"); got != "0" {
		t.Errorf("pending chain actions shows %q", got)
	}
	partner := crypto.PubkeyToAddress(keyB.PublicKey).Hex()
	if got := cell(strings.ToLower(partner[:10]) + "…"); !strings.Contains(got, "sent "+strconv.Itoa(paidToB)+", received 0") {
		t.Errorf("channel row shows %q, want sent %d", got, paidToB)
	}
	if got := cell("net exchange W (import +)"); got != "-650" {
		t.Errorf("market net exchange shows %q", got)
	}
	if got := cell("peers"); got != "1" {
		t.Errorf("mesh peers shows %q", got)
	}
}
