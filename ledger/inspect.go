package ledger

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
)

// Inspection is what a store holds, read without changing it: for `fractals ledger inspect` after
// a crash, and for an operator who wants to know what is still pending.
type Inspection struct {
	Path     string                `json:"path"`
	Channels []InspectedChannel    `json:"channels"`
	Pending  []store.PendingAction `json:"-"`
	// PendingKeys are the queued on-chain actions' keys (the caller decodes Pending).
	PendingKeys []string `json:"pending_chain_actions"`
	Payments    int      `json:"payment_records"`
	Routes      int      `json:"routes_in_flight"`
	Secrets     int      `json:"secrets"`
	// Notes say in words what is pending.
	Notes []string `json:"notes"`
}

// InspectedChannel is one stored channel.
type InspectedChannel struct {
	ChannelID      string          `json:"channel_id"`
	Epoch          uint64          `json:"epoch"`
	Own            channel.Address `json:"own"`
	Partner        channel.Address `json:"partner"`
	OwnDeposit     uint64          `json:"own_deposit"`
	PartnerDeposit uint64          `json:"partner_deposit"`
	OwnBalance     uint64          `json:"own_balance"`
	PartnerBalance uint64          `json:"partner_balance"`
	OwnNonce       uint64          `json:"own_nonce"`
	PartnerNonce   uint64          `json:"partner_nonce"`
	Acked          uint64          `json:"acked"`
	OwnLocks       int             `json:"own_locks"`
	PartnerLocks   int             `json:"partner_locks"`
	Closing        bool            `json:"closing"`
	// WithdrawPending is an agreed own withdrawal not yet seen on chain.
	WithdrawPending uint64 `json:"withdraw_pending"`
}

// Inspect reads the store at path read-only (it refuses a store a running daemon holds) and
// checks every page first, so a torn or corrupted file is reported as such and nothing is read
// from it.
func Inspect(path string) (Inspection, error) {
	in := Inspection{Path: path}
	st, err := store.OpenReadOnly(path)
	if err != nil {
		return in, err
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		return in, err
	}
	chans, err := st.Channels()
	if err != nil {
		return in, fmt.Errorf("store %s: %w", path, err)
	}
	for _, c := range chans {
		in.Channels = append(in.Channels, inspectChannel(c))
		in.Notes = append(in.Notes, channelNotes(c)...)
	}
	if in.Pending, err = st.Pending(); err != nil {
		return in, fmt.Errorf("store %s: %w", path, err)
	}
	in.PendingKeys = []string{}
	for _, p := range in.Pending {
		in.PendingKeys = append(in.PendingKeys, p.Key)
	}
	if len(in.Pending) > 0 {
		in.Notes = append(in.Notes, fmt.Sprintf("%d on-chain action(s) queued, sent when the chain is reachable", len(in.Pending)))
	}
	if in.Payments, err = st.PaymentCount(); err != nil {
		return in, fmt.Errorf("store %s: %w", path, err)
	}
	for _, c := range []struct {
		prefix string
		n      *int
	}{{routePrefix, &in.Routes}, {secretPrefix, &in.Secrets}} {
		kvs, err := st.MetaPrefix(c.prefix)
		if err != nil {
			return in, fmt.Errorf("store %s: %w", path, err)
		}
		*c.n = len(kvs)
	}
	if in.Routes > 0 {
		in.Notes = append(in.Notes, fmt.Sprintf("%d mediated route(s) recorded, not yet settled", in.Routes))
	}
	if len(in.Notes) == 0 {
		in.Notes = []string{"nothing pending"}
	}
	return in, nil
}

func inspectChannel(c *channel.Channel) InspectedChannel {
	ic := InspectedChannel{ChannelID: hex.EncodeToString(c.Domain.ChannelID[:]), Epoch: c.Domain.Epoch, Own: c.Own.Address, Partner: c.Partner.Address,
		OwnDeposit: c.Own.Deposit, PartnerDeposit: c.Partner.Deposit, OwnBalance: c.OwnBalance(), PartnerBalance: c.PartnerBalance(),
		OwnNonce: c.Own.Proof.Nonce, PartnerNonce: c.Partner.Proof.Nonce, Acked: c.Acked, OwnLocks: len(c.Own.Locks), PartnerLocks: len(c.Partner.Locks), Closing: c.Closing}
	if c.Own.WithdrawExpiry != 0 {
		ic.WithdrawPending = c.Own.Withdrawn
	}
	return ic
}

// channelNotes says what one channel still waits for.
func channelNotes(c *channel.Channel) []string {
	id := hex.EncodeToString(c.Domain.ChannelID[:4])
	var notes []string
	if c.Own.Proof.Nonce > c.Acked {
		notes = append(notes, fmt.Sprintf("channel %s: own proofs %d..%d signed and stored, not yet acknowledged by %s (re-sent after restart)", id, c.Acked+1, c.Own.Proof.Nonce, c.Partner.Address))
	}
	if n := len(c.Own.Locks) + len(c.Partner.Locks); n > 0 {
		notes = append(notes, fmt.Sprintf("channel %s: %d hash lock(s) pending (%d own, %d partner's)", id, n, len(c.Own.Locks), len(c.Partner.Locks)))
	}
	if c.Own.WithdrawExpiry != 0 {
		notes = append(notes, fmt.Sprintf("channel %s: withdrawal to total %d agreed, not yet on chain (expires at chain time %d)", id, c.Own.Withdrawn, c.Own.WithdrawExpiry))
	}
	if c.Closing {
		notes = append(notes, fmt.Sprintf("channel %s: cooperative settle signed, waiting for the chain", id))
	}
	return notes
}

// String is one line per channel for the text output.
func (ic InspectedChannel) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s… with %s: own %d (deposit %d, nonce %d, acked %d), partner %d (deposit %d, nonce %d), locks %d/%d",
		ic.ChannelID[:8], ic.Partner, ic.OwnBalance, ic.OwnDeposit, ic.OwnNonce, ic.Acked, ic.PartnerBalance, ic.PartnerDeposit, ic.PartnerNonce, ic.OwnLocks, ic.PartnerLocks)
	if ic.Closing {
		b.WriteString(", closing")
	}
	return b.String()
}
