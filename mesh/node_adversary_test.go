package mesh

import (
	"bytes"
	"crypto/ecdsa"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/p2p"
)

// attacker is a real devp2p server that speaks the fractals handshake correctly and then runs act on
// the link. Its done channel closes when the victim drops the link.
type attacker struct {
	key  *ecdsa.PrivateKey
	srv  *p2p.Server
	done chan struct{}
	got  chan []byte // envelopes the victim sent us
	err  error       // why the link ended, once done is closed
}

func startAttacker(t *testing.T, victim *Node, act func(a *attacker, rw p2p.MsgReadWriter)) *attacker {
	t.Helper()
	return startAttackerKey(t, victim, SeededKey(666, 0), act)
}

func startAttackerKey(t *testing.T, victim *Node, key *ecdsa.PrivateKey, act func(a *attacker, rw p2p.MsgReadWriter)) *attacker {
	t.Helper()
	a := &attacker{key: key, done: make(chan struct{}), got: make(chan []byte, 4096)}
	run := func(p *p2p.Peer, rw p2p.MsgReadWriter) (err error) {
		defer func() { a.err = err; close(a.done) }()
		sent := make(chan error, 1)
		go func() { sent <- p2p.Send(rw, msgHello, helloMsg{Version: ProtocolVersion, Community: testCommunity}) }()
		if _, err := readHello(rw); err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		if err := <-sent; err != nil { // the attack starts only after our hello is out
			return fmt.Errorf("handshake: %w", err)
		}
		go act(a, rw)
		for {
			msg, err := rw.ReadMsg()
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(msg.Payload)
			if msg.Code >= 0x10 {
				select {
				case a.got <- buf.Bytes():
				default:
				}
			}
		}
	}
	a.srv = &p2p.Server{Config: p2p.Config{PrivateKey: a.key, MaxPeers: 5, ListenAddr: "127.0.0.1:0", NoDiscovery: true,
		Protocols: []p2p.Protocol{{Name: ProtocolName, Version: ProtocolVersion, Length: protoLen, Run: run}}}}
	if err := a.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.srv.Stop)
	a.srv.AddPeer(victim.Enode())
	return a
}

func writeRaw(rw p2p.MsgWriter, code uint64, raw []byte) error {
	return rw.WriteMsg(p2p.Msg{Code: code, Size: uint32(len(raw)), Payload: bytes.NewReader(raw)})
}

func (a *attacker) envelope(code Code, seq uint64, payload []byte) *Envelope {
	e := &Envelope{Code: code, Community: testCommunity, Seq: seq, ExpiryMs: uint64(time.Now().Add(time.Minute).UnixMilli()), Payload: payload}
	_ = e.Sign(a.key)
	return e
}

// victimSetup: honest node h linked to victim v; returns h's gossip and telemetry subscriptions.
func victimSetup(t *testing.T) (v, h *Node, seen Subscription) {
	nodes := staticMesh(t, 2, [][]int{{1}})
	v, h = nodes[0], nodes[1]
	return v, h, h.Subscribe(CodeGossip)
}

func expectDropped(t *testing.T, a *attacker, v *Node) {
	t.Helper()
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		t.Fatal("victim never dropped the attacker")
	}
	eventually(t, 5*time.Second, "attacker still counted as a peer", func() bool { return v.PeerCount() == 1 })
	me := crypto.PubkeyToAddress(a.key.PublicKey)
	for _, p := range v.Peers() {
		if p.Address == me && (p.Connected || p.Score > v.opt.DisconnectScore) {
			t.Fatalf("attacker after the drop: %+v", p)
		}
	}
	if r := v.refusal(me, &helloMsg{Version: ProtocolVersion, Community: testCommunity}); !strings.Contains(r, "misbehaviour") {
		t.Fatalf("attacker not banned: refusal %q (its link ended with: %v; victim's view %+v)", r, a.err, v.Peers())
	}
}

// honestStillFlows checks that h saw nothing of the attack and still gets v's broadcasts.
func honestStillFlows(t *testing.T, v *Node, seen Subscription, allowFrom *attacker, allowUpTo int) {
	t.Helper()
	if err := v.Broadcast(CodeGossip, []byte("honest")); err != nil {
		t.Fatal(err)
	}
	from := Address{}
	if allowFrom != nil {
		from = crypto.PubkeyToAddress(allowFrom.key.PublicKey)
	}
	extra := 0
	for {
		select {
		case m := <-seen.C():
			if string(m.Payload) == "honest" && m.From == v.Self() {
				if extra > allowUpTo {
					t.Fatalf("honest node got %d of the attacker's messages, want at most %d", extra, allowUpTo)
				}
				return
			}
			if m.From != from || allowFrom == nil {
				t.Fatalf("honest node got %+v", m)
			}
			extra++
		case <-time.After(10 * time.Second):
			t.Fatal("honest broadcast never arrived")
		}
	}
}

