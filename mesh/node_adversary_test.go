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
	a := &attacker{key: SeededKey(666, 0), done: make(chan struct{}), got: make(chan []byte, 4096)}
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
