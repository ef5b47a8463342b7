package channel

import (
	"fmt"

	"github.com/fractals-energy/fractals/ledger/internal/wire"
)

// Kind is the first byte of every ledger message on the wire. The channel package owns kinds
// below 16; the node's payment messages use 16 and up.
type Kind uint8

const (
	KindUpdate Kind = 1
	KindAck    Kind = 2
	KindSync   Kind = 3
	// KindWithdrawRequest and KindWithdrawConfirm negotiate a withdrawal while the channel is open.
	KindWithdrawRequest Kind = 4
	KindWithdrawConfirm Kind = 5
	// KindSettleRequest and KindSettleConfirm agree on a cooperative settle.
	KindSettleRequest Kind = 6
	KindSettleConfirm Kind = 7
)

// EncodeUpdate is the wire form of an update: kind, proof, locks, optional route.
func EncodeUpdate(u Update) []byte {
	w := &wire.Writer{Buf: make([]byte, 0, 200+len(u.Locks)*lockEncodedSize)}
	w.U8(uint8(KindUpdate))
	writeUpdate(w, u)
	return w.Buf
}

// DecodeUpdate parses EncodeUpdate's output.
func DecodeUpdate(b []byte) (Update, error) {
	r := wire.NewReader(b)
	expectKind(r, KindUpdate)
	u := readUpdate(r)
	if err := r.End("update"); err != nil {
		return Update{}, err
	}
	return u, nil
}

// EncodeAck is the wire form of an acknowledgement.
func EncodeAck(a Ack) []byte {
	w := &wire.Writer{Buf: make([]byte, 0, 49+65)}
	w.U8(uint8(KindAck))
	w.Bytes(a.ChannelID[:])
	w.U64(a.Epoch)
	w.U64(a.Nonce)
	w.Bytes(a.Signature[:])
	return w.Buf
}

// DecodeAck parses EncodeAck's output.
func DecodeAck(b []byte) (Ack, error) {
	r := wire.NewReader(b)
	expectKind(r, KindAck)
	var a Ack
	r.Fixed(a.ChannelID[:], "ack channel id")
	a.Epoch = r.U64("ack epoch")
	a.Nonce = r.U64("ack nonce")
	r.Fixed(a.Signature[:], "ack signature")
	if err := r.End("ack"); err != nil {
		return Ack{}, err
	}
	return a, nil
}

// EncodeSync is the wire form of a Sync.
func EncodeSync(s Sync) []byte {
	w := &wire.Writer{}
	w.U8(uint8(KindSync))
	w.Bytes(s.ChannelID[:])
	w.U64(s.Epoch)
	w.U64(s.OwnNonce)
	writeUpdate(w, s.Yours)
	if s.WantReply {
		w.U8(1)
	} else {
		w.U8(0)
	}
	// The agreements follow only when there are some, so a Sync without any is the older
	// format exactly.
	if len(s.Withdrawals) > 0 {
		w.U8(uint8(len(s.Withdrawals)))
		for _, a := range s.Withdrawals {
			w.Bytes(a.Participant[:])
			w.U64(a.Total)
			w.U64(a.Expiry)
			w.Bytes(a.Signature[:])
			w.Bytes(a.CoSignature[:])
		}
	}
	return w.Buf
}

// DecodeSync parses EncodeSync's output.
func DecodeSync(b []byte) (Sync, error) {
	r := wire.NewReader(b)
	expectKind(r, KindSync)
	var s Sync
	r.Fixed(s.ChannelID[:], "sync channel id")
	s.Epoch = r.U64("sync epoch")
	s.OwnNonce = r.U64("sync own nonce")
	s.Yours = readUpdate(r)
	switch flag := r.U8("sync reply flag"); flag {
	case 0:
	case 1:
		s.WantReply = true
	default:
		r.Fail("sync reply flag %d, want 0 or 1", flag)
	}
	if r.Err() == nil && r.Len() > 0 {
		n := r.Count(2, "sync withdrawal count")
		if r.Err() == nil && n == 0 {
			r.Fail("sync withdrawal count 0: leave the list out")
		}
		for i := 0; i < n; i++ {
			var a WithdrawAgreement
			r.Fixed(a.Participant[:], "sync withdrawal participant")
			a.Total = r.U64("sync withdrawal total")
			a.Expiry = r.U64("sync withdrawal expiry")
			r.Fixed(a.Signature[:], "sync withdrawal signature")
			r.Fixed(a.CoSignature[:], "sync withdrawal co-signature")
			s.Withdrawals = append(s.Withdrawals, a)
		}
	}
	if err := r.End("sync"); err != nil {
		return Sync{}, err
	}
	return s, nil
}

