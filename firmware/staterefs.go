package firmware

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/fractals-energy/fractals/fractals"
)

// Keys of the refs bucket.
const (
	RefMarket = "market" // MarketRef: the commitment the controller follows
	RefLedger = "ledger" // LedgerRef: the ledger's store, account and channel heads
)

// MarketRef is the market's commitment the unit was following when it last wrote its state: the
// interval it was committed in (the period's start, unix seconds) and the schedule. After a crash
// inside that period the unit follows it again until its end, as it promised its neighbours.
type MarketRef struct {
	Interval int64             `json:"interval"`
	Schedule fractals.Schedule `json:"schedule"`
}

// LedgerRef is what the unit knew of its payment channels when it last wrote its state: where the
// ledger's own store is, whose account it is, and each channel's latest balance proofs (nonces) and
// totals. The ledger's store is written on every payment, before the partner holds the proof, so
// after a crash it is never behind this record; a store that is behind was replaced or restored
// from an old copy, and paying or closing from it would sign reused nonces or close on an old proof
// of what the partner paid.
type LedgerRef struct {
	SavedAt  time.Time    `json:"saved_at"`
	Store    string       `json:"store"`
	Account  string       `json:"account"`
	Channels []ChannelRef `json:"channels"`
}

// ChannelRef is one channel's head in a LedgerRef.
type ChannelRef struct {
	Partner      string `json:"partner"`
	ChannelID    string `json:"channel_id"`
	OwnNonce     uint64 `json:"own_nonce"`
	PartnerNonce uint64 `json:"partner_nonce"`
	Sent         uint64 `json:"sent"`
	Received     uint64 `json:"received"`
}

// marketRefOf is the status's commitment, nil when the controller follows none.
func marketRefOf(st *Status) *MarketRef {
	s := st.State.Schedule
	if s.End.IsZero() {
		return nil
	}
	return &MarketRef{Interval: s.Start.Unix(), Schedule: s}
}

// LedgerRefs reads the ledger's heads as the state file keeps them (no chain call: the node's own
// view); false when the daemon runs no ledger.
func (d *Daemon) LedgerRefs() (LedgerRef, bool) {
	if d.ledger == nil {
		return LedgerRef{}, false
	}
	return d.ledger.Refs(d.clock.Now())
}

// Refs is the ledger's LedgerRef at now; false once the ledger is shut down (its node answers no
// more, and an empty record must not replace the last good one).
func (l *Ledger) Refs(now time.Time) (LedgerRef, bool) {
	select {
	case <-l.done:
		return LedgerRef{}, false
	default:
	}
	r := LedgerRef{SavedAt: now, Store: l.cfg.Store, Account: l.node.Address().Hex()}
	for _, n := range l.cfg.Neighbours {
		info := l.node.Channel(common.HexToAddress(n.Address))
		if !info.Found {
			continue
		}
		r.Channels = append(r.Channels, ChannelRef{Partner: info.PartnerAddress.Hex(), ChannelID: common.Hash(info.Domain.ChannelID).Hex(),
			OwnNonce: info.OwnNonce, PartnerNonce: info.PartnerNonce, Sent: info.Sent, Received: info.Received})
	}
	sort.Slice(r.Channels, func(i, j int) bool { return r.Channels[i].ChannelID < r.Channels[j].ChannelID })
	return r, true
}

// CheckLedgerAgainst says whether the ledger the unit runs now may go on from the one the state
// file recorded: the same account, and every recorded channel present with balance proofs at least
// as new. A different store path is allowed (the operator moved it) as long as its contents pass.
func CheckLedgerAgainst(recorded, now LedgerRef) error {
	if recorded.Account != now.Account {
		return fmt.Errorf("ledger: the state file recorded account %s at %s, the ledger runs %s (another unit's key or store?)",
			recorded.Account, recorded.SavedAt.UTC().Format(time.RFC3339), now.Account)
	}
	have := make(map[string]ChannelRef, len(now.Channels))
	for _, c := range now.Channels {
		have[c.ChannelID] = c
	}
	for _, rc := range recorded.Channels {
		c, ok := have[rc.ChannelID]
		switch {
		case !ok:
			// Settled since (the node drops a settled channel from its store): nothing left to
			// sign on it. A store too old to know the channel cannot be told apart here; the chain
			// watcher learns it again from its on-chain opening.
			continue
		case c.OwnNonce < rc.OwnNonce || c.PartnerNonce < rc.PartnerNonce:
			return fmt.Errorf("ledger store %s: channel %s with %s: own nonce %d, partner nonce %d, but the state file recorded %d and %d at %s: "+
				"the store is older than the unit's last state write (restored from a copy?); refusing to pay or close from it",
				now.Store, rc.ChannelID, rc.Partner, c.OwnNonce, c.PartnerNonce, rc.OwnNonce, rc.PartnerNonce, recorded.SavedAt.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// MarketRef returns the recorded commitment; nil when there is none.
func (s *StateStore) MarketRef() (*MarketRef, error) {
	var m *MarketRef
	return m, s.refJSON(RefMarket, &m)
}

// LedgerRef returns the recorded ledger heads; ok is false when none were recorded.
func (s *StateStore) LedgerRef() (r LedgerRef, ok bool, err error) {
	var p *LedgerRef
	if err := s.refJSON(RefLedger, &p); err != nil || p == nil {
		return LedgerRef{}, false, err
	}
	return *p, true, nil
}

func (s *StateStore) refJSON(key string, v any) error {
	raw, err := s.Ref(key)
	if err != nil || raw == nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("state file %s: bucket refs, key %s: %w", s.path, key, err)
	}
	return nil
}

// ResumeMarket has the unit follow a recorded commitment again when its period has not ended by
// now; it says whether it did. Call before the daemon runs.
func (u *Unit) ResumeMarket(m *MarketRef, now time.Time) bool {
	if m == nil || !now.Before(m.Schedule.End) {
		return false
	}
	u.SetSchedule(m.Schedule)
	u.mu.Lock()
	u.status.State.Schedule = m.Schedule
	u.mu.Unlock()
	return true
}
