package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/contracts/bindings"
)

// Backend is what the adapter needs from a chain; both ethclient.Client and the simulated
// backend's client provide it.
type Backend interface {
	bind.ContractBackend
	bind.DeployBackend
	ChainID(ctx context.Context) (*big.Int, error)
	BalanceAt(ctx context.Context, account common.Address, blockNumber *big.Int) (*big.Int, error)
}

// Adapter sends one unit's transactions to one settlement contract.
type Adapter struct {
	backend  Backend
	key      *ecdsa.PrivateKey
	self     common.Address
	chainID  *big.Int
	addr     common.Address
	abi      *bindings.FractalsChannels
	contract *bind.BoundContract
	// mine is called after each transaction is sent; the simulated backend uses it to seal a block.
	mine func()
	// gasLimit caps each transaction (0: the chain's estimate).
	gasLimit uint64
}

// Options tune an Adapter.
type Options struct {
	// Mine seals a block after each transaction (simulated backend: its Commit method).
	Mine func()
	// GasLimit caps the gas of each transaction; 0 lets the chain estimate it.
	GasLimit uint64
}

// New binds to the contract at addr.
func New(ctx context.Context, backend Backend, key *ecdsa.PrivateKey, addr common.Address, opts Options) (*Adapter, error) {
	id, err := backend.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("chain: chain id: %w", err)
	}
	c := bindings.NewFractalsChannels()
	return &Adapter{backend: backend, key: key, self: crypto.PubkeyToAddress(key.PublicKey), chainID: id, addr: addr,
		abi: c, contract: c.Instance(backend, addr), mine: opts.Mine, gasLimit: opts.GasLimit}, nil
}

// Deploy deploys the settlement contract and returns its address.
func Deploy(ctx context.Context, backend Backend, key *ecdsa.PrivateKey, opts Options) (common.Address, *types.Receipt, error) {
	id, err := backend.ChainID(ctx)
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("chain: chain id: %w", err)
	}
	auth := bind.NewKeyedTransactor(key, id)
	auth.Context = ctx
	addr, tx, err := bind.DeployContract(auth, common.FromHex(bindings.FractalsChannelsMetaData.Bin), backend, nil)
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("chain: deploy: %w", err)
	}
	if opts.Mine != nil {
		opts.Mine()
	}
	r, err := bind.WaitMined(ctx, backend, tx.Hash())
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("chain: deploy: %w", err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return common.Address{}, r, errors.New("chain: deploy reverted")
	}
	return addr, r, nil
}

// Address is the contract's address; ChainID the chain's id.
func (a *Adapter) Address() common.Address { return a.addr }

// ChainID is the id of the chain the adapter talks to.
func (a *Adapter) ChainID() uint64 { return a.chainID.Uint64() }

// Self is the unit's account.
func (a *Adapter) Self() common.Address { return a.self }

// ErrReverted means the chain executed the transaction and it failed.
var ErrReverted = errors.New("transaction reverted")

