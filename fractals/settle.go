package fractals

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// Trade is one committed bilateral trade of one period: Seller delivers Energy to Buyer at Price; the
// buyer also pays the feeder's NetworkCharge per kWh. Interval numbers the period (its start in Unix
// seconds), so (Interval, ID) names a trade for ever.
type Trade struct {
	Interval      int64             `json:"interval"`
	ID            string            `json:"id"`
	Seller, Buyer string            `json:"-"`
	Energy        units.WattHours   `json:"energy_wh"`
	Price         units.PricePerKWh `json:"price"`
	NetworkCharge units.PricePerKWh `json:"network_charge"`
}

// MeterReading is a unit's metered net exchange over one period, positive importing.
type MeterReading struct {
	Unit      string          `json:"unit"`
	Interval  int64           `json:"interval"`
	Seconds   int64           `json:"seconds"`
	NetImport units.WattHours `json:"net_import_wh"`
}

// SignedReading is a reading with its unit's Ed25519 signature over Encode().
type SignedReading struct {
	Reading   MeterReading
	Signature []byte
}

const readingMagic = "FRMR1"

// maxUnitName bounds a unit's name in a reading, so a decoder never allocates what a peer asks.
const maxUnitName = 64

// maxMilliWh bounds a reading (a TWh per period) so that milliwatt-hours convert to float64 and back
// exactly.
const maxMilliWh = 1e15

// Encode is the reading's canonical form, the bytes its unit signs (unit names are at most 64 bytes):
// magic, name length and name, interval, seconds and the net import in milliwatt-hours (an integer,
// so a reading has one encoding).
func (r MeterReading) Encode() []byte {
	b := make([]byte, 0, len(readingMagic)+1+len(r.Unit)+24)
	b = append(b, readingMagic...)
	b = append(b, byte(len(r.Unit)))
	b = append(b, r.Unit...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Interval))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seconds))
	b = binary.BigEndian.AppendUint64(b, uint64(int64(math.Round(float64(r.NetImport)*1000))))
	return b
}

// SignReading signs r with key. The shell writes the signed reading to disk before sending it.
func SignReading(r MeterReading, key ed25519.PrivateKey) SignedReading {
	r.NetImport = units.WattHours(math.Round(float64(r.NetImport)*1000) / 1000) // what the encoding keeps
	return SignedReading{Reading: r, Signature: ed25519.Sign(key, r.Encode())}
}

// Marshal is the signed reading on the wire: the canonical reading, then the 64-byte signature.
func (s SignedReading) Marshal() []byte { return append(s.Reading.Encode(), s.Signature...) }

// UnmarshalSignedReading decodes what Marshal wrote; errors say which field and at which byte.
func UnmarshalSignedReading(b []byte) (SignedReading, error) {
	if len(b) < len(readingMagic)+1 || string(b[:len(readingMagic)]) != readingMagic {
		return SignedReading{}, fmt.Errorf("meter reading: magic at byte 0: want %q", readingMagic)
	}
	off := len(readingMagic)
	n := int(b[off])
	off++
	if n == 0 || n > maxUnitName {
		return SignedReading{}, fmt.Errorf("meter reading: unit name length %d at byte %d, want 1..%d", n, off-1, maxUnitName)
	}
	want := off + n + 24 + ed25519.SignatureSize
	if len(b) != want {
		return SignedReading{}, fmt.Errorf("meter reading: %d bytes, want %d for a %d-byte unit name", len(b), want, n)
	}
	var r MeterReading
	r.Unit = string(b[off : off+n])
	off += n
	r.Interval = int64(binary.BigEndian.Uint64(b[off:]))
	r.Seconds = int64(binary.BigEndian.Uint64(b[off+8:]))
	milli := int64(binary.BigEndian.Uint64(b[off+16:]))
	if milli > maxMilliWh || milli < -maxMilliWh {
		return SignedReading{}, fmt.Errorf("meter reading: net import %d mWh at byte %d, want |x| ≤ %d", milli, off+16, int64(maxMilliWh))
	}
	r.NetImport = units.WattHours(float64(milli) / 1000)
	if r.Seconds <= 0 || r.Seconds > 86400 {
		return SignedReading{}, fmt.Errorf("meter reading: period of %d s at byte %d, want 1..86400", r.Seconds, off+8)
	}
	off += 24
	return SignedReading{Reading: r, Signature: append([]byte(nil), b[off:]...)}, nil
}

