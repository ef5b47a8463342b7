package firmware

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/chain"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// Ledger is the unit's payment channels as the daemon runs them: the channel node on its bbolt
// store, the TCP transport to the configured neighbours, and the chain duties (watcher, durable
// action queue, keeper) on the configured chain. Payments never wait for the chain; on-chain
// actions queue until it is reachable.
type Ledger struct {
	cfg     config.Channels
	chainC  config.Chain
	node    *ledger.Node
	store   *store.Store
	tcp     *transport.TCP
	adapter *chain.Adapter
	queue   *chain.Queue
	keeper  *chain.Keeper
	token   common.Address
	clock   clock.Clock
	log     *slog.Logger
	simStop func() error // stops the embedded chain, when the daemon made it
	rpc     *ethclient.Client

	// chainMu serialises everything that sends transactions (the keeper's round and the
	// operator's calls), so two senders never pick the same account nonce.
	chainMu sync.Mutex
	stop    context.CancelFunc
	done    chan struct{}

	refusedMu sync.Mutex
	refused   int
	// refusedFrames counts the partners' frames the channel node refused (OnRefused).
	refusedFrames int
	lastErr       string
	// retired are the neighbours the unit has had a channel with since the daemon started: once
	// it is closed or settled (by either side) the daemon does not open a new one by itself; the
	// operator does (fractals ledger open).
	retired map[common.Address]bool
	// signer is the unit key's signer (delegations for watchtowers).
	signer *channel.KeySigner
}

// LedgerOptions are what StartLedger needs beyond the unit file.
type LedgerOptions struct {
	Key   *ecdsa.PrivateKey
	Clock clock.Clock
	Log   *slog.Logger
	// Backend, Mine and Contract put the ledger on a chain made elsewhere (tests and simulations
	// sharing one simulated chain between units); nil Backend uses the unit file's chain section.
	Backend  chain.Backend
	Mine     func()
	Contract common.Address
}

