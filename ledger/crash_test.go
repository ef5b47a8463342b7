//go:build unix

package ledger_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/chain"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/contracts/bindings"
	"github.com/fractals-energy/fractals/ledger/store"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// The crash tests re-execute this test binary as a child unit (payer or payee) that kills itself
// with SIGKILL at the k-th time it reaches a named point of the transfer path.
const childEnv = "FRACTALS_LEDGER_CRASH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

const (
	crashPayments = 200
	depositA      = 1_000_000
	depositB      = 1_000
	payerSeed     = 21
	payeeSeed     = 22
	// The mediated crash tests: payer → mediator (the child) → carol → dave.
	mediatorSeed = 23
	carolSeed    = 24
	daveSeed     = 25
)

func amountOf(id uint64) uint64 { return id%5 + 1 }

func totalPaid() uint64 {
	var s uint64
	for id := uint64(1); id <= crashPayments; id++ {
		s += amountOf(id)
	}
	return s
}

// runChild is the child unit's main.
func runChild() int {
	env := func(k string) string { return os.Getenv("CRASH_" + k) }
	role := env("ROLE")
	seed, partnerSeed := uint64(payerSeed), uint64(payeeSeed)
	switch role {
	case "payee":
		seed, partnerSeed = payeeSeed, payerSeed
	case "mediator":
		seed, partnerSeed = mediatorSeed, payerSeed
	}
	key := channel.NewKeySigner(ledger.DeterministicKey(seed))
	partner := channel.NewKeySigner(ledger.DeterministicKey(partnerSeed)).Address()
	d, err := decodeDomain(env("DOMAIN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	crashAt, _ := strconv.Atoi(env("AT"))
	point := ledger.CrashPoint(env("POINT"))
	hits := 0
	var mu sync.Mutex
	hook := func(p ledger.CrashPoint) {
		mu.Lock()
		defer mu.Unlock()
		if p == point && crashAt > 0 {
			if hits++; hits == crashAt {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	}
	sequential := false
	if limit := env("FSIZE"); limit != "" {
		// A full disk: no file of this process may grow beyond limit bytes (writes past it fail
		// with EFBIG instead of the default SIGXFSZ).
		n, _ := strconv.ParseUint(limit, 10, 64)
		signal.Ignore(syscall.SIGXFSZ)
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		sequential = true
	}
	st, err := store.Open(env("DB"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	tcp, err := transport.ListenTCP(key, "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	tcp.AddPeer(partner, env("PEER"))
	node, err := ledger.NewNode(ledger.Config{Signer: key, Store: st, Transport: tcp, Clock: clock.Real{}, Resend: 30 * time.Millisecond, Hook: hook})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	own, other := uint64(depositA), uint64(depositB)
	if role == "payee" || role == "mediator" {
		own, other = other, own
	}
	if err := node.AddChannel(d, partner, own, other); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if role == "mediator" {
		// The second channel, towards carol: the mediator holds the big deposit on it.
		d2, err := decodeDomain(env("DOMAIN2"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		carol := channel.NewKeySigner(ledger.DeterministicKey(carolSeed)).Address()
		tcp.AddPeer(carol, env("PEER2"))
		if err := node.AddChannel(d2, carol, depositA, depositB); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
	}
	fmt.Printf("LISTEN %s\n", tcp.Addr())
	if role == "payee" || role == "mediator" {
		// Serve until the parent closes stdin.
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	} else if sequential {
		for id := uint64(1); id <= crashPayments; id++ {
			if err := payRetrying(node, partner, id); err != nil {
				fmt.Fprintf(os.Stderr, "payment %d refused: %v\n", id, err)
				if err := node.Pay(context.Background(), partner, 1, crashPayments+1); err == nil {
					fmt.Fprintln(os.Stderr, "a payment after the failed commit went through")
					return 4
				}
				node.Close()
				tcp.Close()
				st.Close() // fails too; the log stays for the next open
				return 1
			}
		}
	} else if err := payAll(node, partner); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	node.Close()
	tcp.Close()
	st.Close()
	fmt.Println("DONE")
	return 0
}

// payAll pays every id (four at a time); ids already paid before a crash are not paid again.
func payAll(n *ledger.Node, partner common.Address) error {
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := uint64(0); w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := w + 1; id <= crashPayments; id += 4 {
				if err := payRetrying(n, partner, id); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func payRetrying(n *ledger.Node, partner common.Address, id uint64) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := n.Pay(ctx, partner, amountOf(id), id)
		cancel()
		if err == nil || !errors.Is(err, context.DeadlineExceeded) || time.Now().After(deadline) {
			return err
		}
	}
}

func encodeDomain(d channel.Domain) string {
	return fmt.Sprintf("%d:%s:%s:%d", d.ChainID, hex.EncodeToString(d.Contract[:]), hex.EncodeToString(d.ChannelID[:]), d.Epoch)
}

func decodeDomain(s string) (channel.Domain, error) {
	var d channel.Domain
	parts := strings.Split(s, ":")
	if len(parts) != 4 {
		return d, fmt.Errorf("domain %q: want chain:contract:channel:epoch", s)
	}
	var err error
	if d.ChainID, err = strconv.ParseUint(parts[0], 10, 64); err != nil {
		return d, err
	}
	d.Contract = common.HexToAddress(parts[1])
	d.ChannelID = common.HexToHash(parts[2])
	d.Epoch, err = strconv.ParseUint(parts[3], 10, 64)
	return d, err
}

// child is one run of the child unit.
type child struct {
	cmd    *exec.Cmd
	stdin  interface{ Close() error }
	addr   string
	done   chan error
	output *strings.Builder
}

func startChild(t *testing.T, role, db, peer string, d channel.Domain, point ledger.CrashPoint, at int, extraEnv ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "CRASH_ROLE="+role, "CRASH_DB="+db, "CRASH_PEER="+peer,
		"CRASH_DOMAIN="+encodeDomain(d), "CRASH_POINT="+string(point), "CRASH_AT="+strconv.Itoa(at))
	cmd.Env = append(cmd.Env, extraEnv...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &strings.Builder{}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin, done: make(chan error, 1), output: out}
	lines := bufio.NewScanner(stdout)
	addr := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if a, ok := strings.CutPrefix(lines.Text(), "LISTEN "); ok {
				addr <- a
			}
		}
		c.done <- cmd.Wait()
	}()
	select {
	case c.addr = <-addr:
	case err := <-c.done:
		c.done <- err
	case <-time.After(20 * time.Second):
		t.Fatal("child did not start")
	}
	return c
}

func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// crashChain is the simulated chain on which the crashed channel must still settle.
type crashChain struct {
	sim    *simulated.Backend
	payer  *chain.Adapter
	payee  *chain.Adapter
	domain channel.Domain
}

func newCrashChain(t *testing.T) *crashChain {
	t.Helper()
	ka, kb := ledger.DeterministicKey(payerSeed), ledger.DeterministicKey(payeeSeed)
	rich := new(big.Int).Lsh(big.NewInt(1), 80)
	sim := simulated.NewBackend(types.GenesisAlloc{
		crypto.PubkeyToAddress(ka.PublicKey): {Balance: rich},
		crypto.PubkeyToAddress(kb.PublicKey): {Balance: rich},
	})
	t.Cleanup(func() { sim.Close() })
	ctx := context.Background()
	opts := chain.Options{Mine: func() { sim.Commit() }}
	addr, _, err := chain.Deploy(ctx, sim.Client(), ka, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := &crashChain{sim: sim}
	c.payer, _ = chain.New(ctx, sim.Client(), ka, addr, opts)
	c.payee, _ = chain.New(ctx, sim.Client(), kb, addr, opts)
	c.domain, _, err = c.payer.Open(ctx, c.payee.Self(), common.Address{}, 600, depositA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.payee.Deposit(ctx, c.domain, common.Address{}, depositB); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCrashPayerAtEveryPoint kills the paying unit at each named point of its transfer path
// several times; the payee runs in this process.
func TestCrashPayerAtEveryPoint(t *testing.T) {
	for _, point := range []ledger.CrashPoint{ledger.PointSigned, ledger.PointCommitted, ledger.PointSent} {
		t.Run(string(point), func(t *testing.T) { crashPayer(t, point) })
	}
}

// TestCrashPayeeAtEveryPoint kills the paid unit at each named point of its receive path; the
// payer runs in this process and keeps retrying the same payment ids.
func TestCrashPayeeAtEveryPoint(t *testing.T) {
	for _, point := range []ledger.CrashPoint{ledger.PointReceived, ledger.PointReceivedDone} {
		t.Run(string(point), func(t *testing.T) { crashPayee(t, point) })
	}
}

const killsPerPoint = 5

func localNode(t *testing.T, seed uint64, db string) (*ledger.Node, *transport.TCP, *store.Store) {
	t.Helper()
	key := channel.NewKeySigner(ledger.DeterministicKey(seed))
	st, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := transport.ListenTCP(key, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n, err := ledger.NewNode(ledger.Config{Signer: key, Store: st, Transport: tcp, Clock: clock.Real{}, Resend: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return n, tcp, st
}

func crashPayer(t *testing.T, point ledger.CrashPoint) {
	cc := newCrashChain(t)
	dir := t.TempDir()
	payerDB, payeeDB := filepath.Join(dir, "payer.db"), filepath.Join(dir, "payee.db")
	payee, tcp, st := localNode(t, payeeSeed, payeeDB)
	if err := payee.AddChannel(cc.domain, cc.payer.Self(), depositB, depositA); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(len(point)), 5))
	kills := 0
	for run := 0; ; run++ {
		at := 0
		if kills < killsPerPoint {
			at = 1 + rng.IntN(8)
		}
		c := startChild(t, "payer", payerDB, tcp.Addr(), cc.domain, point, at)
		tcp.AddPeer(cc.payer.Self(), c.addr)
		err := <-c.done
		if killedBySIGKILL(err) {
			kills++
			continue
		}
		if err != nil {
			t.Fatalf("payer run %d: %v\n%s", run, err, c.output)
		}
		if at > 0 {
			t.Fatalf("payer finished before reaching %s %d times", point, at)
		}
		break
	}
	payeeInfo := payee.Channel(cc.payer.Self())
	payee.Close()
	tcp.Close()
	st.Close()
	verifyAfterCrashes(t, cc, payerDB, payeeDB, payeeInfo.Received, kills)
}

func crashPayee(t *testing.T, point ledger.CrashPoint) {
	cc := newCrashChain(t)
	dir := t.TempDir()
	payerDB, payeeDB := filepath.Join(dir, "payer.db"), filepath.Join(dir, "payee.db")
	payer, tcp, st := localNode(t, payerSeed, payerDB)
	if err := payer.AddChannel(cc.domain, cc.payee.Self(), depositA, depositB); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(len(point)), 6))
	var kills int
	paid := make(chan error, 1)
	var payeeChild *child
	start := func(at int) {
		payeeChild = startChild(t, "payee", payeeDB, tcp.Addr(), cc.domain, point, at)
		tcp.AddPeer(cc.payee.Self(), payeeChild.addr)
	}
	start(1 + rng.IntN(8))
	go func() { paid <- payAll(payer, cc.payee.Self()) }()
	for {
		select {
		case err := <-payeeChild.done:
			if !killedBySIGKILL(err) {
				t.Fatalf("payee exited: %v\n%s", err, payeeChild.output)
			}
			kills++
			at := 0
			if kills < killsPerPoint {
				at = 1 + rng.IntN(8)
			}
			start(at)
			continue
		case err := <-paid:
			if err != nil {
				t.Fatal(err)
			}
		}
		break
	}
	if kills < killsPerPoint {
		// Fewer kills than planned would mean the point was not on the path.
		t.Fatalf("payee was killed %d times at %s, want %d", kills, point, killsPerPoint)
	}
	payeeChild.stdin.Close()
	if err := <-payeeChild.done; err != nil {
		t.Fatalf("payee shutdown: %v\n%s", err, payeeChild.output)
	}
	payer.Close()
	tcp.Close()
	st.Close()
	verifyAfterCrashes(t, cc, payerDB, payeeDB, 0, kills)
}

// verifyAfterCrashes checks the two stores agree on exactly the payments made (none lost, none
// twice), then closes and settles the channel on chain to those balances.
func verifyAfterCrashes(t *testing.T, cc *crashChain, payerDB, payeeDB string, liveReceived uint64, kills int) {
	t.Helper()
	load := func(path string) *channel.Channel {
		st, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		chans, err := st.Channels()
		if err != nil || len(chans) != 1 {
			t.Fatalf("%s: %d channels, %v", path, len(chans), err)
		}
		return chans[0]
	}
	payer, payee := load(payerDB), load(payeeDB)
	want := totalPaid()
	if payer.Own.Proof.Transferred != want || payee.Partner.Proof.Transferred != want {
		t.Fatalf("after %d kills: payer signed %d, payee holds %d, want %d", kills, payer.Own.Proof.Transferred, payee.Partner.Proof.Transferred, want)
	}
	if liveReceived != 0 && liveReceived != want {
		t.Fatalf("payee's live view %d, want %d", liveReceived, want)
	}
	if payer.Own.Proof != payee.Partner.Proof {
		t.Fatalf("payer's latest proof %d differs from the payee's %d", payer.Own.Proof.Nonce, payee.Partner.Proof.Nonce)
	}
	ctx := context.Background()
	if _, err := cc.payee.Close(ctx, cc.domain, payee.Partner.Proof); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if err := cc.sim.AdjustTime(601 * time.Second); err == nil {
			break
		} else if i > 200 {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cc.sim.Commit()
	r, err := cc.payer.Settle(ctx, cc.domain)
	if err != nil {
		t.Fatal(err)
	}
	abi := bindings.NewFractalsChannels()
	for _, l := range r.Logs {
		if ev, err := abi.UnpackSettledEvent(l); err == nil {
			gotPayer, gotPayee := ev.AmountA.Uint64(), ev.AmountB.Uint64()
			if cc.payee.Self().Cmp(cc.payer.Self()) < 0 {
				gotPayer, gotPayee = gotPayee, gotPayer
			}
			if gotPayer != depositA-want || gotPayee != depositB+want {
				t.Fatalf("settled payer %d payee %d, want %d and %d", gotPayer, gotPayee, depositA-want, depositB+want)
			}
			t.Logf("%d kills; %d payments of total %d; settled on chain payer %d payee %d", kills, crashPayments, want, gotPayer, gotPayee)
			return
		}
	}
	t.Fatal("no Settled event")
}

// TestFullDiskRefusesPaymentsLosesNothing runs the payer in a child whose files may not grow past
// a limit (RLIMIT_FSIZE: the disk is full for it) and pays one payment at a time until its log
// append fails: that payment and every later one are refused, and the payee holds exactly the
// proof the payer's store holds. Restarted with room, the payer pays the rest once each, and the
// channel settles on chain to the full amount.
func TestFullDiskRefusesPaymentsLosesNothing(t *testing.T) {
	cc := newCrashChain(t)
	dir := t.TempDir()
	payerDB, payeeDB := filepath.Join(dir, "payer.db"), filepath.Join(dir, "payee.db")
	payee, tcp, st := localNode(t, payeeSeed, payeeDB)
	if err := payee.AddChannel(cc.domain, cc.payer.Self(), depositB, depositA); err != nil {
		t.Fatal(err)
	}
	// The payer's bbolt file exists at its opening size; the limit leaves its log about 40 KiB.
	pre, err := store.Open(payerDB)
	if err != nil {
		t.Fatal(err)
	}
	pre.Close()
	fi, err := os.Stat(payerDB)
	if err != nil {
		t.Fatal(err)
	}
	limit := fi.Size() + 40<<10
	c := startChild(t, "payer", payerDB, tcp.Addr(), cc.domain, "", 0, "CRASH_FSIZE="+strconv.FormatInt(limit, 10))
	tcp.AddPeer(cc.payer.Self(), c.addr)
	err = <-c.done
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(c.output.String(), "refused") || !strings.Contains(c.output.String(), "file too large") {
		t.Fatalf("payer on a full disk: %v, want exit 1 with its refused payment\n%s", err, c.output)
	}
	t.Logf("full disk: %s", strings.TrimSpace(c.output.String()))
	// Nothing the payee holds is missing from the payer's store, and nothing more was sent.
	ro, err := store.OpenReadOnly(payerDB)
	if err != nil {
		t.Fatal(err)
	}
	chans, err := ro.Channels()
	ro.Close()
	if err != nil || len(chans) != 1 {
		t.Fatalf("payer store after the full disk: %d channels, %v", len(chans), err)
	}
	held := payee.Channel(cc.payer.Self())
	if chans[0].Own.Proof != held.Partner || held.Received == 0 || held.Received == totalPaid() {
		t.Fatalf("payer's stored proof %d (sent %d), the payee holds %d (received %d of %d)", chans[0].Own.Proof.Nonce, chans[0].Own.Proof.Transferred, held.Partner.Nonce, held.Received, totalPaid())
	}
	c = startChild(t, "payer", payerDB, tcp.Addr(), cc.domain, "", 0)
	tcp.AddPeer(cc.payer.Self(), c.addr)
	if err := <-c.done; err != nil {
		t.Fatalf("payer with room again: %v\n%s", err, c.output)
	}
	payeeInfo := payee.Channel(cc.payer.Self())
	payee.Close()
	tcp.Close()
	st.Close()
	verifyAfterCrashes(t, cc, payerDB, payeeDB, payeeInfo.Received, 0)
}

// mediatedPayments is how many A→B→C→D payments a mediator crash test makes.
const mediatedPayments = 40

// TestCrashMediatorAtEveryPoint kills the mediator B of 3-hop transfers A→B→C→D (a child process;
// A, C and D run here) at each named point of its path, which it walks both as a payee (A's locks
// and unlocks) and as a payer (its locks and unlocks towards C). A retries each payment with its
// id. Afterwards every payment reached D exactly once, no lock is left anywhere, and the
// mediator's store, read after the test, gained and paid out exactly the total.
func TestCrashMediatorAtEveryPoint(t *testing.T) {
	for _, point := range []ledger.CrashPoint{ledger.PointReceived, ledger.PointReceivedDone, ledger.PointSigned, ledger.PointCommitted, ledger.PointSent} {
		t.Run(string(point), func(t *testing.T) { crashMediator(t, point) })
	}
}

func seedAddress(seed uint64) common.Address {
	return channel.NewKeySigner(ledger.DeterministicKey(seed)).Address()
}

func offChainDomain(x, y common.Address) channel.Domain {
	return channel.Domain{ChainID: 1337, Contract: channel.Address{0xbe}, ChannelID: crypto.Keccak256Hash(x.Bytes(), y.Bytes()), Epoch: 1}
}

func crashMediator(t *testing.T, point ledger.CrashPoint) {
	dir := t.TempDir()
	a, tcpA, stA := localNode(t, payerSeed, filepath.Join(dir, "a.db"))
	c, tcpC, stC := localNode(t, carolSeed, filepath.Join(dir, "c.db"))
	d, tcpD, stD := localNode(t, daveSeed, filepath.Join(dir, "d.db"))
	b := seedAddress(mediatorSeed)
	dAB, dBC, dCD := offChainDomain(a.Address(), b), offChainDomain(b, c.Address()), offChainDomain(c.Address(), d.Address())
	for _, add := range []error{a.AddChannel(dAB, b, depositA, depositB), c.AddChannel(dBC, b, depositB, depositA),
		c.AddChannel(dCD, d.Address(), depositA, depositB), d.AddChannel(dCD, c.Address(), depositB, depositA)} {
		if add != nil {
			t.Fatal(add)
		}
	}
	tcpC.AddPeer(d.Address(), tcpD.Addr())
	tcpD.AddPeer(c.Address(), tcpC.Addr())
	tcpA.AddPeer(d.Address(), tcpD.Addr()) // secret request and reveal
	tcpD.AddPeer(a.Address(), tcpA.Addr())
	bDB := filepath.Join(dir, "b.db")
	var mediator *child
	start := func(at int) {
		mediator = startChild(t, "mediator", bDB, tcpA.Addr(), dAB, point, at, "CRASH_PEER2="+tcpC.Addr(), "CRASH_DOMAIN2="+encodeDomain(dBC))
		tcpA.AddPeer(b, mediator.addr)
		tcpC.AddPeer(b, mediator.addr)
	}
	rng := rand.New(rand.NewPCG(uint64(len(point)), 7))
	const kills = 3
	start(1 + rng.IntN(6))
	route := []common.Address{b, c.Address(), d.Address()}
	paid := make(chan error, 1)
	go func() { paid <- payRoutes(a, route) }()
	killed := 0
	for done := false; !done; {
		select {
		case err := <-mediator.done:
			if !killedBySIGKILL(err) {
				t.Fatalf("mediator exited: %v\n%s", err, mediator.output)
			}
			killed++
			at := 0
			if killed < kills {
				at = 1 + rng.IntN(6)
			}
			start(at)
		case err := <-paid:
			if err != nil {
				t.Fatalf("after %d kills at %s: %v\na→b %+v\nc←b %+v\nc→d %+v\nd←c %+v\nmediator: %s", killed, point, err,
					a.Channel(b), c.Channel(b), c.Channel(d.Address()), d.Channel(c.Address()), mediator.output)
			}
			done = true
		}
	}
	var want uint64
	for id := uint64(1); id <= mediatedPayments; id++ {
		want += amountOf(id)
	}
	// The last unlocks may still travel back along the route.
	settled := func() bool {
		ab, cb, cd, dc := a.Channel(b), c.Channel(b), c.Channel(d.Address()), d.Channel(c.Address())
		return ab.OwnLocked == 0 && ab.Acked == ab.OwnNonce && cb.PartnerLocked == 0 && cd.OwnLocked == 0 && cd.Acked == cd.OwnNonce &&
			dc.PartnerLocked == 0 && ab.Sent == want && cb.Received == want && cd.Sent == want && dc.Received == want
	}
	for deadline := time.Now().Add(30 * time.Second); !settled(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %d kills at %s: a sent %+v; c got %+v from b and sent %+v; d got %+v; want %d each, no locks",
				killed, point, a.Channel(b), c.Channel(b), c.Channel(d.Address()), d.Channel(c.Address()), want)
		}
	}
	ab, cb := a.Channel(b), c.Channel(b)
	mediator.stdin.Close()
	if err := <-mediator.done; err != nil {
		t.Fatalf("mediator shutdown: %v\n%s", err, mediator.output)
	}
	ro, err := store.OpenReadOnly(bDB)
	if err != nil {
		t.Fatal(err)
	}
	chans, err := ro.Channels()
	ro.Close()
	if err != nil || len(chans) != 2 {
		t.Fatalf("mediator's store: %d channels, %v", len(chans), err)
	}
	for _, ch := range chans {
		switch ch.Partner.Address {
		case a.Address():
			if ch.Partner.Proof != ab.Own || ch.Partner.Proof.Transferred != want {
				t.Fatalf("mediator holds a's proof %d (transferred %d), a's latest is %d, want %d", ch.Partner.Proof.Nonce, ch.Partner.Proof.Transferred, ab.OwnNonce, want)
			}
		case c.Address():
			if ch.Own.Proof != cb.Partner || ch.Own.Proof.Transferred != want {
				t.Fatalf("mediator's own proof to c %d (transferred %d), c holds %d, want %d", ch.Own.Proof.Nonce, ch.Own.Proof.Transferred, cb.PartnerNonce, want)
			}
		}
	}
	for _, x := range []struct {
		n   *ledger.Node
		tcp *transport.TCP
		st  *store.Store
	}{{a, tcpA, stA}, {c, tcpC, stC}, {d, tcpD, stD}} {
		x.n.Close()
		x.tcp.Close()
		x.st.Close()
	}
	t.Logf("%d kills of the mediator at %s; %d mediated payments of total %d reached d once each", killed, point, mediatedPayments, want)
}

// payRoutes pays every id over route (four at a time), retrying an id after a timeout.
func payRoutes(n *ledger.Node, route []common.Address) error {
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := uint64(0); w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := w + 1; id <= mediatedPayments; id += 4 {
				deadline := time.Now().Add(60 * time.Second)
				for {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					err := n.PayRoute(ctx, route, amountOf(id), id)
					cancel()
					if err == nil {
						break
					}
					if !errors.Is(err, context.DeadlineExceeded) || time.Now().After(deadline) {
						errs <- fmt.Errorf("payment %d: %w", id, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
