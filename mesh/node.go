package mesh

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/p2p/discover"
	"github.com/ethereum/go-ethereum/p2p/enode"
	"github.com/ethereum/go-ethereum/p2p/enr"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/fractals-energy/fractals/internal/clock"
)

// The fractals sub-protocol.
const (
	ProtocolName    = "fractals"
	ProtocolVersion = 1

	msgHello  = 0x00 // helloMsg, first in each direction
	msgRefuse = 0x01 // refuseMsg, then the link closes
	msgPing   = 0x02 // a nonce, answered by msgPong with the same nonce
	msgPong   = 0x03
	msgAck    = 0x04 // the sequence number of a direct envelope that arrived
	protoLen  = 0x14 // codes 0x00..0x13; 0x10..0x13 carry envelopes of the same Code

	maxControlSize  = 1024 // hello, refuse, ping and pong
	handshakeWait   = 5 * time.Second
	pingEvery       = 5 * time.Second
	retryEvery      = time.Second
	writeQueueDepth = 2048
	// writeQueueBytes bounds each of a peer's two write queues in bytes as well: 2048 envelopes of
	// the largest code would be over 100 MB for one slow peer, too much for a small ARM box.
	writeQueueBytes = 2 << 20
	// pingsOutstanding is how many unanswered pings a link remembers for their RTT.
	pingsOutstanding = 8
	// maxBans bounds the table of banned peers (each ban lasts banFor).
	maxBans = 4096
	banFor  = 10 * time.Minute
)

// helloMsg is what each side says first.
type helloMsg struct {
	Version      uint
	Community    string
	Capabilities []string
	Rest         []rlp.RawValue `rlp:"tail"` // fields of later versions, ignored
}

type refuseMsg struct {
	Reason string
}

// communityEntry is the ENR entry "fractals": the community a node serves, so discovery dials only
// units of the same community.
type communityEntry struct {
	Community string
	Version   uint
	Rest      []rlp.RawValue `rlp:"tail"`
}

// ENRKey implements enr.Entry.
func (communityEntry) ENRKey() string { return ProtocolName }

// NodeConfig configures a devp2p node.
type NodeConfig struct {
	Key          *ecdsa.PrivateKey // the unit key: devp2p identity and envelope signer
	Listen       string            // TCP and UDP address, e.g. 127.0.0.1:0
	Static       []*enode.Node     // always connected, redialled when they drop
	Trusted      []*enode.Node     // admitted over the peer limit
	Discovery    bool              // discovery v5 on the listen address
	Bootnodes    []*enode.Node     // discovery v5 bootstrap records
	MaxPeers     int               // default 50
	Capabilities []string          // what this unit offers, sent in the handshake
	Name         string            // devp2p client name
	Clock        clock.Clock       // default the wall clock
	Options      Options           // community, limits and lifetimes
	// ReplayFile keeps the replay windows across restarts (see replayfile.go); empty: in memory
	// only, so a restarted node may deliver an unexpired envelope it delivered before.
	ReplayFile       string
	ReplayFlushEvery time.Duration // default DefaultReplayFlushEvery
	Log              *slog.Logger  // what happened to the replay file; default discard
}

// Node is a unit's mesh over devp2p: one p2p.Server keyed by the unit key running the fractals
// sub-protocol. It implements Mesh.
type Node struct {
	*router
	srv   *p2p.Server
	cfg   NodeConfig
	cands *candidates
	quit  chan struct{}
	wg    sync.WaitGroup

	mu    sync.Mutex
	peers map[Address]*devPeer
	bans  map[Address]time.Time
}

