package channel

import (
	"bytes"
	"errors"
	"testing"
)

func TestCooperativeSettleFreezesAtAgreedBalances(t *testing.T) {
	a, b, sa, sb := pair(t, 100)
	u, _ := a.Direct(30, sa)
	if _, err := b.Receive(u, 0); err != nil {
		t.Fatal(err)
	}
	req, err := a.RequestCooperativeSettle(sa)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Direct(1, sa); !errors.Is(err, ErrClosing) {
		t.Fatalf("transfer while settling: %v", err)
	}
	tampered := req
	tampered.AmountA, tampered.AmountB = req.AmountB, req.AmountA
	if _, err := b.ConfirmCooperativeSettle(tampered, sb); !errors.Is(err, ErrInvalidAmount) {
		t.Fatalf("swapped balances: %v", err)
	}
	conf, err := b.ConfirmCooperativeSettle(req, sb)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CheckSettleConfirm(conf); err != nil {
		t.Fatal(err)
	}
	own, partner := req.AmountA, req.AmountB
	if a.Own.Address.Cmp(b.Own.Address) > 0 {
		own, partner = partner, own
	}
	if own != 70 || partner != 130 {
		t.Fatalf("agreed a=%d b=%d, want 70 and 130", own, partner)
	}
	late, _ := b.Direct(5, sb)
	if _, err := a.Receive(late, 0); err == nil {
		t.Fatal("a proof after the settle was signed was accepted")
	}
}

func TestCooperativeSettleNeedsTheSameState(t *testing.T) {
	a, b, sa, sb := pair(t, 100)
	if _, err := a.Direct(10, sa); err != nil { // b never sees it
		t.Fatal(err)
	}
	req, _ := a.RequestCooperativeSettle(sa)
	if _, err := b.ConfirmCooperativeSettle(req, sb); !errors.Is(err, ErrStale) {
		t.Fatalf("settle on different states: %v", err)
	}
}

func FuzzDecodeSettle(f *testing.F) {
	a, b, sa, sb := pair(f, 100)
	req, _ := a.RequestCooperativeSettle(sa)
	conf, _ := b.ConfirmCooperativeSettle(req, sb)
	f.Add(EncodeSettleRequest(req))
	f.Add(EncodeSettleConfirm(conf))
	f.Add([]byte{byte(KindSettleRequest), 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := DecodeSettleRequest(data); err == nil {
			if !bytes.Equal(EncodeSettleRequest(r), data) {
				t.Fatal("settle request does not round-trip")
			}
			x, _, _, sy := pair(t, 10)
			y := New(x.Domain, sy.Address(), x.Own.Address)
			_, _ = y.ConfirmCooperativeSettle(r, sy)
		}
		if c, err := DecodeSettleConfirm(data); err == nil && !bytes.Equal(EncodeSettleConfirm(c), data) {
			t.Fatal("settle confirmation does not round-trip")
		}
	})
}
