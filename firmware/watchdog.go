package firmware

import (
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// Watchdog tells systemd the unit is ready after its first control cycle and keeps systemd's watchdog
// fed from the control loop itself: if the cycle stalls, the pings stop and systemd restarts the
// daemon. Outside systemd (no NOTIFY_SOCKET) it does nothing.
type Watchdog struct {
	every    time.Duration // half of WatchdogSec; 0: no watchdog
	ready    bool
	lastPing time.Time
	notify   func(state string) // sd_notify; replaced in tests
}

// NewWatchdog reads systemd's watchdog setting from the environment.
func NewWatchdog() *Watchdog {
	every, _ := sd.SdWatchdogEnabled(false)
	return &Watchdog{every: every / 2, notify: func(state string) { _, _ = sd.SdNotify(false, state) }}
}

// Observe sends READY=1 once, then WATCHDOG=1 every half watchdog period. It uses the wall clock (the
// watchdog is about the real process, not unit time) and costs one datagram when it sends.
func (w *Watchdog) Observe(_ *Status, _ time.Duration) {
	if !w.ready {
		w.ready = true
		w.notify(sd.SdNotifyReady)
	}
	if w.every == 0 {
		return
	}
	if now := time.Now(); now.Sub(w.lastPing) >= w.every {
		w.lastPing = now
		w.notify(sd.SdNotifyWatchdog)
	}
}

// Stop tells systemd the daemon is stopping.
func (w *Watchdog) Stop() { w.notify(sd.SdNotifyStopping) }