// NewNode starts a node.
func NewNode(cfg NodeConfig) (*Node, error) {
	if cfg.Key == nil {
		return nil, errors.New("mesh: node needs a key")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.MaxPeers == 0 {
		cfg.MaxPeers = 50
	}
	if cfg.Name == "" {
		cfg.Name = "fractals"
	}
	if len(cfg.Options.Community) > MaxCommunityLen {
		return nil, fmt.Errorf("mesh: community id %d bytes, at most %d", len(cfg.Options.Community), MaxCommunityLen)
	}
	if cfg.ReplayFlushEvery <= 0 {
		cfg.ReplayFlushEvery = DefaultReplayFlushEvery
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	n := &Node{router: newRouter(cfg.Key, cfg.Clock, cfg.Options), cfg: cfg, cands: newCandidates(),
		quit: make(chan struct{}), peers: map[Address]*devPeer{}, bans: map[Address]time.Time{}}
	if cfg.ReplayFile != "" {
		if err := n.loadReplay(); err != nil {
			return nil, err
		}
	}
	proto := p2p.Protocol{
		Name: ProtocolName, Version: ProtocolVersion, Length: protoLen, Run: n.run,
		Attributes: []enr.Entry{communityEntry{Community: cfg.Options.Community, Version: ProtocolVersion}},
	}
	if cfg.Discovery {
		proto.DialCandidates = n.cands
	}
	n.srv = &p2p.Server{Config: p2p.Config{
		PrivateKey: cfg.Key, Name: cfg.Name, MaxPeers: cfg.MaxPeers, ListenAddr: cfg.Listen,
		NoDiscovery: !cfg.Discovery, DiscoveryV5: cfg.Discovery, BootstrapNodesV5: cfg.Bootnodes,
		StaticNodes: cfg.Static, TrustedNodes: cfg.Trusted, Protocols: []p2p.Protocol{proto},
	}}
	if err := n.srv.Start(); err != nil {
		return nil, fmt.Errorf("mesh: starting devp2p on %s: %w", cfg.Listen, err)
	}
	if d := n.srv.DiscoveryV5(); d != nil {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.cands.feed(d, n.srv.Self().ID(), cfg.Options.Community, n.quit)
		}()
	}
	n.wg.Add(1)
	go n.retryLoop()
	if cfg.ReplayFile != "" {
		n.wg.Add(1)
		go n.replayLoop()
	}
	return n, nil
}

// SameCommunity reports whether a node record names the community.
func SameCommunity(nd *enode.Node, community string) bool {
	var e communityEntry
	return nd.Load(&e) == nil && e.Community == community
}

// Enode returns the node's enode URL (key, IP and TCP port).
func (n *Node) Enode() *enode.Node { return n.srv.Self() }

// ENR returns the node's signed record in its text form.
func (n *Node) ENR() string { return n.srv.LocalNode().Node().String() }

// AddPeer makes a node static: dialled now and redialled whenever it drops.
func (n *Node) AddPeer(nd *enode.Node) { n.srv.AddPeer(nd) }

// PeerCount returns the number of devp2p peers running the fractals protocol.
func (n *Node) PeerCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.peers)
}

// Close stops the node: every link closes and subscriptions end.
func (n *Node) Close() {
	select {
	case <-n.quit:
		return
	default:
	}
	close(n.quit)
	n.cands.Close()
	n.srv.Stop()
	n.wg.Wait()
	if n.cfg.ReplayFile != "" { // nothing arrives any more: these are the final windows
		if err := n.saveReplay(); err != nil {
			n.cfg.Log.Error("mesh: saving replay windows at shutdown", "file", n.cfg.ReplayFile, "err", err)
		}
	}
	n.shutdown()
}

func (n *Node) retryLoop() {
	defer n.wg.Done()
	t := n.cfg.Clock.NewTicker(retryEvery)
	defer t.Stop()
	for {
		select {
		case <-n.quit:
			return
		case <-t.C():
			n.retry()
		}
	}
}

// devPeer is one connected neighbour: a bounded write queue drained by its own goroutine, so the
// router never blocks on a slow link.
type devPeer struct {
	addr Address
	p    *p2p.Peer
	own  chan outMsg // this unit's envelopes and control messages, written first
	out  chan outMsg // relayed envelopes
	// ownBytes and outBytes are the bytes waiting in own and out, against writeQueueBytes.
	ownBytes, outBytes atomic.Int64
	closed             chan struct{}
	once               sync.Once
}

type outMsg struct {
	code uint64
	raw  []byte
}