func TestNodeAdversaryOversizedFrameDisconnected(t *testing.T) {
	v, _, seen := victimSetup(t)
	a := startAttacker(t, v, func(a *attacker, rw p2p.MsgReadWriter) {
		for range 3 {
			if writeRaw(rw, uint64(CodeTelemetry), make([]byte, 1<<20)) != nil {
				return
			}
		}
	})
	expectDropped(t, a, v)
	honestStillFlows(t, v, seen, nil, 0)
}

func TestNodeAdversaryMalformedAndWrongCodeDisconnected(t *testing.T) {
	v, _, seen := victimSetup(t)
	a := startAttacker(t, v, func(a *attacker, rw p2p.MsgReadWriter) {
		good := a.envelope(CodeGossip, 1, []byte("x")).Encode()
		_ = writeRaw(rw, uint64(CodeMarket), good) // right bytes under the wrong code
		for range 5 {
			if writeRaw(rw, uint64(CodeGossip), []byte{0xde, 0xad, 0xbe, 0xef}) != nil {
				return
			}
		}
	})
	expectDropped(t, a, v)
	honestStillFlows(t, v, seen, nil, 0)
}

func TestNodeAdversaryForeignSignatureDisconnected(t *testing.T) {
	v, h, seen := victimSetup(t)
	a := startAttacker(t, v, func(a *attacker, rw p2p.MsgReadWriter) {
		for i := range 3 {
			e := a.envelope(CodeGossip, uint64(i), []byte("h says: sell me everything"))
			e.Author = h.Self()
			if writeRaw(rw, uint64(CodeGossip), e.Encode()) != nil {
				return
			}
		}
	})
	expectDropped(t, a, v)
	honestStillFlows(t, v, seen, nil, 0)
}

func TestNodeAdversaryReplaysDropped(t *testing.T) {
	v, h, seen := victimSetup(t)
	if err := h.Broadcast(CodeGossip, []byte("original")); err != nil {
		t.Fatal(err)
	}
	a := startAttacker(t, v, func(a *attacker, rw p2p.MsgReadWriter) {
		raw := <-a.got // the victim hands over its recent broadcasts on connect
		for range 50 {
			if writeRaw(rw, uint64(CodeGossip), raw) != nil {
				return
			}
		}
	})
	eventually(t, 10*time.Second, "victim did not see the 50 replays", func() bool { return v.Stats().Duplicates >= 50 })
	honestStillFlows(t, v, seen, nil, 0)
	select {
	case <-a.done:
		t.Fatal("replays cost a link: honest relays produce them too")
	default:
	}
}

func TestNodeAdversaryFloodDisconnected(t *testing.T) {
	v, _, seen := victimSetup(t)
	a := startAttacker(t, v, func(a *attacker, rw p2p.MsgReadWriter) {
		for i := range 20000 {
			if writeRaw(rw, uint64(CodeGossip), a.envelope(CodeGossip, uint64(i+1), []byte("spam")).Encode()) != nil {
				return
			}
		}
	})
	expectDropped(t, a, v)
	honestStillFlows(t, v, seen, a, 2500)
}

// signedBy is an envelope of the test community signed by key, with the hop count an attacker
// chooses (it is not signed).
func signedBy(key *ecdsa.PrivateKey, seq uint64, hops uint8, payload string) []byte {
	e := &Envelope{Code: CodeGossip, Community: testCommunity, Seq: seq, ExpiryMs: uint64(time.Now().Add(time.Minute).UnixMilli()),
		Payload: []byte(payload), Hops: hops}
	_ = e.Sign(key)
	return e.Encode()
}

// A neighbour that floods with envelopes it claims only to relay (Hops 3, an honest author's
// broadcast replayed) is disconnected: Hops is not signed, so it cannot excuse going over the
// per-peer budget. (Replays within the budget still cost nothing: see TestNodeAdversaryReplaysDropped.)
func TestNodeAdversaryFloodOfRelayedReplaysDisconnected(t *testing.T) {
	v, h, seen := victimSetup(t)
	if err := h.Broadcast(CodeGossip, []byte("original")); err != nil {
		t.Fatal(err)
	}
	a := startAttacker(t, v, func(a *attacker, rw p2p.MsgReadWriter) {
		raw := <-a.got // the victim hands over its recent broadcasts on connect
		e, err := DecodeEnvelope(raw)
		if err != nil {
			return
		}
		e.Hops = 3
		relayed := e.Encode()
		for range 20000 {
			if writeRaw(rw, uint64(CodeGossip), relayed) != nil {
				return
			}
		}
	})
	expectDropped(t, a, v)
	honestStillFlows(t, v, seen, nil, 0)
}

