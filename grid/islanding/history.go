package islanding

import "time"

// historyLen bounds the frequency samples kept for the RoCoF window, so that a Detector stays a
// fixed-size value. With more samples per window than that (a 20 ms tick and a 2 s window), samples
// closer together than window/(historyLen-2) are not kept; the rate is then measured over a span of
// at least the window and at most window + window/(historyLen-2) + one tick.
const historyLen = 18

type freqSample struct {
	at time.Time
	f  float64
}

// rocofHistory is a ring of the latest frequency samples.
type rocofHistory struct {
	buf   [historyLen]freqSample
	start int // index of the oldest sample
	n     int
}

func (h *rocofHistory) at(i int) freqSample { return h.buf[(h.start+i)%historyLen] }

// push records a sample at t (unless it is closer than the decimation spacing to the newest one) and
// drops the samples no longer needed to span window back from t. It returns the oldest sample kept,
// which the rate is measured from.
func (h *rocofHistory) push(t time.Time, f float64, window time.Duration) (freqSample, bool) {
	spacing := window / (historyLen - 2)
	if h.n == 0 || t.Sub(h.at(h.n-1).at) >= spacing {
		if h.n == historyLen {
			h.start, h.n = (h.start+1)%historyLen, h.n-1
		}
		h.buf[(h.start+h.n)%historyLen] = freqSample{at: t, f: f}
		h.n++
	}
	// Keep the newest sample that is at least window old, and everything after it.
	for h.n > 1 && t.Sub(h.at(1).at) >= window {
		h.start, h.n = (h.start+1)%historyLen, h.n-1
	}
	if h.n == 0 {
		return freqSample{}, false
	}
	return h.at(0), true
}