func (d *devPeer) send(code Code, raw []byte, own bool) bool {
	q, held := d.out, &d.outBytes
	if own {
		q, held = d.own, &d.ownBytes
	}
	return d.put(q, held, outMsg{uint64(code), raw})
}

// put queues m unless the link is closed or the queue is full by count or by bytes.
func (d *devPeer) put(q chan outMsg, held *atomic.Int64, m outMsg) bool {
	if held.Add(int64(len(m.raw))) > writeQueueBytes {
		held.Add(-int64(len(m.raw)))
		return false
	}
	select {
	case <-d.closed:
	case q <- m:
		return true
	default:
	}
	held.Add(-int64(len(m.raw)))
	return false
}

func (d *devPeer) control(code uint64, v any) bool {
	raw, err := rlp.EncodeToBytes(v)
	if err != nil {
		return false
	}
	return d.put(d.own, &d.ownBytes, outMsg{code, raw})
}

func (d *devPeer) ack(seq uint64) { d.control(msgAck, seq) }

func (d *devPeer) stop() { d.once.Do(func() { close(d.closed) }) }

func (d *devPeer) writeLoop(rw p2p.MsgWriter) {
	for {
		var m outMsg
		select {
		case <-d.closed:
			return
		case m = <-d.own:
			d.ownBytes.Add(-int64(len(m.raw)))
		default:
			select {
			case <-d.closed:
				return
			case m = <-d.own:
				d.ownBytes.Add(-int64(len(m.raw)))
			case m = <-d.out:
				d.outBytes.Add(-int64(len(m.raw)))
			}
		}
		if err := rw.WriteMsg(p2p.Msg{Code: m.code, Size: uint32(len(m.raw)), Payload: bytes.NewReader(m.raw)}); err != nil {
			d.p.Disconnect(p2p.DiscNetworkError)
			return
		}
	}
}

// run is the fractals protocol on one link.
func (n *Node) run(p *p2p.Peer, rw p2p.MsgReadWriter) error {
	addr := crypto.PubkeyToAddress(*p.Node().Pubkey())
	hello, err := n.handshake(addr, rw)
	if err != nil {
		return err
	}
	d := &devPeer{addr: addr, p: p, own: make(chan outMsg, writeQueueDepth), out: make(chan outMsg, writeQueueDepth), closed: make(chan struct{})}
	n.mu.Lock()
	n.peers[addr] = d
	n.mu.Unlock()
	go d.writeLoop(rw)
	defer func() {
		d.stop()
		n.mu.Lock()
		if n.peers[addr] == d {
			delete(n.peers, addr)
		}
		n.mu.Unlock()
		n.peerDown(addr)
	}()
	n.peerUp(addr, d, PeerInfo{Enode: p.Node().URLv4(), Remote: p.RemoteAddr().String(), Inbound: p.Inbound(),
		Version: hello.Version, Capabilities: hello.Capabilities})
	return n.readLoop(addr, d, rw)
}

func (n *Node) handshake(addr Address, rw p2p.MsgReadWriter) (*helloMsg, error) {
	sent := make(chan error, 1)
	go func() {
		sent <- p2p.Send(rw, msgHello, helloMsg{Version: ProtocolVersion, Community: n.cfg.Options.Community, Capabilities: n.cfg.Capabilities})
	}()
	got := make(chan struct {
		h   *helloMsg
		err error
	}, 1)
	go func() {
		h, err := readHello(rw)
		got <- struct {
			h   *helloMsg
			err error
		}{h, err}
	}()
	var res struct {
		h   *helloMsg
		err error
	}
	select {
	case res = <-got:
	case <-time.After(handshakeWait): // a handshake deadline on the wire, not simulated time
		return nil, fmt.Errorf("mesh: handshake with %s: no hello within %v", addr, handshakeWait)
	}
	select {
	case err := <-sent:
		if err != nil {
			return nil, fmt.Errorf("mesh: handshake with %s: sending hello: %w", addr, err)
		}
	case <-time.After(handshakeWait):
		return nil, fmt.Errorf("mesh: handshake with %s: hello not taken within %v", addr, handshakeWait)
	}
	if res.err != nil {
		return nil, fmt.Errorf("mesh: handshake with %s: %w", addr, res.err)
	}
	if reason := n.refusal(addr, res.h); reason != "" {
		_ = p2p.Send(rw, msgRefuse, refuseMsg{Reason: reason})
		return nil, fmt.Errorf("mesh: refused %s: %s", addr, reason)
	}
	return res.h, nil
}

