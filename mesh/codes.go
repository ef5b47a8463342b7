package mesh

import (
	"math/big"
	"slices"
)

type bigInt = big.Int

// Payload caps per code, far below devp2p's 16 MiB frame limit: a market iterate or a ledger frame is
// a few hundred bytes, so a peer that sends more is misbehaving, not busy.
var payloadCaps = map[Code]int{
	CodeMarket:    64 << 10,
	CodeLedger:    16 << 10,
	CodeTelemetry: 8 << 10,
	CodeGossip:    32 << 10,
}

// MaxEnvelopeSize is the largest encoded envelope of any code.
var MaxEnvelopeSize = maxPayloadCap() + envelopeOverhead + MaxCommunityLen

func maxPayloadCap() int {
	m := 0
	for _, c := range payloadCaps {
		m = max(m, c)
	}
	return m
}

// PayloadCap returns the largest payload the code may carry, and whether the code is known.
func PayloadCap(c Code) (int, bool) {
	n, ok := payloadCaps[c]
	return n, ok
}

// Codes returns the message codes the rest of the unit may use, in ascending order.
func Codes() []Code { return []Code{CodeMarket, CodeLedger, CodeTelemetry, CodeGossip} }

func sortAddresses(a []Address) {
	slices.SortFunc(a, func(x, y Address) int { return x.Cmp(y) })
}

func sortInts(a []int) { slices.Sort(a) }

// Both implementations are the same Mesh.
var (
	_ Mesh = (*Node)(nil)
	_ Mesh = (*MemNode)(nil)
)
