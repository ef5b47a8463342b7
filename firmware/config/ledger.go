package config

import (
	"net"
	"path/filepath"
	"regexp"
	"time"
)

// Chain is where the unit's payment channels settle: the embedded simulated chain (the default,
// a chain of the daemon's own with the settlement contract deployed at start) or any EVM chain
// over JSON-RPC with the contract already deployed.
type Chain struct {
	Backend  string `yaml:"backend"`  // simulated (default) or jsonrpc
	URL      string `yaml:"url"`      // jsonrpc: http://host:port or ws://host:port
	Contract string `yaml:"contract"` // jsonrpc: the settlement contract's address (0x + 40 hex)
	// Confirmations is how many blocks deep an event must be before the unit acts on it
	// (default 1: the block it is in).
	Confirmations uint64 `yaml:"confirmations"`
	// GasLimit caps one transaction's gas (0: estimated by the chain).
	GasLimit uint64 `yaml:"gas_limit"`
	// Poll is how often the unit reads the chain and sends queued actions (default 2s).
	Poll time.Duration `yaml:"poll"`
}

// Channels says which neighbours the unit keeps payment channels with and how they are funded.
type Channels struct {
	// Listen is the ledger's TCP address for its neighbours (host:port).
	Listen string `yaml:"listen"`
	// Store is the ledger's bbolt file.
	Store string `yaml:"store"`
	// KeyFile holds the unit's secp256k1 key in hex; created (mode 0600) when missing. Empty: the
	// mesh section's key file, so one key signs the unit's links, envelopes and payments.
	KeyFile string `yaml:"key_file"`
	// Deposit is what the unit keeps deposited in each channel (in the token's smallest unit);
	// the daemon opens or tops up to it whenever the chain is reachable.
	Deposit uint64 `yaml:"deposit"`
	// Token is the channel token's address; empty is the chain's native coin.
	Token string `yaml:"token"`
	// SettleTimeout is the settle timeout of channels the unit opens (default 1h).
	SettleTimeout time.Duration `yaml:"settle_timeout"`
	// MediationFee is what the unit keeps of each mediated transfer it forwards (default none).
	MediationFee MediationFee `yaml:"mediation_fee"`
	Neighbours   []Neighbour  `yaml:"neighbours"`
}

// MediationFee is a flat amount plus parts per million of the forwarded amount, in the channel
// token's smallest unit.
type MediationFee struct {
	Flat uint64 `yaml:"flat"`
	PPM  uint64 `yaml:"ppm"`
}

// Neighbour is one channel partner: its address and where its ledger listens.
type Neighbour struct {
	Address  string `yaml:"address"`  // 0x + 40 hex
	Endpoint string `yaml:"endpoint"` // host:port
}

var hexAddress = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)

// The ranges of the ledger sections.
const (
	minChainPoll, maxChainPoll = 100 * time.Millisecond, 10 * time.Minute
	minSettle, maxSettle       = 10 * time.Minute, 30 * 24 * time.Hour
	maxConfirmations           = 1000
)

// ledger checks and defaults the chain and channels sections.
func (v *validator) ledger(u *Unit) {
	if u.Chain != nil {
		v.chain(u.Chain)
	}
	if u.Channels == nil {
		return
	}
	c := u.Channels
	if u.Chain == nil {
		u.Chain = &Chain{}
		v.chain(u.Chain)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		v.fail(p("channels", "listen"), "%q is not host:port", c.Listen)
	}
	if c.Store == "" {
		v.fail(p("channels", "store"), "missing: the ledger's bbolt file")
	}
	if c.KeyFile == "" && u.Mesh != nil {
		c.KeyFile = u.Mesh.KeyFile
	} else if u.Mesh != nil && u.Mesh.KeyFile != "" && filepath.Clean(c.KeyFile) != filepath.Clean(u.Mesh.KeyFile) {
		// The unit has one identity: the key its mesh node is known by signs its payments.
		v.fail(p("channels", "key_file"), "%q differs from mesh key_file %q: the unit has one key; leave one of them out", c.KeyFile, u.Mesh.KeyFile)
	}
	if c.KeyFile == "" {
		v.fail(p("channels", "key_file"), "missing: the file of the unit's key (or a mesh section with one)")
	}
	if c.Token != "" && !hexAddress.MatchString(c.Token) {
		v.fail(p("channels", "token"), "%q is not an address (0x and 40 hex digits)", c.Token)
	}
	if c.SettleTimeout == 0 {
		c.SettleTimeout = time.Hour
	} else if c.SettleTimeout < minSettle || c.SettleTimeout > maxSettle {
		v.fail(p("channels", "settle_timeout"), "%v outside %v..%v", c.SettleTimeout, minSettle, maxSettle)
	}
	if c.MediationFee.PPM >= 1_000_000 {
		v.fail(p("channels", "mediation_fee", "ppm"), "%d: a fee of the whole amount or more forwards nothing (want below 1000000)", c.MediationFee.PPM)
	}
	seen := map[string]bool{}
	for i, n := range c.Neighbours {
		if !hexAddress.MatchString(n.Address) {
			v.fail(p("channels", "neighbours", i, "address"), "%q is not an address (0x and 40 hex digits)", n.Address)
		} else if seen[n.Address] {
			v.fail(p("channels", "neighbours", i, "address"), "%s listed twice", n.Address)
		}
		seen[n.Address] = true
		if _, _, err := net.SplitHostPort(n.Endpoint); err != nil {
			v.fail(p("channels", "neighbours", i, "endpoint"), "%q is not host:port", n.Endpoint)
		}
	}
}

func (v *validator) chain(c *Chain) {
	switch c.Backend {
	case "":
		c.Backend = "simulated"
	case "simulated":
	case "jsonrpc":
		if c.URL == "" {
			v.fail(p("chain", "url"), "missing: backend jsonrpc needs the chain's URL")
		}
		if !hexAddress.MatchString(c.Contract) {
			v.fail(p("chain", "contract"), "%q is not an address (0x and 40 hex digits)", c.Contract)
		}
	default:
		v.fail(p("chain", "backend"), "%q is not simulated or jsonrpc", c.Backend)
	}
	if c.Poll == 0 {
		c.Poll = 2 * time.Second
	} else if c.Poll < minChainPoll || c.Poll > maxChainPoll {
		v.fail(p("chain", "poll"), "%v outside %v..%v", c.Poll, minChainPoll, maxChainPoll)
	}
	if c.Confirmations == 0 {
		c.Confirmations = 1
	} else if c.Confirmations > maxConfirmations {
		v.fail(p("chain", "confirmations"), "%d above %d", c.Confirmations, maxConfirmations)
	}
}