// readHello reads the peer's first message: its hello, or its refusal.
func readHello(rw p2p.MsgReader) (*helloMsg, error) {
	msg, err := rw.ReadMsg()
	if err != nil {
		return nil, err
	}
	defer msg.Discard()
	if msg.Size > maxControlSize {
		return nil, fmt.Errorf("first message code 0x%02x is %d bytes, at most %d", msg.Code, msg.Size, maxControlSize)
	}
	switch msg.Code {
	case msgHello:
		var h helloMsg
		if err := msg.Decode(&h); err != nil {
			return nil, fmt.Errorf("hello: %v", err)
		}
		return &h, nil
	case msgRefuse:
		var r refuseMsg
		if err := msg.Decode(&r); err != nil {
			return nil, fmt.Errorf("refusal: %v", err)
		}
		return nil, fmt.Errorf("peer refused us: %s", r.Reason)
	default:
		return nil, fmt.Errorf("first message has code 0x%02x, want hello", msg.Code)
	}
}

// refusal returns why a peer is not welcome, or "".
func (n *Node) refusal(addr Address, h *helloMsg) string {
	switch {
	case h.Version != ProtocolVersion:
		return fmt.Sprintf("protocol version %d, we speak %d", h.Version, ProtocolVersion)
	case h.Community != n.cfg.Options.Community:
		return fmt.Sprintf("community %q, this unit serves %q", h.Community, n.cfg.Options.Community)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if until, ok := n.bans[addr]; ok {
		if n.cfg.Clock.Now().Before(until) {
			return fmt.Sprintf("disconnected for misbehaviour until %s", until.UTC().Format(time.RFC3339))
		}
		delete(n.bans, addr)
	}
	if _, dup := n.peers[addr]; dup {
		return "already connected"
	}
	return ""
}

func (n *Node) readLoop(addr Address, d *devPeer, rw p2p.MsgReader) error {
	ping := n.cfg.Clock.NewTicker(pingEvery)
	defer ping.Stop()
	pings := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-d.closed:
				return
			case <-ping.C():
				select {
				case pings <- struct{}{}:
				default:
				}
			}
		}
	}()
	var nonce uint64
	sentAt := map[uint64]time.Time{}
	sendPing := func() {
		nonce++
		if d.control(msgPing, nonce) {
			sentAt[nonce] = n.cfg.Clock.Now()
		}
		delete(sentAt, nonce-pingsOutstanding) // a peer that never answers does not grow the map

	}
	msgs := make(chan p2p.Msg)
	errc := make(chan error, 1)
	go func() {
		for {
			msg, err := rw.ReadMsg()
			if err != nil {
				errc <- err
				return
			}
			select {
			case msgs <- msg:
			case <-d.closed:
				_ = msg.Discard()
				return
			}
		}
	}()
	sendPing()
	for {
		select {
		case err := <-errc:
			return err
		case <-pings:
			sendPing()
		case msg := <-msgs:
			if err := n.handle(addr, d, msg, sentAt); err != nil {
				return err
			}
		}
	}
}

