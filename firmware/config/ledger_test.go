package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

const channelsSection = `
chain:
  backend: jsonrpc
  url: http://127.0.0.1:8545
  contract: "0x00000000000000000000000000000000000000be"
  confirmations: 3
  gas_limit: 500000
channels:
  listen: 127.0.0.1:7400
  store: /var/lib/fractals/ledger.db
  key_file: /var/lib/fractals/key.hex
  deposit: 100000
  mediation_fee: {flat: 2, ppm: 500}
  neighbours:
    - address: "0x1111111111111111111111111111111111111111"
      endpoint: 10.0.0.2:7400
`

func TestChannelsSection(t *testing.T) {
	base, err := os.ReadFile("testdata/unit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	u, err := Parse("unit.yaml", strings.NewReader(string(base)+channelsSection))
	if err != nil {
		t.Fatal(err)
	}
	if u.Chain.Backend != "jsonrpc" || u.Chain.Confirmations != 3 || u.Chain.GasLimit != 500000 || u.Chain.Poll != 2*time.Second {
		t.Fatalf("chain %+v", u.Chain)
	}
	if c := u.Channels; c.Deposit != 100000 || c.SettleTimeout != time.Hour || len(c.Neighbours) != 1 || c.Neighbours[0].Endpoint != "10.0.0.2:7400" {
		t.Fatalf("channels %+v", c)
	}
	if f := u.Channels.MediationFee; f.Flat != 2 || f.PPM != 500 {
		t.Fatalf("mediation fee %+v, want flat 2 ppm 500", f)
	}
	// Without a chain section the channels settle on the embedded simulated chain.
	noChain := channelsSection[strings.Index(channelsSection, "channels:"):]
	if u, err := Parse("unit.yaml", strings.NewReader(string(base)+"\n"+noChain)); err != nil || u.Chain.Backend != "simulated" {
		t.Fatalf("default chain: %+v, %v", u, err)
	}
	for _, c := range []struct{ from, to, want string }{
		{"backend: jsonrpc", "backend: ipc", `chain.backend: "ipc" is not simulated or jsonrpc`},
		{`contract: "0x00000000000000000000000000000000000000be"`, `contract: "0xbe"`, `chain.contract: "0xbe" is not an address`},
		{"listen: 127.0.0.1:7400", "listen: 7400", `channels.listen: "7400" is not host:port`},
		{`"0x1111111111111111111111111111111111111111"`, `"0x11"`, `channels.neighbours[0].address: "0x11" is not an address`},
		{"endpoint: 10.0.0.2:7400", "endpoint: nowhere", `channels.neighbours[0].endpoint: "nowhere" is not host:port`},
		{"confirmations: 3", "confirmations: 5000", "chain.confirmations: 5000 above 1000"},
		{"ppm: 500", "ppm: 1000000", "channels.mediation_fee.ppm: 1000000: a fee of the whole amount"},
	} {
		_, err := Parse("unit.yaml", strings.NewReader(string(base)+strings.Replace(channelsSection, c.from, c.to, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s -> %s: got %v, want %q", c.from, c.to, err, c.want)
		}
	}
}