// Verify checks the signature with the unit's key.
func (s SignedReading) Verify(key ed25519.PublicKey) bool {
	return len(key) == ed25519.PublicKeySize && len(s.Signature) == ed25519.SignatureSize &&
		ed25519.Verify(key, s.Reading.Encode(), s.Signature)
}

// IntentKey makes payments idempotent: one payment per (interval, trade), whatever restarts happen.
type IntentKey struct {
	Interval int64  `json:"interval"`
	Trade    string `json:"trade"`
}

// PaymentIntent is one payment the shell hands to the ledger.
type PaymentIntent struct {
	Key    IntentKey   `json:"key"`
	From   string      `json:"from"`
	To     string      `json:"to"`
	Amount units.Money `json:"amount"`
}

// Accounts that are not units.
const (
	GridAccount      = "grid"                // the utility, through the grid agent
	NetworkAccount   = "network"             // the feeder's network charges
	ImbalanceAccount = "community/imbalance" // the island's imbalance pool
)

// Hold is a trade not paid, and why.
type Hold struct {
	Key    IntentKey `json:"key"`
	Reason string    `json:"reason"`
}

// Period is everything one unit settles for one period.
type Period struct {
	Unit     string
	Interval int64
	Seconds  int64
	Mode     Mode
	Trades   []Trade // the committed trades the unit is party to (its grid-agent trades included)
	Own      MeterReading
	Readings []SignedReading              // the counterparties' signed readings, and any others received
	Keys     map[string]ed25519.PublicKey // the community's known unit keys
	// Feeder, when known, is the community's check: the energy imported at the feeder head and the
	// losses on the feeder over the period. The readings of all units must add up to head − losses.
	Feeder *FeederBalance
	// ImportPrice and ExportPrice are the grid agent's prices of the period (connected); ClearingPrice
	// is the community's price of the period, the island's imbalance price.
	ImportPrice, ExportPrice, ClearingPrice units.PricePerKWh
	// Tolerance is the disagreement in Wh accepted between meters (their accuracy class).
	Tolerance units.WattHours
}

// FeederBalance is what the feeder head's meter and the feeder's power flow say about a period.
type FeederBalance struct {
	HeadImport units.WattHours
	Losses     units.WattHours
	Units      int // how many units' readings make up the balance
}

// Settlement is the outcome of one period for one unit.
type Settlement struct {
	Intents []PaymentIntent `json:"intents"` // what this unit pays (new ones only)
	Expect  []PaymentIntent `json:"expect"`  // what it should receive
	Held    []Hold          `json:"held"`
	// Imbalance is the metered net import minus the committed one, positive drawing more than bought.
	Imbalance      units.WattHours   `json:"imbalance_wh"`
	ImbalancePrice units.PricePerKWh `json:"imbalance_price"`
	Disagreements  []string          `json:"disagreements"`
}

// Settle settles one period for one unit: every trade at its committed quantity and price, the
// difference between the metered and the committed net exchange as imbalance (with the grid agent at
// its tariff when connected, with the community's imbalance pool at the period's clearing price when
// islanded). A trade is held, not paid, when its counterparty's signed reading is missing or does not
// verify, or when the readings disagree with the feeder's balance beyond the tolerance. done holds
// the intents already issued: they are never issued again. Settle is pure: the same inputs give the
// same outcome.
func Settle(p *Period, done map[IntentKey]bool) Settlement {
	var out Settlement
	readings, bad := p.verifiedReadings()
	out.Disagreements = append(out.Disagreements, bad...)
	feederOK := true
	if p.Feeder != nil {
		if ok, why := p.feederAgrees(readings); !ok {
			feederOK = false
			out.Disagreements = append(out.Disagreements, why)
		}
	}
	var committed units.WattHours
	for _, t := range p.Trades {
		key := IntentKey{Interval: p.Interval, Trade: t.ID}
		buyer := t.Buyer == p.Unit
		if buyer {
			committed += t.Energy
		} else if t.Seller == p.Unit {
			committed -= t.Energy
		} else {
			continue
		}
		other := t.Seller
		if !buyer {
			other = t.Buyer
		}
		if reason := holdReason(other, readings, feederOK); reason != "" {
			out.Held = append(out.Held, Hold{Key: key, Reason: reason})
			continue
		}
		pay := PaymentIntent{Key: key, From: t.Buyer, To: t.Seller, Amount: t.Price.Cost(t.Energy)}
		if !buyer {
			out.Expect = append(out.Expect, pay)
			continue
		}
		if done[key] {
			continue
		}
		out.Intents = append(out.Intents, pay)
		if t.NetworkCharge != 0 && other != GridAccount {
			nk := IntentKey{Interval: p.Interval, Trade: t.ID + "/network"}
			if !done[nk] {
				out.Intents = append(out.Intents, PaymentIntent{Key: nk, From: p.Unit, To: NetworkAccount, Amount: t.NetworkCharge.Cost(t.Energy)})
			}
		}
	}
	out.Imbalance = p.Own.NetImport - committed
	out.settleImbalance(p, done)
	return out
}

