package firmware

import (
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// FuzzSavedState writes any bytes where the unit's state lives: loading says where the bad value is,
// restoring accepts only a known mode, nothing panics.
func FuzzSavedState(f *testing.F) {
	f.Add([]byte(`{"saved_at":"2026-06-21T10:00:00Z","cycles":3,"energy_wh":{"pv":12.5},"mode":"islanded","shed":[false,true,false]}`))
	f.Add([]byte(`{"mode":"sideways"}`))
	f.Add([]byte(`{"energy_wh":{"pv":"lots"}}`))
	f.Add([]byte(`not json`))
	store, _, err := OpenStateStore(f.TempDir(), t0)
	if err != nil {
		f.Fatal(err)
	}
	d, _ := simDaemon(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if err := store.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketUnit).Put(keyUnit, raw) }); err != nil {
			t.Fatal(err)
		}
		s, ok, err := store.Load()
		if err != nil {
			if !strings.Contains(err.Error(), "bucket unit, key state") {
				t.Fatalf("error does not say where: %v", err)
			}
			return
		}
		if !ok {
			t.Fatal("stored state not found")
		}
		_ = d.Unit().Restore(s)
	})
}

// FuzzStateRefs writes any bytes where the market and ledger references live: reading them says
// which key is bad, resuming and checking what was read never panic.
func FuzzStateRefs(f *testing.F) {
	f.Add([]byte(`{"interval":1782036000,"schedule":{"start":"2026-06-21T10:00:00Z","end":"2026-06-21T10:15:00Z","net_exchange_w":-800}}`))
	f.Add([]byte(`{"account":"0xA","channels":[{"channel_id":"0x01","own_nonce":7}]}`))
	f.Add([]byte(`{"channels":[{"own_nonce":-1}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[`))
	store, _, err := OpenStateStore(f.TempDir(), t0)
	if err != nil {
		f.Fatal(err)
	}
	d, _ := simDaemon(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, key := range []string{RefMarket, RefLedger} {
			if err := store.PutRef(key, raw); err != nil {
				t.Fatal(err)
			}
		}
		m, err := store.MarketRef()
		if err != nil && !strings.Contains(err.Error(), "bucket refs, key market") {
			t.Fatalf("error does not say where: %v", err)
		}
		d.Unit().ResumeMarket(m, t0)
		r, ok, err := store.LedgerRef()
		if err != nil && !strings.Contains(err.Error(), "bucket refs, key ledger") {
			t.Fatalf("error does not say where: %v", err)
		}
		if ok {
			_ = CheckLedgerAgainst(r, LedgerRef{Account: "0xA"})
		}
	})
}