// StartLedger opens the store, listens for the neighbours, connects the chain and starts the
// keeper. The chain need not be reachable: the ledger pays over existing channels meanwhile.
func StartLedger(ctx context.Context, chainCfg config.Chain, cfg config.Channels, o LedgerOptions) (*Ledger, error) {
	if o.Key == nil {
		return nil, errors.New("ledger: no key")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	l := &Ledger{cfg: cfg, chainC: chainCfg, token: common.HexToAddress(cfg.Token), clock: o.Clock, log: o.Log, done: make(chan struct{}), retired: map[common.Address]bool{}}
	ok := false
	defer func() {
		if !ok {
			l.closeParts()
		}
	}()
	signer := channel.NewKeySigner(o.Key)
	l.signer = signer
	var err error
	if l.store, err = store.Open(cfg.Store); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if l.tcp, err = transport.ListenTCP(signer, cfg.Listen); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l.tcp.SetRefusalHandler(l.refusal)
	for _, n := range cfg.Neighbours {
		l.tcp.AddPeer(common.HexToAddress(n.Address), n.Endpoint)
	}
	// Channels the unit opens use cfg.SettleTimeout; the node must accept it (and the partner's).
	minSettle := min(cfg.SettleTimeout, time.Hour)
	if l.node, err = ledger.NewNode(ledger.Config{Signer: signer, Store: l.store, Transport: l.tcp, Clock: o.Clock,
		MinSettleTimeout: minSettle, LockTimeout: minSettle / 2, RevealMargin: minSettle / 10, Tokens: []channel.Address{l.token},
		MediationFee: ledger.FeeSchedule{Flat: cfg.MediationFee.Flat, PPM: cfg.MediationFee.PPM},
		OnRefused:    l.refusedFrame}); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if err := l.connectChain(ctx, o); err != nil {
		return nil, err
	}
	if l.queue, err = chain.NewQueue(l.adapter, l.store); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	w := chain.NewWatcher(l.adapter, l.queue, chain.NodeProofs(l.node), 0)
	w.Listener = chain.NodeListener{Node: l.node}
	w.Confirmations = chainCfg.Confirmations
	l.keeper = &chain.Keeper{Watcher: w, Queue: l.queue, Node: l.node, Clock: o.Clock}
	run, stop := context.WithCancel(context.Background())
	l.stop = stop
	go l.run(run)
	ok = true
	return l, nil
}

// connectChain binds the adapter: to the given backend, to the embedded simulated chain (the
// unit's account funded, the contract deployed) or over JSON-RPC.
func (l *Ledger) connectChain(ctx context.Context, o LedgerOptions) error {
	backend, mine, contract := o.Backend, o.Mine, o.Contract
	opts := chain.Options{GasLimit: l.chainC.GasLimit}
	switch {
	case backend != nil:
	case l.chainC.Backend == "jsonrpc":
		c, err := ethclient.DialContext(ctx, l.chainC.URL)
		if err != nil {
			return fmt.Errorf("ledger: chain %s: %w", l.chainC.URL, err)
		}
		l.rpc, backend, contract = c, c, common.HexToAddress(l.chainC.Contract)
	default:
		newChain := registeredEmbeddedChain()
		if newChain == nil {
			return fmt.Errorf("ledger: %w", ErrNoEmbeddedChain)
		}
		var err error
		if backend, mine, l.simStop, err = newChain(crypto.PubkeyToAddress(o.Key.PublicKey)); err != nil {
			return fmt.Errorf("ledger: embedded chain: %w", err)
		}
		addr, _, err := chain.Deploy(ctx, backend, o.Key, chain.Options{Mine: mine})
		if err != nil {
			return fmt.Errorf("ledger: embedded chain: %w", err)
		}
		contract = addr
	}
	opts.Mine = mine
	a, err := chain.New(ctx, backend, o.Key, contract, opts)
	if err != nil {
		// A JSON-RPC chain that is down at start: the ledger cannot bind without the chain id.
		return fmt.Errorf("ledger: chain: %w", err)
	}
	l.adapter = a
	return nil
}

func (l *Ledger) refusal(err error) {
	l.refusedMu.Lock()
	l.refused++
	l.refusedMu.Unlock()
	l.log.Warn("ledger: refused", "err", err)
}

// refusedFrame logs and counts a partner's frame the channel node refused.
func (l *Ledger) refusedFrame(r ledger.Refusal) {
	l.refusedMu.Lock()
	l.refusedFrames++
	l.refusedMu.Unlock()
	l.log.Warn("ledger: refused frame", "peer", r.From, "kind", r.Kind, "reason", r.Err)
}

// Refused is how many connections or hellos the transport refused and how many frames from
// partners the channel node refused since the daemon started.
func (l *Ledger) Refused() (transport, frames int) {
	l.refusedMu.Lock()
	defer l.refusedMu.Unlock()
	return l.refused, l.refusedFrames
}

// run does the chain duties every poll: the keeper's round, then opening and topping up the
// channels with the neighbours.
func (l *Ledger) run(ctx context.Context) {
	defer close(l.done)
	t := l.clock.NewTicker(l.chainC.Poll)
	defer t.Stop()
	for {
		l.chainRound(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

func (l *Ledger) chainRound(ctx context.Context) {
	l.chainMu.Lock()
	defer l.chainMu.Unlock()
	reachable, err := l.keeper.Step(ctx)
	if err != nil {
		l.noteErr(err)
	}
	if !reachable {
		return
	}
	if err := l.fundNeighbours(ctx); err != nil {
		l.noteErr(err)
	}
}

func (l *Ledger) noteErr(err error) {
	l.refusedMu.Lock()
	l.lastErr = err.Error()
	l.refusedMu.Unlock()
	l.log.Warn("ledger: chain", "err", err)
}

// fundNeighbours opens a channel with each neighbour that has none and had none since the daemon
// started (the lower address opens, so the two units do not open two) and tops the unit's own
// deposit up to the configured one.
func (l *Ledger) fundNeighbours(ctx context.Context) error {
	self := l.node.Address()
	for _, n := range l.cfg.Neighbours {
		partner := common.HexToAddress(n.Address)
		info := l.node.Channel(partner)
		if !info.Found {
			if l.isRetired(partner) {
				continue
			}
			if strings.ToLower(self.Hex()) > strings.ToLower(partner.Hex()) || l.cfg.Deposit == 0 {
				continue // the partner opens; its opening arrives through the watcher
			}
			if _, _, err := l.adapter.Open(ctx, partner, l.token, uint64(l.cfg.SettleTimeout/time.Second), l.cfg.Deposit); err != nil {
				return fmt.Errorf("open with %s: %w", partner, err)
			}
			l.log.Info("ledger: opened channel", "partner", partner, "deposit", l.cfg.Deposit)
			continue
		}
		l.retire(partner)
		if err := l.topUp(ctx, info, l.cfg.Deposit); err != nil {
			return err
		}
	}
	return nil
}

// topUp deposits what the unit's on-chain deposit lacks of target.
func (l *Ledger) topUp(ctx context.Context, info ledger.Info, target uint64) error {
	p, err := l.adapter.Participant(ctx, info.Domain.ChannelID, l.node.Address())
	if err != nil {
		return err
	}
	if !p.Deposit.IsUint64() || p.Deposit.Uint64() >= target {
		return nil
	}
	if _, err := l.adapter.Deposit(ctx, info.Domain, info.Token, target-p.Deposit.Uint64()); err != nil {
		return fmt.Errorf("deposit with %s: %w", info.PartnerAddress, err)
	}
	return nil
}

func (l *Ledger) isRetired(partner common.Address) bool {
	l.refusedMu.Lock()
	defer l.refusedMu.Unlock()
	return l.retired[partner]
}

func (l *Ledger) retire(partner common.Address) {
	l.refusedMu.Lock()
	l.retired[partner] = true
	l.refusedMu.Unlock()
}

// Address is the unit's ledger account.
func (l *Ledger) Address() common.Address { return l.node.Address() }

// Addr is where the ledger listens for its neighbours.
func (l *Ledger) Addr() string { return l.tcp.Addr() }

// Node is the channel node (tests, the simulator).
func (l *Ledger) Node() *ledger.Node { return l.node }

// Pay pays amount to partner over their channel and returns once the partner holds the signed
// proof on its disk. A non-zero paymentID makes Pay idempotent: paying the same id to the same
// partner again (after a timeout, a crash or a restart) returns nil without paying twice. It
// does not need the chain.
func (l *Ledger) Pay(ctx context.Context, partner common.Address, amount, paymentID uint64) error {
	return l.node.Pay(ctx, partner, amount, paymentID)
}

// ChannelView is one channel as the operator and the API see it.
type ChannelView struct {
	Partner        common.Address `json:"partner"`
	ChannelID      string         `json:"channel_id"`
	Token          common.Address `json:"token"`
	OwnDeposit     uint64         `json:"own_deposit"`
	PartnerDeposit uint64         `json:"partner_deposit"`
	OwnBalance     uint64         `json:"own_balance"`
	PartnerBalance uint64         `json:"partner_balance"`
	OwnNonce       uint64         `json:"own_nonce"`
	PartnerNonce   uint64         `json:"partner_nonce"`
	Sent           uint64         `json:"sent"`
	Received       uint64         `json:"received"`
	OwnLocks       int            `json:"own_locks"`
	PartnerLocks   int            `json:"partner_locks"`
	// State is the chain's: opened, closed, settled, or unknown while the chain is unreachable.
	State  string `json:"state"`
	Synced bool   `json:"synced"`
}

// Channels lists the unit's channels with the configured neighbours; deposits and the state
// come from the chain when it answers.
func (l *Ledger) Channels(ctx context.Context) []ChannelView {
	var out []ChannelView
	for _, n := range l.cfg.Neighbours {
		info := l.node.Channel(common.HexToAddress(n.Address))
		if !info.Found {
			continue
		}
		v := ChannelView{Partner: info.PartnerAddress, ChannelID: hex.EncodeToString(info.Domain.ChannelID[:]), Token: info.Token,
			OwnBalance: info.OwnBalance, PartnerBalance: info.PartnerBal, OwnNonce: info.OwnNonce, PartnerNonce: info.PartnerNonce,
			Sent: info.Sent, Received: info.Received, OwnLocks: len(info.OwnLocks), PartnerLocks: len(info.PartnerLocks), State: "unknown", Synced: info.Synced}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if st, err := l.adapter.Channel(rctx, info.Domain.ChannelID); err == nil {
			v.State = chainState(st.State)
			if p, err := l.adapter.Participant(rctx, info.Domain.ChannelID, l.node.Address()); err == nil && p.Deposit.IsUint64() {
				v.OwnDeposit = p.Deposit.Uint64()
			}
			if p, err := l.adapter.Participant(rctx, info.Domain.ChannelID, info.PartnerAddress); err == nil && p.Deposit.IsUint64() {
				v.PartnerDeposit = p.Deposit.Uint64()
			}
		}
		cancel()
		out = append(out, v)
	}
	return out
}

// chainState names the contract's channel states (FractalsChannels.sol: None, Opened, Closed;
// a settled channel is deleted and reads as None).
func chainState(s uint8) string {
	switch s {
	case 0:
		return "settled"
	case 1:
		return "opened"
	case 2:
		return "closed"
	}
	return fmt.Sprintf("state %d", s)
}

// Balance is what the unit may still pay partner and what it holds from it.
func (l *Ledger) Balance(partner common.Address) (own, theirs uint64, ok bool) {
	i := l.node.Channel(partner)
	return i.OwnBalance, i.PartnerBal, i.Found
}

// Open opens a channel with partner depositing deposit (needs the chain now).
func (l *Ledger) Open(ctx context.Context, partner common.Address, deposit uint64) error {
	l.chainMu.Lock()
	defer l.chainMu.Unlock()
	_, _, err := l.adapter.Open(ctx, partner, l.token, uint64(l.cfg.SettleTimeout/time.Second), deposit)
	return err
}

// Deposit adds amount to the unit's deposit in its channel with partner (needs the chain now).
func (l *Ledger) Deposit(ctx context.Context, partner common.Address, amount uint64) error {
	info, err := l.channel(partner)
	if err != nil {
		return err
	}
	l.chainMu.Lock()
	defer l.chainMu.Unlock()
	_, err = l.adapter.Deposit(ctx, info.Domain, info.Token, amount)
	return err
}

// Withdraw agrees a withdrawal up to total (cumulative) with partner and queues it for the chain.
func (l *Ledger) Withdraw(ctx context.Context, partner common.Address, total uint64) error {
	expiry := uint64(l.clock.Now().Add(time.Hour).Unix())
	wp, err := l.node.Withdraw(ctx, partner, total, expiry)
	if err != nil {
		return err
	}
	return l.queue.Enqueue(chain.Action{Kind: chain.ActWithdraw, Domain: wp.Domain, Owner: wp.Who, WithdrawTotal: wp.Total,
		WithdrawExpiry: wp.Expiry, OwnerSig: wp.WhoSig, PartnerSig: wp.PartnerSig})
}

// Close queues a unilateral close with the partner's latest proof; the settle follows by itself
// after the settle timeout.
func (l *Ledger) Close(partner common.Address) error {
	info, err := l.channel(partner)
	if err != nil {
		return err
	}
	l.retire(partner)
	return l.queue.Enqueue(chain.Action{Kind: chain.ActClose, Domain: info.Domain, Proof: info.Partner, Token: info.Token})
}

// Settle agrees the final balances with partner and queues the cooperative settle.
func (l *Ledger) Settle(ctx context.Context, partner common.Address) error {
	sp, err := l.node.CooperativeSettle(ctx, partner)
	if err != nil {
		return err
	}
	l.retire(partner)
	return l.queue.Enqueue(chain.Action{Kind: chain.ActCooperativeSettle, Domain: sp.Domain, SettleA: sp.AmountA, SettleB: sp.AmountB,
		OwnerSig: sp.SigA, PartnerSig: sp.SigB})
}

// Sync runs one chain round now (what the keeper does every poll).
func (l *Ledger) Sync(ctx context.Context) { l.chainRound(ctx) }

// Pending is how many on-chain actions wait for the chain.
func (l *Ledger) Pending() int { return l.queue.Len() }

func (l *Ledger) channel(partner common.Address) (ledger.Info, error) {
	info := l.node.Channel(partner)
	if !info.Found {
		return info, fmt.Errorf("ledger: no channel with %s", partner)
	}
	return info, nil
}

// Shutdown stops the keeper and closes the node, transport, store and an embedded chain.
func (l *Ledger) Shutdown() error {
	if l.stop != nil {
		l.stop()
		<-l.done
	}
	return l.closeParts()
}

func (l *Ledger) closeParts() error {
	var errs []error
	if l.node != nil {
		errs = append(errs, l.node.Close())
	}
	if l.tcp != nil {
		errs = append(errs, l.tcp.Close())
	}
	if l.store != nil {
		errs = append(errs, l.store.Close())
	}
	if l.rpc != nil {
		l.rpc.Close()
	}
	if l.simStop != nil {
		errs = append(errs, l.simStop())
	}
	return errors.Join(errs...)
}