// handle reads one message in full (or discards it) and acts on it. A non-nil error ends the link.
func (n *Node) handle(addr Address, d *devPeer, msg p2p.Msg, sentAt map[uint64]time.Time) error {
	if msg.Code >= 0x10 && msg.Code < protoLen {
		return n.handleEnvelope(addr, msg)
	}
	if msg.Size > maxControlSize {
		_ = msg.Discard()
		return n.punish(addr, scoreOversized, fmt.Errorf("mesh: %s sent control code 0x%02x of %d bytes, at most %d", addr, msg.Code, msg.Size, maxControlSize))
	}
	switch msg.Code {
	case msgPing:
		var nonce uint64
		if err := msg.Decode(&nonce); err != nil {
			return n.punish(addr, scoreMalformed, fmt.Errorf("mesh: ping from %s: %v", addr, err))
		}
		d.control(msgPong, nonce)
	case msgAck:
		var seq uint64
		if err := msg.Decode(&seq); err != nil {
			return n.punish(addr, scoreMalformed, fmt.Errorf("mesh: ack from %s: %v", addr, err))
		}
		n.acked(addr, seq)
	case msgPong:
		var nonce uint64
		if err := msg.Decode(&nonce); err != nil {
			return n.punish(addr, scoreMalformed, fmt.Errorf("mesh: pong from %s: %v", addr, err))
		}
		if at, ok := sentAt[nonce]; ok {
			delete(sentAt, nonce)
			n.setRTT(addr, n.cfg.Clock.Since(at))
		}
	default:
		_ = msg.Discard()
		return n.punish(addr, scoreMalformed, fmt.Errorf("mesh: %s sent code 0x%02x after the handshake", addr, msg.Code))
	}
	return nil
}

func (n *Node) handleEnvelope(addr Address, msg p2p.Msg) error {
	code := Code(msg.Code)
	limit, ok := PayloadCap(code)
	if !ok {
		_ = msg.Discard()
		return n.punish(addr, scoreMalformed, fmt.Errorf("mesh: %s sent unknown code 0x%02x", addr, msg.Code))
	}
	if int(msg.Size) > limit+envelopeOverhead+MaxCommunityLen {
		_ = msg.Discard()
		return n.punish(addr, scoreOversized, fmt.Errorf("mesh: %s sent code 0x%02x of %d bytes, cap %d", addr, msg.Code, msg.Size, limit+envelopeOverhead+MaxCommunityLen))
	}
	raw := make([]byte, msg.Size)
	if _, err := io.ReadFull(msg.Payload, raw); err != nil {
		return fmt.Errorf("mesh: reading code 0x%02x from %s: %w", msg.Code, addr, err)
	}
	if len(raw) > 0 && envelopeCode(raw) != code {
		return n.punish(addr, scoreMalformed, fmt.Errorf("mesh: %s sent an envelope under message code 0x%02x that is not its own", addr, msg.Code))
	}
	if v := n.receive(addr, raw); v.disconnect {
		return n.ban(addr, v.err)
	}
	return nil
}

// envelopeCode peeks at the code of an encoded envelope (0xff when it cannot tell).
func envelopeCode(raw []byte) Code {
	e, err := DecodeEnvelope(raw)
	if err != nil {
		return 0xff
	}
	return e.Code
}

func (n *Node) punish(addr Address, delta int, err error) error {
	n.router.mu.Lock()
	p, ok := n.router.peers[addr]
	var v verdict
	if ok {
		v = n.router.penalise(p, delta, err)
	}
	n.router.mu.Unlock()
	if v.disconnect {
		return n.ban(addr, err)
	}
	return nil
}

func (n *Node) ban(addr Address, why error) error {
	n.mu.Lock()
	now := n.cfg.Clock.Now()
	pruneBans(n.bans, now, maxBans)
	n.bans[addr] = now.Add(banFor)
	n.mu.Unlock()
	return fmt.Errorf("mesh: disconnecting %s: %w", addr, why)
}

// pruneBans forgets expired bans and, if an attacker with many keys still fills the table, the
// ones closest to expiry, so the table stays below limit.
func pruneBans(bans map[Address]time.Time, now time.Time, limit int) {
	for a, until := range bans {
		if !now.Before(until) {
			delete(bans, a)
		}
	}
	for len(bans) >= limit {
		var soonest Address
		first := true
		for a, until := range bans {
			if first || until.Before(bans[soonest]) {
				soonest, first = a, false
			}
		}
		delete(bans, soonest)
	}
}

func (n *Node) setRTT(addr Address, rtt time.Duration) {
	n.router.mu.Lock()
	defer n.router.mu.Unlock()
	if p, ok := n.router.peers[addr]; ok {
		p.info.RTT = rtt
	}
}

