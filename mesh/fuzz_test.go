package mesh

import (
	"bytes"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/rlp"
)

// Every decoder of the fractals protocol takes any bytes without panicking: the hello (and the
// refusal) of the handshake, and each message code after it, through the same handle the link runs.

func FuzzHandshake(f *testing.F) {
	good, _ := rlp.EncodeToBytes(helloMsg{Version: ProtocolVersion, Community: "c", Capabilities: []string{"market"}})
	refuse, _ := rlp.EncodeToBytes(refuseMsg{Reason: "no"})
	f.Add(uint8(msgHello), good)
	f.Add(uint8(msgRefuse), refuse)
	f.Add(uint8(msgHello), good[:3])
	f.Add(uint8(msgPing), []byte{0x01})
	f.Add(uint8(msgHello), bytes.Repeat([]byte{0xff}, 2000))
	f.Fuzz(func(t *testing.T, code uint8, payload []byte) {
		a, b := p2p.MsgPipe()
		defer a.Close()
		go func() {
			_ = b.WriteMsg(p2p.Msg{Code: uint64(code), Size: uint32(len(payload)), Payload: bytes.NewReader(payload)})
		}()
		h, err := readHello(a)
		if err == nil && code != msgHello {
			t.Fatalf("code 0x%02x accepted as a hello: %+v", code, h)
		}
	})
}

func FuzzMessageCodes(f *testing.F) {
	n := startNode(f, SeededKey(77, 0), "127.0.0.1:0", nil)
	peer := SeededKey(77, 1)
	addr := Address{1}
	d := &devPeer{addr: addr, own: make(chan outMsg, 16), out: make(chan outMsg, 16), closed: make(chan struct{})}
	n.peerUp(addr, d, PeerInfo{})
	nonce, _ := rlp.EncodeToBytes(uint64(7))
	e := &Envelope{Code: CodeMarket, Community: testCommunity, Seq: 1, ExpiryMs: uint64(time.Now().Add(time.Hour).UnixMilli()), Payload: []byte("bid")}
	_ = e.Sign(peer)
	f.Add(uint8(msgPing), nonce)
	f.Add(uint8(msgPong), nonce)
	f.Add(uint8(CodeMarket), e.Encode())
	f.Add(uint8(CodeLedger), e.Encode())
	f.Add(uint8(CodeGossip), []byte{0xc0})
	f.Add(uint8(0x09), []byte{})
	f.Fuzz(func(t *testing.T, code uint8, payload []byte) {
		if code >= protoLen {
			return // devp2p itself refuses codes beyond the protocol's length
		}
		msg := p2p.Msg{Code: uint64(code), Size: uint32(len(payload)), Payload: bytes.NewReader(payload)}
		_ = n.handle(addr, d, msg, map[uint64]time.Time{})
		for len(d.own) > 0 {
			<-d.own
		}
		n.router.mu.Lock()
		n.router.peers[addr].info.Score = 0 // keep the fuzzed peer connected for the next input
		n.router.mu.Unlock()
	})
}
