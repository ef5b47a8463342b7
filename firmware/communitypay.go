package firmware

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// microPerUnit converts money to the ledger's integer amounts: a millionth of the currency.
const microPerUnit = 1e6

// payments are the community's payment channels: one ledger node per unit with its own bbolt file,
// over the in-process transport, with channels along a binary tree of the units (unit i's partner
// is its parent (i-1)/2), so any two units are at most 2·log2(N) hops apart, inside the ledger's
// route limit. A payment to a partner is direct; to anyone else it is mediated along the tree.
type payments struct {
	nodes  []*ledger.Node
	stores []*store.Store
	hub    *transport.Hub
	index  map[string]int
	// deposit is what each side puts in each channel, in micro-units.
	deposit uint64

	transfers, failed int
	paid              float64 // over channels, in currency
}

// channelDeposit is enough for a community's day and then some (a million in currency per side).
const channelDeposit = 1_000_000 * microPerUnit

func newPayments(dir string, names []string, seed uint64) (*payments, error) {
	p := &payments{hub: transport.NewHub(), index: map[string]int{}, deposit: channelDeposit}
	for i, name := range names {
		p.index[name] = i
		st, err := store.Open(filepath.Join(dir, name+".db"))
		if err != nil {
			p.close()
			return nil, err
		}
		p.stores = append(p.stores, st)
		key := ledger.DeterministicKey(seed*1_000_003 + uint64(i) + 1)
		signer := channel.NewKeySigner(key)
		node, err := ledger.NewNode(ledger.Config{Signer: signer, Store: st, Transport: p.hub.Join(signer.Address()), Clock: clock.Real{}})
		if err != nil {
			p.close()
			return nil, err
		}
		p.nodes = append(p.nodes, node)
	}
	for i := 1; i < len(p.nodes); i++ {
		a, b := p.nodes[i], p.nodes[parent(i)]
		d := channel.Domain{ChainID: 1337, Contract: channel.Address{0xfe}, ChannelID: crypto.Keccak256Hash(a.Address().Bytes(), b.Address().Bytes()), Epoch: 1}
		if err := a.AddChannel(d, b.Address(), p.deposit, p.deposit); err != nil {
			p.close()
			return nil, err
		}
		if err := b.AddChannel(d, a.Address(), p.deposit, p.deposit); err != nil {
			p.close()
			return nil, err
		}
	}
	return p, nil
}

func parent(i int) int { return (i - 1) / 2 }

// route is the path of units from a to b along the tree, b last and a left out.
func paymentRoute(a, b int) []int {
	var up, down []int
	for a != b {
		if a > b {
			a = parent(a)
			up = append(up, a)
		} else {
			down = append(down, b)
			b = parent(b)
		}
	}
	// up ends at the common ancestor (or is empty when a is it); down is b's side, reversed.
	for i := len(down) - 1; i >= 0; i-- {
		up = append(up, down[i])
	}
	return up
}

// intentID is the ledger's payment id of an intent: a retried payment with the same id is never paid
// twice, so a restart mid-payment is safe.
func intentID(k fractals.IntentKey) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", k.Interval, k.Trade)
	if id := h.Sum64(); id != 0 {
		return id
	}
	return 1
}

// pay sends one intent between units over the channels; it reports false when the ledger refused.
func (p *payments) pay(ctx context.Context, in fractals.PaymentIntent) error {
	amount, err := p.send(ctx, in)
	if err != nil {
		p.failed++
		return err
	}
	if amount > 0 {
		p.transfers++
		p.paid += float64(amount) / microPerUnit
	}
	return nil
}

// repeat sends an intent again with the same ledger id, as after a restart; it is not counted. It
// reports whether anything was sent.
func (p *payments) repeat(ctx context.Context, in fractals.PaymentIntent) (bool, error) {
	amount, err := p.send(ctx, in)
	return amount > 0, err
}

// send hands the intent to the ledger: direct to a channel partner, mediated along the tree to anyone
// else. It returns the amount in micro-units (0: too small to send).
func (p *payments) send(ctx context.Context, in fractals.PaymentIntent) (uint64, error) {
	from, okF := p.index[in.From]
	to, okT := p.index[in.To]
	if !okF || !okT {
		return 0, fmt.Errorf("payment %v: %s → %s is not between units", in.Key, in.From, in.To)
	}
	amount := uint64(math.Round(float64(in.Amount) * microPerUnit))
	if amount == 0 {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	hops := paymentRoute(from, to)
	var err error
	if len(hops) == 1 {
		err = p.nodes[from].Pay(ctx, p.nodes[to].Address(), amount, intentID(in.Key))
	} else {
		addrs := make([]channel.Address, len(hops))
		for i, h := range hops {
			addrs[i] = p.nodes[h].Address()
		}
		err = p.nodes[from].PayRoute(ctx, addrs, amount, intentID(in.Key))
	}
	return amount, err
}

// channelTotals sums what every unit's channels say it sent and received (mediators count both), and
// checks that every channel's balances add up to its deposits on both sides.
func (p *payments) channelTotals() (sent, received float64, err error) {
	var errs []error
	for i := 1; i < len(p.nodes); i++ {
		a, b := p.nodes[i], p.nodes[parent(i)]
		ia, ib := a.Channel(b.Address()), b.Channel(a.Address())
		sent += float64(ia.Sent+ib.Sent) / microPerUnit
		received += float64(ia.Received+ib.Received) / microPerUnit
		for _, in := range []ledger.Info{ia, ib} {
			if total := in.OwnBalance + in.PartnerBal + in.OwnLocked + in.PartnerLocked; total != 2*p.deposit {
				errs = append(errs, fmt.Errorf("channel %d-%d: balances and locks sum to %d, deposits %d", i, parent(i), total, 2*p.deposit))
			}
		}
	}
	return sent, received, errors.Join(errs...)
}

func (p *payments) close() {
	for _, n := range p.nodes {
		n.Close()
	}
	for _, s := range p.stores {
		s.Close()
	}
}