// FrameChannelID reads the channel id a channel message (kinds below 16) names, without decoding
// the rest; ok is false for other kinds or a frame too short to hold it.
func FrameChannelID(frame []byte) (id Hash, ok bool) {
	if len(frame) == 0 {
		return id, false
	}
	var off int
	switch Kind(frame[0]) {
	case KindAck, KindSync:
		off = 1 // kind, channel id
	case KindUpdate, KindWithdrawRequest, KindWithdrawConfirm, KindSettleRequest, KindSettleConfirm:
		off = 1 + 8 + 20 // kind, chain id, contract, channel id
	default:
		return id, false
	}
	if len(frame) < off+len(id) {
		return id, false
	}
	copy(id[:], frame[off:])
	return id, true
}

func expectKind(r *wire.Reader, k Kind) {
	if got := Kind(r.U8("message kind")); r.Err() == nil && got != k {
		r.Fail("message kind %d, want %d", got, k)
	}
}

func writeProof(w *wire.Writer, p *BalanceProof) {
	writeDomain(w, p.Domain)
	w.U64(p.Nonce)
	w.U64(p.Transferred)
	w.U64(p.Locked)
	w.Bytes(p.Locksroot[:])
	w.Bytes(p.Signature[:])
}

func readProof(r *wire.Reader) BalanceProof {
	var p BalanceProof
	p.Domain = readDomain(r)
	p.Nonce = r.U64("nonce")
	p.Transferred = r.U64("transferred")
	p.Locked = r.U64("locked")
	r.Fixed(p.Locksroot[:], "locksroot")
	r.Fixed(p.Signature[:], "signature")
	return p
}

func writeLocks(w *wire.Writer, locks []Lock) {
	w.U8(uint8(len(locks)))
	for _, l := range locks {
		w.U64(l.Expiration)
		w.U64(l.Amount)
		w.Bytes(l.SecretHash[:])
	}
}

func readLocks(r *wire.Reader) []Lock {
	n := r.Count(MaxLocks, "lock count")
	if n == 0 {
		return nil
	}
	locks := make([]Lock, n)
	for i := range locks {
		names := &lockFieldNames[i]
		locks[i].Expiration = r.U64(names[0])
		locks[i].Amount = r.U64(names[1])
		r.Fixed(locks[i].SecretHash[:], names[2])
	}
	return locks
}

// lockFieldNames are the names decode errors give each lock's fields, built once so decoding
// (on the receive path of every update) formats nothing.
var lockFieldNames = func() (out [MaxLocks][3]string) {
	for i := range out {
		out[i] = [3]string{fmt.Sprintf("lock %d expiration", i), fmt.Sprintf("lock %d amount", i), fmt.Sprintf("lock %d secret hash", i)}
	}
	return out
}()

func writeUpdate(w *wire.Writer, u Update) {
	writeProof(w, &u.Proof)
	writeLocks(w, u.Locks)
	if u.Route == nil {
		w.U8(0)
		return
	}
	w.U8(1)
	w.U64(u.Route.PaymentID)
	w.Bytes(u.Route.Initiator[:])
	w.Bytes(u.Route.Target[:])
	w.U8(uint8(len(u.Route.Hops)))
	for _, h := range u.Route.Hops {
		w.Bytes(h[:])
	}
}