func (a *Adapter) transact(ctx context.Context, what string, value *big.Int, data []byte) (*types.Receipt, error) {
	auth := bind.NewKeyedTransactor(a.key, a.chainID)
	auth.Context = ctx
	auth.Value = value
	auth.GasLimit = a.gasLimit
	tx, err := bind.Transact(a.contract, auth, data)
	if err != nil {
		if isRevert(err) {
			return nil, fmt.Errorf("chain: %s: %v: %w", what, err, ErrReverted)
		}
		return nil, fmt.Errorf("chain: %s: %w", what, err)
	}
	if a.mine != nil {
		a.mine()
	}
	r, err := bind.WaitMined(ctx, a.backend, tx.Hash())
	if err != nil {
		return nil, fmt.Errorf("chain: %s: wait: %w", what, err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return r, fmt.Errorf("chain: %s (gas %d): %w", what, r.GasUsed, ErrReverted)
	}
	return r, nil
}

// isRevert tells a transaction the chain refused (gas estimation hit a revert) from a chain that
// could not be reached: only the latter is worth retrying.
func isRevert(err error) bool {
	var data interface{ ErrorData() interface{} }
	return errors.As(err, &data) || strings.Contains(err.Error(), "execution reverted")
}

func u256(v uint64) *big.Int { return new(big.Int).SetUint64(v) }

// Open opens a channel with partner (token zero: native coin) depositing amount, and returns
// the channel's domain for the state machine.
func (a *Adapter) Open(ctx context.Context, partner, token common.Address, settleTimeout, amount uint64) (channel.Domain, *types.Receipt, error) {
	var value *big.Int
	if token == (common.Address{}) {
		value = u256(amount)
	}
	r, err := a.transact(ctx, "open", value, a.abi.PackOpen(partner, token, settleTimeout, u256(amount)))
	if err != nil {
		return channel.Domain{}, r, err
	}
	for _, l := range r.Logs {
		ev, err := a.abi.UnpackChannelOpenedEvent(l)
		if err == nil {
			return channel.Domain{ChainID: a.ChainID(), Contract: a.addr, ChannelID: ev.Id, Epoch: ev.Epoch}, r, nil
		}
	}
	return channel.Domain{}, r, errors.New("chain: open: no ChannelOpened event in the receipt")
}

// Deposit tops up the unit's deposit by amount.
func (a *Adapter) Deposit(ctx context.Context, d channel.Domain, token common.Address, amount uint64) (*types.Receipt, error) {
	var value *big.Int
	if token == (common.Address{}) {
		value = u256(amount)
	}
	return a.transact(ctx, "deposit", value, a.abi.PackDeposit(d.ChannelID, u256(amount)))
}

// Withdraw withdraws up to total (cumulative) for who with both participants' signatures.
func (a *Adapter) Withdraw(ctx context.Context, d channel.Domain, who common.Address, total, expiry uint64, whoSig, partnerSig [65]byte) (*types.Receipt, error) {
	return a.transact(ctx, "withdraw", nil, a.abi.PackWithdraw(d.ChannelID, who, u256(total), u256(expiry), whoSig[:], partnerSig[:]))
}

// CooperativeSettle pays out agreed balances (a is the lower address).
func (a *Adapter) CooperativeSettle(ctx context.Context, d channel.Domain, amountA, amountB uint64, sigA, sigB [65]byte) (*types.Receipt, error) {
	return a.transact(ctx, "cooperative settle", nil, a.abi.PackCooperativeSettle(d.ChannelID, u256(amountA), u256(amountB), sigA[:], sigB[:]))
}

func proofArg(p channel.BalanceProof) bindings.FractalsChannelsBalanceProof {
	return bindings.FractalsChannelsBalanceProof{Nonce: u256(p.Nonce), Transferred: u256(p.Transferred),
		Locked: u256(p.Locked), Locksroot: p.Locksroot, Signature: p.Signature[:]}
}

// Close closes the channel with the partner's latest proof (Nonce 0: none received).
func (a *Adapter) Close(ctx context.Context, d channel.Domain, partnerProof channel.BalanceProof) (*types.Receipt, error) {
	return a.transact(ctx, "close", nil, a.abi.PackClose(d.ChannelID, proofArg(partnerProof)))
}

// UpdateProof submits the closer's newer proof; nonCloserSig is needed only when the sender is a
// delegate rather than the non-closing participant.
func (a *Adapter) UpdateProof(ctx context.Context, d channel.Domain, closerProof channel.BalanceProof, nonCloserSig []byte) (*types.Receipt, error) {
	return a.transact(ctx, "update proof", nil, a.abi.PackUpdateProof(d.ChannelID, proofArg(closerProof), nonCloserSig))
}

// Settle pays out after the settle timeout.
func (a *Adapter) Settle(ctx context.Context, d channel.Domain) (*types.Receipt, error) {
	return a.transact(ctx, "settle", nil, a.abi.PackSettle(d.ChannelID))
}

// RegisterSecret publishes a lock's secret on chain.
func (a *Adapter) RegisterSecret(ctx context.Context, secret channel.Hash) (*types.Receipt, error) {
	return a.transact(ctx, "register secret", nil, a.abi.PackRegisterSecret(secret))
}

// Unlock splits owner's locked amount after settlement.
func (a *Adapter) Unlock(ctx context.Context, d channel.Domain, owner common.Address, locks []channel.Lock) (*types.Receipt, error) {
	return a.transact(ctx, "unlock", nil, a.abi.PackUnlock(d.ChannelID, d.Epoch, owner, channel.PackLocks(locks)))
}

// ChannelState is the contract's view of a channel.
type ChannelState struct {
	Token       common.Address
	A, B        common.Address
	State       uint8
	Epoch       uint64
	SettleAfter uint64
	Closer      common.Address
}

// Channel reads the contract's record of a channel.
func (a *Adapter) Channel(ctx context.Context, id channel.Hash) (ChannelState, error) {
	out, err := bind.Call(a.contract, &bind.CallOpts{Context: ctx}, a.abi.PackChannels(id), a.abi.UnpackChannels)
	if err != nil {
		return ChannelState{}, fmt.Errorf("chain: read channel %x: %w", id[:4], err)
	}
	return ChannelState{Token: out.Token, A: out.A, B: out.B, State: out.State, Epoch: out.Epoch, SettleAfter: out.SettleAfter, Closer: out.Closer}, nil
}

// Participant reads a participant's record (deposit, withdrawn, submitted proof).
func (a *Adapter) Participant(ctx context.Context, id channel.Hash, who common.Address) (bindings.FractalsChannelsParticipant, error) {
	return bind.Call(a.contract, &bind.CallOpts{Context: ctx}, a.abi.PackParticipant(id, who), a.abi.UnpackParticipant)
}

// WithdrawBalance collects what settle and unlock credited to the unit in token (zero: native
// coin): the contract pays out by pull, so a receiver refusing a transfer blocks nobody else.
func (a *Adapter) WithdrawBalance(ctx context.Context, token common.Address) (*types.Receipt, error) {
	return a.transact(ctx, "withdraw balance", nil, a.abi.PackWithdrawBalance(token))
}

// Owed is what the contract holds for who in token, waiting for WithdrawBalance.
func (a *Adapter) Owed(ctx context.Context, token, who common.Address) (*big.Int, error) {
	v, err := bind.Call(a.contract, &bind.CallOpts{Context: ctx}, a.abi.PackOwed(token, who), a.abi.UnpackOwed)
	if err != nil {
		return nil, fmt.Errorf("chain: read owed: %w", err)
	}
	return v, nil
}

// SecretRegisteredAt is the chain time at which a secret with hash h was registered (0: never).
func (a *Adapter) SecretRegisteredAt(ctx context.Context, h channel.Hash) (uint64, error) {
	at, err := bind.Call(a.contract, &bind.CallOpts{Context: ctx}, a.abi.PackSecretRegisteredAt(h), a.abi.UnpackSecretRegisteredAt)
	if err != nil {
		return 0, fmt.Errorf("chain: read secret %x: %w", h[:4], err)
	}
	if !at.IsUint64() {
		return 0, fmt.Errorf("chain: secret %x registered at %s", h[:4], at)
	}
	return at.Uint64(), nil
}

// Balance is an account's native balance.
func (a *Adapter) Balance(ctx context.Context, who common.Address) (*big.Int, error) {
	return a.backend.BalanceAt(ctx, who, nil)
}

// Reachable reports whether the chain answers at all.
func (a *Adapter) Reachable(ctx context.Context) bool {
	_, err := a.backend.HeaderByNumber(ctx, nil)
	return err == nil
}

// The contract's bounds of a settle timeout in seconds (MIN_SETTLE_TIMEOUT, MAX_SETTLE_TIMEOUT).
const (
	MinSettleTimeout = 10 * 60
	MaxSettleTimeout = 365 * 24 * 3600
)
