package hil

import (
	"math"
	"math/rand/v2"
)

// clouds is a seeded clear-sky index: the fraction of clear-sky irradiance that reaches the ground,
// one value a minute, interpolated in between. A day's cloudiness is drawn once; within it, clouds
// pass as a two-state Markov chain (clear ↔ shaded) with shading depth drawn per passage, which gives
// the minute-scale ramps that stress a controller. Time only moves forward, so it keeps just the two
// minutes around now: memory stays flat however long it runs, and the same seed gives the same sky.
type clouds struct {
	rng        *rand.Rand
	minute     int        // minute of window[0]
	window     [2]float64 // index at minute and minute+1
	cloudiness float64    // probability of being shaded this day
	shaded     bool
	depth      float64
	day        int
}

func newClouds(seed uint64) *clouds {
	c := &clouds{rng: rand.New(rand.NewPCG(seed, 0xc10d5)), day: -1}
	c.window[0] = c.next(0)
	c.window[1] = c.next(1)
	return c
}

// index returns the clear-sky index at elapsed seconds since the start; elapsed must not decrease.
func (c *clouds) index(elapsed float64) float64 {
	m := int(elapsed / 60)
	for c.minute < m {
		c.minute++
		c.window[0], c.window[1] = c.window[1], c.next(c.minute+1)
	}
	frac := elapsed/60 - float64(m)
	return c.window[0]*(1-frac) + c.window[1]*frac
}

// next draws the index of minute m (called once per minute, in order).
func (c *clouds) next(m int) float64 {
	if d := m / 1440; d != c.day {
		c.day = d
		// Most days are fair; some are overcast: the square of a uniform skews towards clear.
		u := c.rng.Float64()
		c.cloudiness = 0.05 + 0.6*u*u
	}
	c.step()
	k := 1.0
	if c.shaded {
		k = c.depth
	}
	// Small fast fluctuation on top (aerosols, thin cirrus).
	return k * (1 - 0.03*c.rng.Float64())
}

// step moves the Markov chain one minute. Mean shaded spell 8 min; the clear spell is set so that
// the stationary shaded share equals the day's cloudiness.
func (c *clouds) step() {
	const meanShaded = 8.0
	leaveShade := 1 / meanShaded
	enterShade := leaveShade * c.cloudiness / (1 - c.cloudiness)
	if c.shaded {
		if c.rng.Float64() < leaveShade {
			c.shaded = false
		}
		return
	}
	if c.rng.Float64() < enterShade {
		c.shaded = true
		c.depth = 0.2 + 0.5*c.rng.Float64()
	}
}

// minuteNoise is a seeded per-minute multiplicative noise source for loads: 1 ± amplitude, drawn
// once per minute in order and forgotten after.
type minuteNoise struct {
	rng    *rand.Rand
	minute int
	value  float64
	amp    float64
}

func newMinuteNoise(seed, stream uint64, amp float64) *minuteNoise {
	n := &minuteNoise{rng: rand.New(rand.NewPCG(seed, stream)), amp: amp}
	n.value = n.draw()
	return n
}

// at returns the noise of the minute holding elapsed seconds; elapsed must not decrease.
func (n *minuteNoise) at(elapsed float64) float64 {
	for m := int(elapsed / 60); n.minute < m; n.minute++ {
		n.value = n.draw()
	}
	return n.value
}

func (n *minuteNoise) draw() float64 { return 1 + n.amp*(2*n.rng.Float64()-1) }

// smoothstep is 0 before a, 1 after b and a cubic ramp between (for load shapes without jumps).
func smoothstep(a, b, x float64) float64 {
	t := math.Max(0, math.Min(1, (x-a)/(b-a)))
	return t * t * (3 - 2*t)
}
