package mesh

import "time"

// A receiver holds each neighbour to a message budget, a byte budget and a budget of new authors
// (replay windows it makes the receiver open), and it punishes whatever goes over them, whatever the
// envelope's Hops or author claims: Hops is not signed, and an author's signature says nothing about
// who chose to push it down this link so fast. That is sound only because an honest unit never goes
// over: it paces everything it sends each neighbour (its own envelopes, relays, catch-up, queued and
// resent direct envelopes) to a fraction of the same budgets, which a community's units share. The
// margin (a sustained rate of paceRate of the budget, a burst of paceBurst of it) absorbs the jitter
// of a link: at full load a receiver sees no excess unless the link's delay varies by more than
// about two seconds.
const (
	paceRate  = 0.8
	paceBurst = 0.5
	// paceHoldPerPeer and paceHoldBytes bound what waits for a neighbour's budget; beyond them a
	// relay is not passed to that neighbour (it reaches it by another path or not at all: a
	// community sending more than its links carry loses gossip, it does not grow memory).
	paceHoldPerPeer = 1024
	paceHoldBytes   = 4 << 20
	// maxIntroduced bounds the streams a link remembers having carried. A link that carried more
	// treats every further stream as new: slower, never over the receiver's budget.
	maxIntroduced = 4096
)

// pacer is what this unit sends one neighbour, held to that neighbour's budgets.
type pacer struct {
	msgs, bytes, authors bucket
	// introduced holds the streams this link carried since it came up, so the receiver already
	// has their windows (it forgets nothing while the link is up but what it evicts when its table
	// is full, which MaxStreams sizes far above a community's authors).
	introduced   map[streamKey]struct{}
	own, relayed []queued // waiting for budget; own envelopes go first
	ownB, relayB int      // their bytes
}

func newPacer() *pacer { return &pacer{introduced: map[streamKey]struct{}{}} }

func (o Options) pacedRates() (msgRate, msgBurst, byteRate, byteBurst float64) {
	return o.RateMsgs * paceRate, o.BurstMsgs * paceBurst, o.RateBytes * paceRate, o.BurstBytes * paceBurst
}

// paceTake takes one message of size bytes from a neighbour's paced budget, or nothing.
func (r *router) paceTake(p *peerState, size int, now time.Time) bool {
	mr, mb, br, bb := r.opt.pacedRates()
	if !p.pace.msgs.ready(now, 1, mr, mb) || !p.pace.bytes.ready(now, float64(size), br, bb) {
		return false
	}
	p.pace.msgs.take(now, 1, mr, mb)
	p.pace.bytes.take(now, float64(size), br, bb)
	return true
}

// introduce reports whether an envelope of stream k may go to a neighbour as far as its budget of
// new authors goes, and records the stream as carried. The unit's own streams (two a link at most)
// always may: the relays' pacing leaves them room in the receiver's budget.
func (r *router) introduce(p *peerState, k streamKey, own bool, now time.Time) bool {
	if _, ok := p.pace.introduced[k]; ok {
		return true
	}
	rate, burst := r.opt.NewAuthorRate*paceRate, r.opt.NewAuthorBurst*paceBurst
	if !p.pace.authors.take(now, 1, rate, burst) && !own {
		return false
	}
	if len(p.pace.introduced) < maxIntroduced {
		p.pace.introduced[k] = struct{}{}
	}
	return true
}

// transmit sends a broadcast (own or relayed) to a neighbour within its budget, or holds it until
// there is budget. It reports whether the envelope went out or waits; false: it was not passed on.
func (r *router) transmit(p *peerState, q queued, own bool) bool {
	now := r.clk.Now()
	if !r.introduce(p, q.stream, own, now) {
		r.counters.Throttled++
		return false
	}
	ahead := len(p.pace.own)
	if !own {
		ahead += len(p.pace.relayed)
	}
	if ahead == 0 && r.paceTake(p, len(q.raw), now) {
		return r.sendNow(p, q, own)
	}
	if len(p.pace.own)+len(p.pace.relayed) >= paceHoldPerPeer || r.paceHeld+len(q.raw) > paceHoldBytes {
		r.counters.Throttled++
		return false
	}
	if own {
		p.pace.own = append(p.pace.own, q)
		p.pace.ownB += len(q.raw)
	} else {
		p.pace.relayed = append(p.pace.relayed, q)
		p.pace.relayB += len(q.raw)
	}
	r.paceHeld += len(q.raw)
	return true
}

func (r *router) sendNow(p *peerState, q queued, own bool) bool {
	if !p.link.send(q.code, q.raw, own) {
		return false
	}
	r.countOut(p, q.raw)
	if !own {
		r.counters.Relayed++
	}
	return true
}

// drainPaced sends what waited for a neighbour's budget, own envelopes first, as far as the budget
// has refilled.
func (r *router) drainPaced(p *peerState) {
	now := r.clk.Now()
	for _, own := range []bool{true, false} {
		list, held := &p.pace.relayed, &p.pace.relayB
		if own {
			list, held = &p.pace.own, &p.pace.ownB
		}
		sent := 0
		for _, q := range *list {
			if !r.paceTake(p, len(q.raw), now) {
				break
			}
			r.sendNow(p, q, own)
			*held -= len(q.raw)
			r.paceHeld -= len(q.raw)
			sent++
		}
		*list = append((*list)[:0], (*list)[sent:]...)
		if len(*list) > 0 {
			return
		}
	}
}

// dropPaced forgets what waited for a neighbour that went away: broadcasts it missed come back to
// it from the recent ones when it returns.
func (r *router) dropPaced(p *peerState) {
	r.paceHeld -= p.pace.ownB + p.pace.relayB
	p.pace.own, p.pace.relayed, p.pace.ownB, p.pace.relayB = nil, nil, 0, 0
}

// ready refills the bucket and reports whether it holds n tokens, taking none.
func (b *bucket) ready(now time.Time, n, rate, burst float64) bool {
	if !b.init {
		b.tokens, b.at, b.init = burst, now, true
	}
	if dt := now.Sub(b.at).Seconds(); dt > 0 {
		b.tokens = min(burst, b.tokens+dt*rate)
		b.at = now
	}
	return b.tokens >= n
}
