package sunspec

import (
	"context"
	"log/slog"
	"time"

	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
)

// battery802 keeps a SunSpec battery that carries model 802 told what the controller expects of it:
// a heartbeat (CtrlHb) with every battery write, which the writer sends at least every refresh, so
// a battery that watches it knows the controller is alive; and the reserve band (SoCRsvMin from the
// controller's reserve, SocRsvMax from its maximum state of charge), again at most once per
// refresh so that a battery that restarted gets it back.
type battery802 struct {
	dev                  *Device
	clk                  clock.Clock
	reserveMin, maxSoC   float64 // percent
	refresh              time.Duration
	log                  *slog.Logger
	beat                 uint16
	reserveOK            bool
	reserveAt            time.Time
	lastErrBeat, lastErr string // the last failure logged, so a device that lacks a point is not logged every write
}

func newBattery802(dev *Device, clk clock.Clock, reserve, socMax units.Fraction, refresh time.Duration, log *slog.Logger) *battery802 {
	return &battery802{dev: dev, clk: clk, reserveMin: float64(reserve) * 100, maxSoC: float64(socMax) * 100,
		refresh: refresh, log: log}
}

// afterWrite is called after each battery set-point write. Its failures are logged, not returned:
// the set-point itself was written, and the writer must not resend it for a heartbeat's sake.
func (b *battery802) afterWrite(ctx context.Context) {
	if !b.dev.Has(802) {
		return
	}
	b.beat++
	b.note("heartbeat", b.dev.BatteryHeartbeat(ctx, b.beat), &b.lastErrBeat)
	now := b.clk.Now()
	if b.reserveOK && now.Sub(b.reserveAt) < b.refresh {
		return
	}
	err := b.dev.SetBatteryReserve(ctx, b.reserveMin, b.maxSoC)
	b.note("reserve", err, &b.lastErr)
	if b.reserveOK = err == nil; b.reserveOK {
		b.reserveAt = now
	}
}

func (b *battery802) note(what string, err error, last *string) {
	if err == nil {
		*last = ""
		return
	}
	if b.log != nil && err.Error() != *last {
		b.log.Warn("model 802 "+what+" not written", "device", b.dev.Name, "err", err)
	}
	*last = err.Error()
}
