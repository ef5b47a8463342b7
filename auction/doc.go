// Package auction holds the markets in which units trade energy: bids and bid curves, curve aggregation
// for hierarchical clusters, uniform-price double-auction clearing, prosumer agents derived from
// service-level agreements, and multi-period welfare maximisation both centralised (a linear program)
// and distributed (primal-dual ADMM exchange, one agent per unit). It is a pure package: no clock, no
// network, no disk.
package auction
