package ledger

import (
	"path/filepath"
	"testing"

	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// TestRouteRecordsPrunedAfterSettlement: the initiator keeps a record of every mediated payment
// (and its id) while the channel to its first hop is open; once the chain settles that channel
// the finished records leave the disk, and those through another first hop stay.
func TestRouteRecordsPrunedAfterSettlement(t *testing.T) {
	hub := transport.NewHub()
	dir := t.TempDir()
	var nodes []*hubNode
	for i := uint64(1); i <= 4; i++ {
		nodes = append(nodes, startHubNode(t, hub, 40+i, filepath.Join(dir, string(rune('a'+i))+".db")))
	}
	a, b, c, e := nodes[0], nodes[1], nodes[2], nodes[3]
	ab := link(t, a.Node, b.Node, 1000)
	link(t, b.Node, c.Node, 1000)
	link(t, a.Node, e.Node, 1000)
	link(t, e.Node, c.Node, 1000)
	for i := uint64(1); i <= 3; i++ {
		if err := a.PayRoute(ctxT(t), []channel.Address{b.Address(), c.Address()}, 5, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.PayRoute(ctxT(t), []channel.Address{e.Address(), c.Address()}, 5, 9); err != nil {
		t.Fatal(err)
	}
	if n := a.storedRoutes(t); n != [2]int{4, 4} {
		t.Fatalf("before settlement: %v route and id records, want 4 and 4", n)
	}
	a = startHubNode(t, hub, a.seed, a.path)
	if err := a.ChainSettled(ab); err != nil {
		t.Fatal(err)
	}
	if n := a.storedRoutes(t); n != [2]int{1, 1} {
		t.Fatalf("after settling a-b: %v route and id records, want 1 and 1 (the route through e)", n)
	}
}

// storedRoutes stops the node (its last cut reaches the disk) and counts its route and route-id
// records.
func (h *hubNode) storedRoutes(t *testing.T) [2]int {
	t.Helper()
	h.stop()
	st, err := store.Open(h.path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	routes, err := st.MetaPrefix(routePrefix)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := st.MetaPrefix(routeIDPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return [2]int{len(routes), len(ids)}
}