func readUpdate(r *wire.Reader) Update {
	var u Update
	u.Proof = readProof(r)
	u.Locks = readLocks(r)
	switch flag := r.U8("route flag"); flag {
	case 0:
	case 1:
		rt := &RouteInfo{}
		rt.PaymentID = r.U64("route payment id")
		r.Fixed(rt.Initiator[:], "route initiator")
		r.Fixed(rt.Target[:], "route target")
		n := r.Count(MaxHops, "route hop count")
		for i := 0; i < n; i++ {
			var a Address
			r.Fixed(a[:], fmt.Sprintf("route hop %d", i))
			rt.Hops = append(rt.Hops, a)
		}
		u.Route = rt
	default:
		r.Fail("route flag %d, want 0 or 1", flag)
	}
	return u
}

// MarshalBinary encodes the whole channel state for the store.
func (c *Channel) MarshalBinary() ([]byte, error) {
	w := &wire.Writer{}
	w.U8(stateVersion)
	writeDomain(w, c.Domain)
	for _, s := range []*Side{&c.Own, &c.Partner} {
		w.Bytes(s.Address[:])
		w.U64(s.Deposit)
		w.U64(s.Withdrawn)
		w.U64(s.ChainWithdrawn)
		w.U64(s.WithdrawExpiry)
		w.Bytes(s.WithdrawSig[:])
		w.Bytes(s.WithdrawCoSig[:])
		writeProof(w, &s.Proof)
		writeLocks(w, s.Locks)
	}
	w.U64(c.Acked)
	if c.Closing {
		w.U8(1)
	} else {
		w.U8(0)
	}
	return w.Buf, nil
}

// stateVersion 4 adds the signatures of pending withdrawals to each side; version 3 (without
// them) is still read, as a state with no agreement to hand back.
const (
	stateVersion   = 4
	oldStateV3     = 3
	withdrawSigsV4 = 4
)

// UnmarshalBinary decodes MarshalBinary's output, and the version 3 states of earlier releases
// (the next write stores them as version 4).
func (c *Channel) UnmarshalBinary(b []byte) error {
	r := wire.NewReader(b)
	v := r.U8("state version")
	if r.Err() == nil && v != stateVersion && v != oldStateV3 {
		r.Fail("state version %d, want %d or %d", v, oldStateV3, stateVersion)
	}
	var n Channel
	n.Domain = readDomain(r)
	for _, s := range []*Side{&n.Own, &n.Partner} {
		r.Fixed(s.Address[:], "participant")
		s.Deposit = r.U64("deposit")
		s.Withdrawn = r.U64("withdrawn")
		s.ChainWithdrawn = r.U64("chain withdrawn")
		s.WithdrawExpiry = r.U64("withdraw expiry")
		if v >= withdrawSigsV4 {
			r.Fixed(s.WithdrawSig[:], "withdraw signature")
			r.Fixed(s.WithdrawCoSig[:], "withdraw co-signature")
		}
		s.Proof = readProof(r)
		s.Locks = readLocks(r)
	}
	n.Acked = r.U64("acked nonce")
	switch flag := r.U8("closing flag"); flag {
	case 0:
	case 1:
		n.Closing = true
	default:
		r.Fail("closing flag %d, want 0 or 1", flag)
	}
	if err := r.End("channel state"); err != nil {
		return err
	}
	*c = n
	return nil
}

func writeWithdrawRequest(w *wire.Writer, req WithdrawRequest) {
	writeDomain(w, req.Domain)
	w.Bytes(req.Participant[:])
	w.U64(req.Total)
	w.U64(req.Expiry)
	w.U64(req.Nonce)
	w.Bytes(req.Signature[:])
}

func readWithdrawRequest(r *wire.Reader) WithdrawRequest {
	var req WithdrawRequest
	req.Domain = readDomain(r)
	r.Fixed(req.Participant[:], "participant")
	req.Total = r.U64("withdraw total")
	req.Expiry = r.U64("withdraw expiry")
	req.Nonce = r.U64("withdraw nonce")
	r.Fixed(req.Signature[:], "withdraw signature")
	return req
}

// EncodeWithdrawRequest is the wire form of a WithdrawRequest.
func EncodeWithdrawRequest(req WithdrawRequest) []byte {
	w := &wire.Writer{}
	w.U8(uint8(KindWithdrawRequest))
	writeWithdrawRequest(w, req)
	return w.Buf
}

