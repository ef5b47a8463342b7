package mesh

// windowBits is how far below the highest sequence number seen an envelope may arrive and still be
// accepted once: gossip takes different paths, so a stream's envelopes arrive a little out of order.
const windowBits = 256

// window remembers which sequence numbers of one (author, destination) stream were delivered: the
// highest, and a bitmap of the windowBits below it. Anything older than the window is a replay.
type window struct {
	highest  uint64
	bits     [windowBits / 64]uint64 // bit i set: highest-i was delivered
	lastUsed int64                   // Unix ms, for evicting idle streams
	started  bool
}

// seen reports whether seq was delivered already or is too old to tell (both: drop it).
func (w *window) seen(seq uint64) bool {
	if !w.started || seq > w.highest {
		return false
	}
	d := w.highest - seq
	if d >= windowBits {
		return true
	}
	return w.bits[d/64]&(1<<(d%64)) != 0
}

// belowWindow reports whether seq is too old for the window to tell whether it was delivered. Such
// an envelope is dropped but never acknowledged: the sender keeps it and sends it again (it bounds
// what it has unacknowledged to the window, so this happens only to a stream the window lost).
func (w *window) belowWindow(seq uint64) bool {
	return w.started && seq < w.highest && w.highest-seq >= windowBits
}

// mark records seq as delivered. The caller checked seen first.
func (w *window) mark(seq uint64) {
	if !w.started {
		w.started, w.highest, w.bits[0] = true, seq, 1
		return
	}
	if seq > w.highest {
		w.shift(seq - w.highest)
		w.highest = seq
		w.bits[0] |= 1
		return
	}
	d := w.highest - seq
	w.bits[d/64] |= 1 << (d % 64)
}

// shift moves the bitmap n positions towards older sequence numbers.
func (w *window) shift(n uint64) {
	if n >= windowBits {
		w.bits = [windowBits / 64]uint64{}
		return
	}
	words, bitsN := int(n/64), n%64
	var out [windowBits / 64]uint64
	for i := len(w.bits) - 1; i >= 0; i-- {
		src := i - words
		if src < 0 {
			continue
		}
		out[i] = w.bits[src] << bitsN
		if bitsN != 0 && src > 0 {
			out[i] |= w.bits[src-1] >> (64 - bitsN)
		}
	}
	w.bits = out
}
