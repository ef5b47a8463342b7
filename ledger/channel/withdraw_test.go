package channel

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestWithdrawReservesThenReleasesOnExpiry(t *testing.T) {
	a, b, sa, sb := pair(t, 100)
	u, _ := a.Direct(30, sa)
	if _, err := b.Receive(u, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RequestWithdraw(71, 50, 10, sa); !errors.Is(err, ErrOverspend) {
		t.Fatalf("withdrawing more than the balance: %v", err)
	}
	req, err := a.RequestWithdraw(60, 50, 10, sa)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Direct(11, sa); !errors.Is(err, ErrOverspend) {
		t.Fatalf("spending reserved funds: %v", err)
	}
	conf, err := b.ConfirmWithdraw(req, 10, sb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ConfirmWithdraw(req, 10, sb); err != nil {
		t.Fatalf("confirming again: %v", err)
	}
	if err := a.CheckWithdrawConfirm(conf); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Channel{a, b} {
		if err := c.CheckInvariant(); err != nil {
			t.Fatal(err)
		}
	}
	if a.OwnBalance() != 10 || b.PartnerBalance() != 10 {
		t.Fatalf("after reserving: a %d, b sees %d; want 10", a.OwnBalance(), b.PartnerBalance())
	}
	// It never reached the chain and expired: both give it back.
	for _, c := range []*Channel{a, b} {
		if released, err := c.ReleaseExpiredWithdraw(a.Own.Address, 51); err != nil || !released {
			t.Fatalf("release: %v %v", released, err)
		}
	}
	if a.OwnBalance() != 70 || b.PartnerBalance() != 70 {
		t.Fatalf("after release: a %d, b sees %d; want 70", a.OwnBalance(), b.PartnerBalance())
	}
}

func TestConfirmWithdrawNeedsTheRequestersLatestProof(t *testing.T) {
	a, b, sa, sb := pair(t, 100)
	if _, err := a.Direct(90, sa); err != nil { // b never receives it
		t.Fatal(err)
	}
	req, err := a.RequestWithdraw(10, 50, 0, sa)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ConfirmWithdraw(req, 0, sb); !errors.Is(err, ErrStale) {
		t.Fatalf("confirm on a stale view: %v, want stale", err)
	}
	forged := req
	forged.Total = 11
	if _, err := b.ConfirmWithdraw(forged, 0, sb); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("altered request: %v", err)
	}
	if err := a.SetWithdrawn(a.Own.Address, 10); err != nil {
		t.Fatal(err)
	}
	if a.Own.WithdrawExpiry != 0 || a.Own.ChainWithdrawn != 10 {
		t.Fatalf("executed withdrawal still pending: %+v", a.Own)
	}
}

func FuzzDecodeWithdraw(f *testing.F) {
	a, b, sa, sb := pair(f, 100)
	req, _ := a.RequestWithdraw(10, 50, 0, sa)
	conf, _ := b.ConfirmWithdraw(req, 0, sb)
	f.Add(EncodeWithdrawRequest(req))
	f.Add(EncodeWithdrawConfirm(conf))
	f.Add([]byte{byte(KindWithdrawConfirm)})
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := DecodeWithdrawRequest(data); err == nil && !bytes.Equal(EncodeWithdrawRequest(r), data) {
			t.Fatal("withdraw request does not round-trip")
		}
		if c, err := DecodeWithdrawConfirm(data); err == nil {
			if !bytes.Equal(EncodeWithdrawConfirm(c), data) {
				t.Fatal("withdraw confirmation does not round-trip")
			}
			x, _, sx, _ := pair(t, 10)
			_ = x.CheckWithdrawConfirm(c)
			_, _ = x.ConfirmWithdraw(c.Request, 0, sx)
			if err := x.CheckInvariant(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestStateV3Migrates: a state stored by a release before version 4 decodes with its pending
// withdrawal (without signatures, which it never kept) and is written back as version 4.
func TestStateV3Migrates(t *testing.T) {
	a, b, sa, _ := pair(t, 100)
	d, _ := a.Direct(5, sa)
	if _, err := b.Receive(d, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RequestWithdraw(20, 1000, 1, sa); err != nil {
		t.Fatal(err)
	}
	var old Channel
	if err := old.UnmarshalBinary(marshalV3(a)); err != nil {
		t.Fatalf("version 3 state: %v", err)
	}
	want := *a
	want.Own.WithdrawSig, want.Own.WithdrawCoSig = [65]byte{}, [65]byte{}
	if !reflect.DeepEqual(old, want) {
		t.Fatalf("version 3 state decodes to %+v, want %+v", old, want)
	}
	out, _ := old.MarshalBinary()
	if out[0] != stateVersion {
		t.Fatalf("rewritten as version %d, want %d", out[0], stateVersion)
	}
}

// TestSyncHandsBackALostWithdrawal: each side takes back, from the other's Sync, the agreement it
// lost (requester and co-signer alike), checks both signatures, and refuses a forged one.
func TestSyncHandsBackALostWithdrawal(t *testing.T) {
	a, b, sa, sb := pair(t, 100)
	lostA, lostB := *a, *b // the stores as they were before the agreement
	req, conf := agreeWithdraw(t, a, b, sa, sb, 30)
	for _, c := range []struct {
		name      string
		lost      *Channel
		from      *Channel
		side      func(*Channel) *Side
		wantSig   [65]byte
		wantCoSig [65]byte
	}{
		{"requester", &lostA, b, func(c *Channel) *Side { return &c.Own }, req.Signature, conf.Signature},
		{"co-signer", &lostB, a, func(c *Channel) *Side { return &c.Partner }, req.Signature, conf.Signature},
	} {
		frame := EncodeSync(c.from.SyncMessage(false))
		s, err := DecodeSync(frame)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.lost.HandleSync(s)
		if err != nil || res.RecoveredWithdrawals != 1 {
			t.Fatalf("%s: %+v, %v; want one withdrawal recovered", c.name, res, err)
		}
		sd := c.side(c.lost)
		if sd.Withdrawn != 30 || sd.WithdrawExpiry != 1000 || sd.WithdrawSig != c.wantSig || sd.WithdrawCoSig != c.wantCoSig {
			t.Fatalf("%s: side after sync %+v", c.name, sd)
		}
		if res, _ := c.lost.HandleSync(s); res.RecoveredWithdrawals != 0 {
			t.Fatalf("%s: the same Sync recovered again", c.name)
		}
	}
	forged := a.SyncMessage(false)
	forged.Withdrawals[0].Total = 90
	fresh := *b
	fresh.Partner.Withdrawn, fresh.Partner.WithdrawExpiry = 0, 0
	if _, err := fresh.HandleSync(forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged agreement: %v, want ErrBadSignature", err)
	}
}
