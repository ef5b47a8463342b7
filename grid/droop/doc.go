// Package droop simulates the frequency and voltage of an islanded microgrid held up by grid-forming
// inverters: each unit follows P–f and Q–V droop laws through a first-order response, the island's
// frequency obeys a swing equation with an aggregate inertia constant and damping, and its voltage a
// reactive balance with an aggregate time constant. Several units share a load change in proportion to
// their droop gains (rating ÷ droop).
//
// It is a pure, deterministic integrator: time advances only when the caller passes a later time taken
// from its injected clock; it never reads the wall clock.
package droop