// DecodeWithdrawRequest parses EncodeWithdrawRequest's output.
func DecodeWithdrawRequest(b []byte) (WithdrawRequest, error) {
	r := wire.NewReader(b)
	expectKind(r, KindWithdrawRequest)
	req := readWithdrawRequest(r)
	if err := r.End("withdraw request"); err != nil {
		return WithdrawRequest{}, err
	}
	return req, nil
}

// EncodeWithdrawConfirm is the wire form of a WithdrawConfirm.
func EncodeWithdrawConfirm(c WithdrawConfirm) []byte {
	w := &wire.Writer{}
	w.U8(uint8(KindWithdrawConfirm))
	writeWithdrawRequest(w, c.Request)
	w.Bytes(c.Signature[:])
	return w.Buf
}

// DecodeWithdrawConfirm parses EncodeWithdrawConfirm's output.
func DecodeWithdrawConfirm(b []byte) (WithdrawConfirm, error) {
	r := wire.NewReader(b)
	expectKind(r, KindWithdrawConfirm)
	var c WithdrawConfirm
	c.Request = readWithdrawRequest(r)
	r.Fixed(c.Signature[:], "confirm signature")
	if err := r.End("withdraw confirmation"); err != nil {
		return WithdrawConfirm{}, err
	}
	return c, nil
}

func writeSettleRequest(w *wire.Writer, req SettleRequest) {
	writeDomain(w, req.Domain)
	w.U64(req.AmountA)
	w.U64(req.AmountB)
	w.U64(req.OwnNonce)
	w.U64(req.PartnerNonce)
	w.Bytes(req.Signature[:])
}

func readSettleRequest(r *wire.Reader) SettleRequest {
	var req SettleRequest
	req.Domain = readDomain(r)
	req.AmountA = r.U64("amount a")
	req.AmountB = r.U64("amount b")
	req.OwnNonce = r.U64("own nonce")
	req.PartnerNonce = r.U64("partner nonce")
	r.Fixed(req.Signature[:], "settle signature")
	return req
}

// EncodeSettleRequest is the wire form of a SettleRequest.
func EncodeSettleRequest(req SettleRequest) []byte {
	w := &wire.Writer{}
	w.U8(uint8(KindSettleRequest))
	writeSettleRequest(w, req)
	return w.Buf
}

// DecodeSettleRequest parses EncodeSettleRequest's output.
func DecodeSettleRequest(b []byte) (SettleRequest, error) {
	r := wire.NewReader(b)
	expectKind(r, KindSettleRequest)
	req := readSettleRequest(r)
	if err := r.End("settle request"); err != nil {
		return SettleRequest{}, err
	}
	return req, nil
}

// EncodeSettleConfirm is the wire form of a SettleConfirm.
func EncodeSettleConfirm(c SettleConfirm) []byte {
	w := &wire.Writer{}
	w.U8(uint8(KindSettleConfirm))
	writeSettleRequest(w, c.Request)
	w.Bytes(c.Signature[:])
	return w.Buf
}

// DecodeSettleConfirm parses EncodeSettleConfirm's output.
func DecodeSettleConfirm(b []byte) (SettleConfirm, error) {
	r := wire.NewReader(b)
	expectKind(r, KindSettleConfirm)
	var c SettleConfirm
	c.Request = readSettleRequest(r)
	r.Fixed(c.Signature[:], "confirm signature")
	if err := r.End("settle confirmation"); err != nil {
		return SettleConfirm{}, err
	}
	return c, nil
}

// writeDomain writes the fields that place a message on one chain, contract, channel and epoch.
func writeDomain(w *wire.Writer, d Domain) {
	w.U64(d.ChainID)
	w.Bytes(d.Contract[:])
	w.Bytes(d.ChannelID[:])
	w.U64(d.Epoch)
}

// readDomain reads what writeDomain wrote.
func readDomain(r *wire.Reader) Domain {
	var d Domain
	d.ChainID = r.U64("chain id")
	r.Fixed(d.Contract[:], "contract")
	r.Fixed(d.ChannelID[:], "channel id")
	d.Epoch = r.U64("epoch")
	return d
}
