package ledger

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/ledger/transport"
)

// wipeStore deletes a stopped node's store (the bbolt file and its logs) and puts back a backup
// taken earlier: everything written since is gone.
func wipeStore(t *testing.T, path, backup string) {
	t.Helper()
	for _, p := range []string{path, path + ".wal", path + ".wal.old"} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	copyFile(t, backup, path)
}

// restartSynced restarts a stopped hub node on its file and waits until its channel with
// partner is re-established.
func restartSynced(t *testing.T, hub *transport.Hub, h *hubNode, partner *hubNode) *hubNode {
	t.Helper()
	n := startHubNode(t, hub, h.seed, h.path)
	waitFor(t, "the channel is synced again", func() bool { return n.Channel(partner.Address()).Synced })
	return n
}

// TestSyncRecoversAWithdrawalLostWithTheStore: a unit agrees to a withdrawal, then loses its
// store (wiped, and restored from a backup taken before the agreement). The partner's Sync hands
// the agreement back with both signatures: the requester gets its proof for the chain back, the
// co-signer its reservation of the partner's funds, and both keep it on disk.
func TestSyncRecoversAWithdrawalLostWithTheStore(t *testing.T) {
	for _, loser := range []string{"requester", "co-signer"} {
		t.Run(loser, func(t *testing.T) {
			hub := transport.NewHub()
			dir := t.TempDir()
			a := startHubNode(t, hub, 1, filepath.Join(dir, "a.db"))
			b := startHubNode(t, hub, 2, filepath.Join(dir, "b.db"))
			link(t, a.Node, b.Node, 1000)
			if err := a.Pay(ctxT(t), b.Address(), 100, 1); err != nil {
				t.Fatal(err)
			}
			lost := a
			if loser == "co-signer" {
				lost = b
			}
			other := map[*hubNode]*hubNode{a: b, b: a}[lost]
			lost.stop()
			backup := filepath.Join(dir, "backup.db")
			copyFile(t, lost.path, backup)
			lost = restartSynced(t, hub, lost, other)
			if loser == "requester" {
				a = lost
			} else {
				b = lost
			}

			expiry := uint64(time.Now().Add(time.Hour).Unix())
			proof, err := a.Withdraw(ctxT(t), b.Address(), 300, expiry)
			if err != nil {
				t.Fatal(err)
			}
			lost.stop()
			wipeStore(t, lost.path, backup)
			lost = restartSynced(t, hub, lost, other)
			waitFor(t, "the agreement is recovered", func() bool { return lost.Stats().RecoveredWithdrawals == 1 })
			check := func(what string, n *hubNode) {
				t.Helper()
				in := n.Channel(other.Address())
				if loser == "requester" {
					if in.OwnWithdrawn != 300 || in.Withdrawal == nil || *in.Withdrawal != proof || in.OwnBalance != 600 {
						t.Fatalf("%s: withdrawn %d, proof %+v, balance %d; want 300, the agreed proof, 600", what, in.OwnWithdrawn, in.Withdrawal, in.OwnBalance)
					}
					return
				}
				if in.PartnerWithdrawn != 300 || in.PartnerBal != 600 {
					t.Fatalf("%s: partner withdrawn %d, partner balance %d; want 300 and 600", what, in.PartnerWithdrawn, in.PartnerBal)
				}
			}
			check("after the Sync", lost)
			// On disk too: restarted with the partner gone, it still holds the agreement.
			other.stop()
			lost.stop()
			check("restarted alone", startHubNode(t, hub, lost.seed, lost.path))
		})
	}
}
