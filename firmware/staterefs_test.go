package firmware

import (
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/fractals"
)

// TestMarketRefIsWrittenWithTheStateAndResumedOnlyInItsPeriod: the keeper writes the commitment the
// controller follows beside the counters; a unit restarted inside the period follows it again, one
// restarted after its end does not; a unit without a commitment deletes the old record.
func TestMarketRefIsWrittenWithTheStateAndResumedOnlyInItsPeriod(t *testing.T) {
	store, _, err := OpenStateStore(t.TempDir(), t0)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	d, clk := simDaemon(t)
	k := NewStateKeeper(store, time.Second, func(err error) { t.Error(err) })
	d.AddObserver(k)
	sched := fractals.Schedule{Start: t0, End: t0.Add(15 * time.Minute), NetExchange: -800, EV: 300}
	d.Unit().SetSchedule(sched)
	tick(d, clk, 3)
	d.StopObservers()
	m, err := store.MarketRef()
	if err != nil || m == nil || m.Interval != t0.Unix() || !m.Schedule.End.Equal(sched.End) || m.Schedule.NetExchange != -800 || m.Schedule.EV != 300 {
		t.Fatalf("market ref %+v, %v: want %+v", m, err, sched)
	}
	inside, _ := simDaemon(t)
	if !inside.Unit().ResumeMarket(m, t0.Add(10*time.Minute)) || inside.Unit().Status().State.Schedule.NetExchange != -800 {
		t.Fatalf("restart inside the period: schedule %+v", inside.Unit().Status().State.Schedule)
	}
	after, _ := simDaemon(t)
	if after.Unit().ResumeMarket(m, sched.End) || !after.Unit().Status().State.Schedule.End.IsZero() {
		t.Fatal("a commitment whose period has ended was resumed")
	}

	d2, clk2 := simDaemon(t)
	k2 := NewStateKeeper(store, time.Second, func(err error) { t.Error(err) })
	d2.AddObserver(k2)
	tick(d2, clk2, 2)
	d2.StopObservers()
	if m, err := store.MarketRef(); err != nil || m != nil {
		t.Fatalf("after a run without a commitment: %+v, %v; want none", m, err)
	}
}

func TestCheckLedgerAgainstTheRecord(t *testing.T) {
	rec := LedgerRef{SavedAt: t0, Store: "/var/lib/fractals/ledger.db", Account: "0xA",
		Channels: []ChannelRef{{Partner: "0xB", ChannelID: "0x01", OwnNonce: 7, PartnerNonce: 4}, {Partner: "0xC", ChannelID: "0x02", OwnNonce: 1}}}
	cases := []struct {
		name string
		now  LedgerRef
		want string // "" accepts
	}{
		{"same", rec, ""},
		{"newer, moved, a channel settled since", LedgerRef{Store: "/data/ledger.db", Account: "0xA",
			Channels: []ChannelRef{{Partner: "0xB", ChannelID: "0x01", OwnNonce: 9, PartnerNonce: 4}}}, ""},
		{"another account", LedgerRef{Account: "0xD", Channels: rec.Channels}, "recorded account 0xA"},
		{"own nonce behind", LedgerRef{Store: "old.db", Account: "0xA",
			Channels: []ChannelRef{{Partner: "0xB", ChannelID: "0x01", OwnNonce: 6, PartnerNonce: 4}}}, "ledger store old.db: channel 0x01 with 0xB: own nonce 6"},
		{"partner nonce behind", LedgerRef{Store: "old.db", Account: "0xA",
			Channels: []ChannelRef{{Partner: "0xB", ChannelID: "0x01", OwnNonce: 7, PartnerNonce: 3}}}, "partner nonce 3, but the state file recorded 7 and 4"},
	}
	for _, c := range cases {
		err := CheckLedgerAgainst(rec, c.now)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