// settleImbalance pays or expects the imbalance: connected with the grid (shortfall at the import
// tariff, surplus at the export price), islanded with the community pool at the clearing price.
func (out *Settlement) settleImbalance(p *Period, done map[IntentKey]bool) {
	if math.Abs(float64(out.Imbalance)) <= float64(p.Tolerance) {
		return
	}
	key := IntentKey{Interval: p.Interval, Trade: p.Unit + "/imbalance"}
	counter := GridAccount
	price := p.ImportPrice
	if out.Imbalance < 0 {
		price = p.ExportPrice
	}
	if p.Mode == Islanded {
		counter, price = ImbalanceAccount, p.ClearingPrice
	}
	out.ImbalancePrice = price
	if out.Imbalance < 0 {
		out.Expect = append(out.Expect, PaymentIntent{Key: key, From: counter, To: p.Unit, Amount: price.Cost(-out.Imbalance)})
		return
	}
	if !done[key] {
		out.Intents = append(out.Intents, PaymentIntent{Key: key, From: p.Unit, To: counter, Amount: price.Cost(out.Imbalance)})
	}
}

// verifiedReadings keeps the readings of this period whose signature verifies with their unit's key;
// the others are recorded. A unit sending two different valid readings for one period is recorded and
// neither is kept.
func (p *Period) verifiedReadings() (map[string]MeterReading, []string) {
	ok := map[string]MeterReading{p.Unit: p.Own}
	var bad []string
	conflicted := map[string]bool{}
	for _, s := range p.Readings {
		r := s.Reading
		switch {
		case r.Interval != p.Interval || r.Seconds != p.Seconds:
			bad = append(bad, fmt.Sprintf("reading from %q for interval %d (%d s): not this period", r.Unit, r.Interval, r.Seconds))
		case !s.Verify(p.Keys[r.Unit]):
			bad = append(bad, fmt.Sprintf("reading claiming %q: signature does not verify with its key", r.Unit))
		case r.Unit == p.Unit:
			if math.Abs(float64(r.NetImport-p.Own.NetImport)) > 1e-3 {
				bad = append(bad, fmt.Sprintf("reading under our own name with %.3f Wh, our meter says %.3f Wh", float64(r.NetImport), float64(p.Own.NetImport)))
			}
		default:
			if prev, seen := ok[r.Unit]; seen && prev != r {
				conflicted[r.Unit] = true
				bad = append(bad, fmt.Sprintf("%q signed two readings for interval %d", r.Unit, r.Interval))
			}
			ok[r.Unit] = r
		}
	}
	for u := range conflicted {
		delete(ok, u)
	}
	sort.Strings(bad)
	return ok, bad
}

// feederAgrees checks the sum of the readings against the feeder head less the losses.
func (p *Period) feederAgrees(readings map[string]MeterReading) (bool, string) {
	if len(readings) < p.Feeder.Units {
		return true, "" // not every unit's reading is here: the balance cannot be checked yet
	}
	var sum units.WattHours
	for _, r := range readings {
		sum += r.NetImport
	}
	gap := sum + p.Feeder.Losses - p.Feeder.HeadImport
	if math.Abs(float64(gap)) <= float64(p.Tolerance)*float64(max(1, p.Feeder.Units)) {
		return true, ""
	}
	return false, fmt.Sprintf("interval %d: units' readings sum to %.1f Wh, the feeder head less losses says %.1f Wh (off by %.1f Wh)",
		p.Interval, float64(sum), float64(p.Feeder.HeadImport-p.Feeder.Losses), float64(gap))
}

// holdReason says why a trade with other may not be paid, or "".
func holdReason(other string, readings map[string]MeterReading, feederOK bool) string {
	if other == GridAccount {
		return "" // the utility's meter is the unit's own
	}
	if _, ok := readings[other]; !ok {
		return fmt.Sprintf("no valid signed meter reading from %q", other)
	}
	if !feederOK {
		return "the period's readings disagree with the feeder balance"
	}
	return ""
}

// PeriodOf numbers the period that contains t for a given interval: its start in Unix seconds.
func PeriodOf(t time.Time, interval time.Duration) int64 {
	return t.Truncate(interval).Unix()
}