// A neighbour that signs each envelope with a throwaway key and sets Hops 1, as if relaying a
// thousand strangers, is disconnected once it goes over its budget of new authors: honest relays
// pace their introductions below it, so Hops cannot excuse it. What it got through within the budget
// is valid traffic of (throwaway) authors, and all the honest node sees besides the victim's own.
func TestNodeAdversaryThrowawayKeysWithHopsDisconnected(t *testing.T) {
	v, _, seen := victimSetup(t)
	const keys = 1200 // above the new-author burst of 1,024, below the per-peer burst of 2,000
	raws := make([][]byte, keys)
	for i := range raws {
		raws[i] = signedBy(SeededKey(667, i), 1, 1, "spam")
	}
	a := startAttacker(t, v, func(a *attacker, rw p2p.MsgReadWriter) {
		for _, raw := range raws {
			if writeRaw(rw, uint64(CodeGossip), raw) != nil {
				return
			}
		}
	})
	expectDropped(t, a, v)
	if err := v.Broadcast(CodeGossip, []byte("honest")); err != nil {
		t.Fatal(err)
	}
	spam := 0
	for {
		select {
		case m := <-seen.C():
			if string(m.Payload) == "honest" && m.From == v.Self() {
				if spam > int(v.opt.NewAuthorBurst) {
					t.Fatalf("honest node got %d envelopes of throwaway authors, more than the victim's new-author burst %v", spam, v.opt.NewAuthorBurst)
				}
				return
			}
			if string(m.Payload) != "spam" {
				t.Fatalf("honest node got %+v", m)
			}
			spam++
		case <-time.After(20 * time.Second):
			t.Fatal("honest broadcast never arrived")
		}
	}
}

// Two attackers next to honest relay R each stay within R's budgets (1,900 envelopes, 950 new
// authors) and together push 3,800 envelopes of 1,900 new authors through R towards N, twice N's
// budgets for R. R paces what it passes on, so N never finds R over budget and keeps it; R's own
// broadcast still reaches N.
func TestNodeHonestRelayOfTwoFloodsStaysLinked(t *testing.T) {
	nodes := staticMesh(t, 2, [][]int{{1}})
	n, r := nodes[0], nodes[1]
	const perAttacker = 1900
	attack := func(id uint64) func(a *attacker, rw p2p.MsgReadWriter) {
		raws := make([][]byte, perAttacker)
		for i := range raws {
			raws[i] = signedBy(SeededKey(668+id, i/2), uint64(i%2+1), 1, "through r")
		}
		return func(a *attacker, rw p2p.MsgReadWriter) {
			for _, raw := range raws {
				if writeRaw(rw, uint64(CodeGossip), raw) != nil {
					return
				}
			}
		}
	}
	a1 := startAttackerKey(t, r, SeededKey(666, 1), attack(0))
	a2 := startAttackerKey(t, r, SeededKey(666, 2), attack(1))
	eventually(t, 30*time.Second, "r did not take both attackers' envelopes", func() bool {
		return r.Stats().Delivered >= 2*perAttacker
	})
	linkTo := func(of *Node, peer Address) (PeerInfo, bool) {
		for _, p := range of.Peers() {
			if p.Address == peer {
				return p, true
			}
		}
		return PeerInfo{}, false
	}
	// Wait until r held nothing more for n and n read everything r's link took.
	eventually(t, 60*time.Second, "n did not read all that r relayed", func() bool {
		out, _ := linkTo(r, n.Self())
		in, _ := linkTo(n, r.Self())
		return !r.waiting() && in.MsgsIn >= out.MsgsOut
	})
	sub := n.Subscribe(CodeGossip)
	defer sub.Close()
	if err := r.Broadcast(CodeGossip, []byte("from r")); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case m := <-sub.C():
			if string(m.Payload) != "from r" {
				continue
			}
		case <-time.After(20 * time.Second):
			t.Fatal("r's broadcast never reached n")
		}
		break
	}
	in, _ := linkTo(n, r.Self())
	st := r.Stats()
	t.Logf("r relayed %d to n and held back %d; n's view of r: score %d, %d msgs in; n %+v", st.Relayed, st.Throttled, in.Score, in.MsgsIn, n.Stats())
	if !in.Connected || in.Score < 0 || n.PeerCount() != 1 {
		t.Fatalf("honest relay r punished for the floods it passed on: %+v", in)
	}
	for _, a := range []*attacker{a1, a2} {
		select {
		case <-a.done:
			t.Fatalf("an attacker within r's budgets was dropped: %v", a.err)
		default:
		}
	}
}
