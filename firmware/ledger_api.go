package firmware

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/internal/clock"
)

// StartConfiguredLedger starts the ledger of the unit file at path and attaches it to d; it
// returns nil and no error when the file has no channels section.
func StartConfiguredLedger(ctx context.Context, path string, d *Daemon, clk clock.Clock, log *slog.Logger) (*Ledger, error) {
	u, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if u.Channels == nil {
		return nil, nil
	}
	if err := CheckChainAvailable(u.Chain.Backend); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key, err := LoadOrCreateKey(u.Channels.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l, err := StartLedger(ctx, *u.Chain, *u.Channels, LedgerOptions{Key: key, Clock: clk, Log: log})
	if err != nil {
		return nil, err
	}
	d.AttachLedger(l)
	if log != nil {
		log.Info("ledger listening", "addr", l.Addr(), "account", l.Address(), "chain", u.Chain.Backend, "neighbours", len(u.Channels.Neighbours))
	}
	return l, nil
}

// AttachLedger serves l under /api/ledger/ (call before Run).
func (d *Daemon) AttachLedger(l *Ledger) { d.ledger = l }

// LedgerRequest is the body of the ledger's POST routes: the partner and, where the action takes
// them, an amount (open: the deposit; deposit: the increment; withdraw: the cumulative total;
// pay: the amount) and a payment id (pay).
type LedgerRequest struct {
	Partner string `json:"partner"`
	Amount  uint64 `json:"amount"`
	ID      uint64 `json:"id"`
}

// LedgerAnswer is what the POST routes answer.
type LedgerAnswer struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
	Pending int    `json:"pending_chain_actions"`
}

var apiAddress = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)

// ledgerRoutes adds the ledger's API when the daemon runs one.
func (d *Daemon) ledgerRoutes(mux *http.ServeMux) {
	l := d.ledger
	if l == nil {
		return
	}
	mux.HandleFunc("GET /api/ledger/channels", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, struct {
			Account  common.Address `json:"account"`
			Channels []ChannelView  `json:"channels"`
			Pending  int            `json:"pending_chain_actions"`
			Refused  int            `json:"refused"`
			LastErr  string         `json:"last_chain_error,omitempty"`
		}{l.Address(), l.Channels(r.Context()), l.Pending(), l.refusedCount(), l.lastError()})
	})
	actions := map[string]func(ctx context.Context, partner common.Address, req LedgerRequest) error{
		"open":    func(ctx context.Context, p common.Address, q LedgerRequest) error { return l.Open(ctx, p, q.Amount) },
		"deposit": func(ctx context.Context, p common.Address, q LedgerRequest) error { return l.Deposit(ctx, p, q.Amount) },
		"withdraw": func(ctx context.Context, p common.Address, q LedgerRequest) error {
			return l.Withdraw(ctx, p, q.Amount)
		},
		"close":  func(_ context.Context, p common.Address, _ LedgerRequest) error { return l.Close(p) },
		"settle": func(ctx context.Context, p common.Address, _ LedgerRequest) error { return l.Settle(ctx, p) },
		"pay": func(ctx context.Context, p common.Address, q LedgerRequest) error {
			return l.Pay(ctx, p, q.Amount, q.ID)
		},
	}
	for name, act := range actions {
		mux.HandleFunc("POST /api/ledger/"+name, func(w http.ResponseWriter, r *http.Request) {
			var req LedgerRequest
			body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
			if err == nil {
				err = json.Unmarshal(body, &req)
			}
			if err != nil {
				http.Error(w, "ledger "+name+": body: "+err.Error(), http.StatusBadRequest)
				return
			}
			if !apiAddress.MatchString(req.Partner) {
				http.Error(w, fmt.Sprintf("ledger %s: partner %q is not an address (0x and 40 hex digits)", name, req.Partner), http.StatusBadRequest)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
			defer cancel()
			ans := LedgerAnswer{OK: true}
			if err := act(ctx, common.HexToAddress(req.Partner), req); err != nil {
				ans = LedgerAnswer{Error: fmt.Sprintf("ledger %s with %s: %v", name, req.Partner, err)}
				w.WriteHeader(http.StatusConflict)
			}
			ans.Pending = l.Pending()
			writeJSON(w, ans)
		})
	}
}

func (l *Ledger) refusedCount() int {
	l.refusedMu.Lock()
	defer l.refusedMu.Unlock()
	return l.refused
}

func (l *Ledger) lastError() string {
	l.refusedMu.Lock()
	defer l.refusedMu.Unlock()
	return l.lastErr
}