// candidates is the node's discovery source of dial candidates: a goroutine feeds it the community's
// members from the discovery table and from lookups towards changing targets. (go-ethereum's own
// RandomNodes iterator can deadlock its table in v1.16.9 when the table is empty and two nodes
// arrive at once: waitForNodes takes the table lock while the table, holding it, sends it a node
// event on an unbuffered channel. We have seen it hang a test's Close; this source never waits on the
// table.)
type candidates struct {
	ch   chan *enode.Node
	cur  *enode.Node
	done chan struct{}
	once sync.Once
}

func newCandidates() *candidates {
	return &candidates{ch: make(chan *enode.Node), done: make(chan struct{})}
}

func (c *candidates) Next() bool {
	select {
	case n := <-c.ch:
		c.cur = n
		return true
	case <-c.done:
		return false
	}
}

func (c *candidates) Node() *enode.Node { return c.cur }

func (c *candidates) Close() { c.once.Do(func() { close(c.done) }) }

const discoverEvery = time.Second

// feed offers the community's members found by discovery to the dialer until the node closes.
func (c *candidates) feed(d *discover.UDPv5, self enode.ID, community string, quit <-chan struct{}) {
	t := time.NewTicker(discoverEvery) // the network's pace, not simulated time
	defer t.Stop()
	for round := uint64(0); ; round++ {
		target := enode.ID(crypto.Keccak256Hash(self[:], binary.BigEndian.AppendUint64(nil, round)))
		for _, nd := range append(d.AllNodes(), d.Lookup(target)...) {
			if nd.ID() == self || !SameCommunity(nd, community) {
				continue
			}
			select {
			case c.ch <- nd:
			case <-c.done:
				return
			case <-quit:
				return
			}
		}
		select {
		case <-t.C:
		case <-c.done:
			return
		case <-quit:
			return
		}
	}
}

// Community returns the community the node serves.
func (n *Node) Community() string { return n.cfg.Options.Community }

// loadReplay restores the windows of the replay file. A missing file is a first start; a file that
// is not one (damaged, or someone else's) is moved aside to <name>.bad-<time> and logged, and the
// node starts with empty windows rather than not at all: an outdoor unit must come back unattended.
func (n *Node) loadReplay() error {
	path := n.cfg.ReplayFile
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mesh: replay file %s: %w", path, err)
	}
	recs, saved, err := decodeWindows(b)
	if err != nil {
		aside := fmt.Sprintf("%s.bad-%s", path, n.cfg.Clock.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(path, aside); rerr != nil {
			return fmt.Errorf("%s: %v; moving it aside: %w", path, err, rerr)
		}
		n.cfg.Log.Warn("mesh: replay file unreadable, moved aside; starting with empty replay windows", "file", path, "moved_to", aside, "err", err)
		return nil
	}
	kept := n.importWindows(recs)
	n.cfg.Log.Info("mesh: replay windows restored", "file", path, "saved_at", saved.UTC(), "streams", kept, "in_file", len(recs))
	return nil
}

// saveReplay rewrites the replay file with the current windows.
func (n *Node) saveReplay() error {
	recs := n.exportWindows()
	if err := writeFileAtomic(n.cfg.ReplayFile, encodeWindows(recs, n.cfg.Clock.Now())); err != nil {
		n.router.mu.Lock()
		n.router.windowsChanged = true // try again next time
		n.router.mu.Unlock()
		return fmt.Errorf("mesh: replay file %s: %w", n.cfg.ReplayFile, err)
	}
	return nil
}

// replayLoop rewrites the replay file every ReplayFlushEvery while windows change.
func (n *Node) replayLoop() {
	defer n.wg.Done()
	t := n.cfg.Clock.NewTicker(n.cfg.ReplayFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-n.quit:
			return
		case <-t.C():
			if !n.windowsDirty() {
				continue
			}
			if err := n.saveReplay(); err != nil {
				n.cfg.Log.Error("mesh: saving replay windows", "err", err)
			}
		}
	}
}
