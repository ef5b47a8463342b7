// Package auction holds the markets in which units trade energy: bids and bid curves, curve aggregation
// for hierarchical clusters, uniform-price double-auction clearing, prosumer agents derived from
// service-level agreements, multi-period welfare maximisation both centralised (a linear program)
// and distributed (primal-dual ADMM exchange, one agent per unit), and the market peers a unit runs
// against its neighbours: bilateral consensus ADMM, or the fractal cluster tree. It is a pure package: no clock, no
// network, no disk.
//
// What is where:
//
//   - bid.go, clear.go: step bids and the uniform-price clearing of one interval with GridLAB-D's
//     outcomes (exact, marginal seller/buyer/price, null, failure), price cap, bid offset, pro-rata
//     sharing at the margin. Market.Clear is the fast path (select.go: a histogram over prices and an
//     exact walk of only the buckets around the crossing, no full sort); Market.ClearReference sorts
//     everything and is the oracle the tests hold Clear to.
//   - curve.go: PowerMatcher-style curves on a price grid; Aggregate sums members into a cluster and
//     Curve.Bids turns the cluster back into bids for the auction above (the fractal structure).
//   - agent.go, lpmodel.go: the SLA agents (load, flexible load, battery, PV, grid) and their block of the
//     welfare linear program, in kW, kWh and money per period.
//   - central.go, solve.go: the centralised reference, a Mehrotra interior-point method that eliminates
//     each agent's block and solves a T×T Schur complement per step (linear in the number of agents).
//   - prox.go, battery.go, admm.go, warmstart.go: the distributed method. Each agent's step is an exact
//     proximal operator of its own cost (closed form; bisection to adjacent floats for the flexible
//     load's budget; a taut string through the energy tube for the battery) and a pure function of its
//     state and the coordinator's Signal; the coordinator's update is a pure function of the responses.
//   - restore.go: the stop. Each agent also reports its dual value at the broadcast prices (their sum
//     bounds the welfare from above) and its single-period moves with their costs; the coordinator
//     closes each period's imbalance with the cheapest moves and stops when that exactly balanced
//     schedule is certified within 0.09 % of the bound, measured against the welfare without the value
//     of unresponsive demand served (which would otherwise dwarf what prices decide). The reported
//     prices are those of the best bound, kept with the certificate.
//   - community.go, communityjson.go: the bilateral market. A Community is Units (each the aggregate of
//     its Agents) and Links (A, B, ChargePerKWh, MaxW); every unit balances its agents against its
//     trades in every period, so a unit may buy from one neighbour and sell to another (relaying). Each
//     link has two directed trades; a kWh over a link pays its charge, half by each side.
//     SolveCommunity(c) is the central optimum (the interior point above with one balance row per unit
//     and period); ReadCommunity/WriteCommunity are the strict JSON form `fractals auction solve` takes
//     (`--method central|consensus`) and a shell writes to dump an interval; IsCommunityInput tells it
//     from a pooled Problem.
//   - peer.go, peermsg.go: the consensus market peer, the bilateral-trade ADMM of Sorin, Bobo & Pinson
//     (IEEE TPWRS 2019) over the horizon as a pure state machine. NewConsensusPeer(PeerConfig{ID,
//     Interval, Periods, PeriodHours, Agents, Neighbours, Rho, Tolerance, MaxIterations, Hops, Start,
//     ResendAfter, SilenceTimeout, StopBy, Deadline}) solves iteration 0; then the shell calls
//     Step(from, payload, now) for every market message (from = the author the mesh verified),
//     Tick(now) regularly (resends after ResendAfter, drops a neighbour silent for SilenceTimeout and
//     tells it with a leave, StopBy forces the stop, Deadline gives up with no trades), and Ready() for
//     the Outbound{To, Payload} messages to send and, once, the *IntervalResult: Converged, Reason, the
//     committed iteration, Trades (Partner, Period, BuyW, PricePerKWh: the partner's record has
//     -BuyW and the same price, bit for bit), the agents' Schedules (W), AgentWelfare, NetworkCharges,
//     ImbalanceW, Dropped, MessagesSent. One message per neighbour per iteration (resends apart):
//     PeerMessage{Kind, Interval, Iteration, Streak, Stop, SellKW, BuyKW}, binary, strictly decoded by
//     DecodePeerMessage. Prices are never sent: both ends update them from the same two numbers.
//     Iterations go in lockstep along links; the stop is decided with no centre (a streak of locally
//     converged iterations of at least Hops, which must be at least the mesh's diameter, floods as Stop,
//     and every peer commits that iteration Hops+2 iterations later). Messages of another interval are
//     refused with ErrOtherInterval (a late joiner waits for the next interval); from a unit that is
//     not a neighbour with ErrNotNeighbour. What it does not defend against yet: a neighbour's own
//     false numbers (its quantities, a Stop of 0) move its own trades, and a peer that hits Deadline
//     commits nothing while its partners may have committed.
//   - runner.go: RunConsensus(c, tune) runs one ConsensusPeer per unit in process over a lossless queue
//     and sums their results (ConsensusRun): how the CLI re-solves a dumped interval, and the benchmark.
//   - fractal.go: the fractal option behind the same MarketPeer interface (Step, Tick, Ready):
//     NewFractalPeer(FractalConfig{ID, Interval, Parent, Children, Bids, Grid, Start, ChildTimeout,
//     PriceTimeout}) sends its subtree's curve (own bids plus children's curves) to its parent; the root
//     clears at the curve's equilibrium and the price comes down; each unit trades its subtree's net
//     demand with its parent. One period; FractalMessage, DecodeFractalMessage.
//   - json.go, dupkeys.go: the strict readers and writers behind `fractals auction clear|solve`. Each bid and agent
//     is decoded on its own, so every error names its index, id and field in JSON's terms; every field
//     an agent's kind takes is required (but a battery's initial_wh) and no other is accepted. A key
//     repeated in one object (at any depth), a bid id or an agent id used twice is refused by name.
//
// Conventions: a schedule is net power in W per period, consumption positive (a charging battery and an
// exporting grid connection are positive); prices are per kWh.
//
// What it must not do: import anything above internal and gonum, read the clock, do I/O beyond the
// io.Reader handed to the JSON readers, or loop forever: every iterative method has an iteration limit
// and reports ErrNotConverged.
package auction
