//go:build meshlong

package mesh

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// TestNodeStaticPeerRedialledAfterRestart: a restarted unit that dials nobody is redialled by the
// unit that has it as a static peer, and gets what was queued for it. devp2p waits out its dial
// history (35 s) before dialling the same node again, so this takes about 40 s:
// go test -tags meshlong -run TestNodeStaticPeerRedialledAfterRestart -v ./mesh/
func TestNodeStaticPeerRedialledAfterRestart(t *testing.T) {
	a := startNode(t, SeededKey(12, 0), "127.0.0.1:0", nil)
	keyB := SeededKey(12, 1)
	b := startNode(t, keyB, "127.0.0.1:0", nil)
	a.AddPeer(b.Enode())
	eventually(t, 10*time.Second, "a never linked to b", func() bool { return a.PeerCount() == 1 })
	port := b.Enode().TCP()
	b.Close()
	down := time.Now()
	if err := a.Send(b.Self(), CodeLedger, []byte("queued")); err != nil {
		t.Fatal(err)
	}
	b2 := startNode(t, keyB, net.JoinHostPort("127.0.0.1", fmt.Sprint(port)), nil)
	sub := b2.Subscribe(CodeLedger)
	select {
	case m := <-sub.C():
		t.Logf("a redialled the restarted b %v after it went down; queued message %q delivered", time.Since(down).Round(time.Second), m.Payload)
	case <-time.After(90 * time.Second):
		t.Fatal("a never redialled b")
	}
}
