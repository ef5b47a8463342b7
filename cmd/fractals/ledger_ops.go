package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/chain"
)

// The operator's ledger commands talk to a running daemon's API (--api); inspect reads stores on
// disk without changing them.

var ledgerActions = map[string]bool{"open": true, "deposit": true, "withdraw": true, "close": true, "settle": true, "pay": true}

var partnerAddress = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)

var apiClient = &http.Client{Timeout: 40 * time.Second}

func runLedgerChannels(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ledger channels", flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := fs.String("api", "http://127.0.0.1:8080", "the daemon's API")
	asJSON := fs.Bool("json", false, "print the daemon's JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fractals ledger channels: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	resp, err := apiClient.Get(strings.TrimSuffix(*api, "/") + "/api/ledger/channels")
	if err != nil {
		fmt.Fprintf(stderr, "fractals ledger channels: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusNotFound {
		fmt.Fprintf(stderr, "fractals ledger channels: %s runs no ledger (its unit file has no channels section)\n", *api)
		return 1
	}
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "fractals ledger channels: %s: %s\n", resp.Status, strings.TrimSpace(string(body)))
		return 1
	}
	if *asJSON {
		_, _ = stdout.Write(body)
		return 0
	}
	var v struct {
		Account  string                 `json:"account"`
		Channels []firmware.ChannelView `json:"channels"`
		Pending  int                    `json:"pending_chain_actions"`
		Refused  int                    `json:"refused"`
		LastErr  string                 `json:"last_chain_error"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		fmt.Fprintf(stderr, "fractals ledger channels: the daemon's answer: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "account %s: %d channel(s), %d on-chain action(s) pending, %d refused\n", v.Account, len(v.Channels), v.Pending, v.Refused)
	for _, c := range v.Channels {
		fmt.Fprintf(stdout, "  %s %-8s own %d (deposit %d, nonce %d, locks %d)  partner %d (deposit %d, nonce %d, locks %d)  sent %d received %d synced %v\n",
			c.Partner.Hex(), c.State, c.OwnBalance, c.OwnDeposit, c.OwnNonce, c.OwnLocks, c.PartnerBalance, c.PartnerDeposit, c.PartnerNonce, c.PartnerLocks, c.Sent, c.Received, c.Synced)
	}
	if v.LastErr != "" {
		fmt.Fprintf(stdout, "last chain error: %s\n", v.LastErr)
	}
	return 0
}

func runLedgerAction(name string, args []string, stdout, stderr io.Writer) int {
	who := "fractals ledger " + name
	fs := flag.NewFlagSet("ledger "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := fs.String("api", "http://127.0.0.1:8080", "the daemon's API")
	partner := fs.String("partner", "", "the channel partner's address (0x and 40 hex digits)")
	amount := fs.Uint64("amount", 0, "open: deposit; deposit: increment; withdraw: cumulative total; pay: amount")
	id := fs.Uint64("id", 0, "pay: payment id (a retry with the same id pays once)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", who, fs.Arg(0))
		return 2
	case !partnerAddress.MatchString(*partner):
		fmt.Fprintf(stderr, "%s: --partner %q is not an address (0x and 40 hex digits)\n", who, *partner)
		return 2
	case (name == "open" || name == "deposit" || name == "withdraw" || name == "pay") && *amount == 0:
		fmt.Fprintf(stderr, "%s: --amount required (> 0)\n", who)
		return 2
	}
	body, _ := json.Marshal(firmware.LedgerRequest{Partner: *partner, Amount: *amount, ID: *id})
	resp, err := apiClient.Post(strings.TrimSuffix(*api, "/")+"/api/ledger/"+name, "application/json", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", who, err)
		return 1
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var ans firmware.LedgerAnswer
	if err := json.Unmarshal(out, &ans); err != nil {
		fmt.Fprintf(stderr, "%s: %s: %s\n", who, resp.Status, strings.TrimSpace(string(out)))
		return 1
	}
	if !ans.OK {
		fmt.Fprintf(stderr, "%s: %s\n", who, ans.Error)
		return 1
	}
	fmt.Fprintf(stdout, "%s: done; %d on-chain action(s) pending\n", who, ans.Pending)
	return 0
}

// inspectedStore is one store's inspection with its queued chain actions decoded.
type inspectedStore struct {
	ledger.Inspection
	Actions []string `json:"pending_actions"`
	Error   string   `json:"error,omitempty"`
}

func runLedgerInspect(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ledger inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "a ledger store (.db file) or a directory of them")
	asJSON := fs.Bool("json", false, "print one JSON array")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "fractals ledger inspect: --dir DIR|FILE required, nothing else")
		return 2
	}
	paths := []string{*dir}
	if st, err := os.Stat(*dir); err != nil {
		fmt.Fprintf(stderr, "fractals ledger inspect: %v\n", err)
		return 1
	} else if st.IsDir() {
		paths, _ = filepath.Glob(filepath.Join(*dir, "*.db"))
		sort.Strings(paths)
		if len(paths) == 0 {
			fmt.Fprintf(stderr, "fractals ledger inspect: no .db files in %s\n", *dir)
			return 1
		}
	}
	var all []inspectedStore
	status := 0
	for _, p := range paths {
		in, err := ledger.Inspect(p)
		is := inspectedStore{Inspection: in}
		if err != nil {
			is.Error, status = err.Error(), 1
		}
		for _, a := range in.Pending {
			if act, err := chain.DecodeAction(a.Data); err != nil {
				is.Actions = append(is.Actions, fmt.Sprintf("%s: undecodable: %v", a.Key, err))
			} else {
				is.Actions = append(is.Actions, fmt.Sprintf("%s on channel %x", act.Kind, act.Domain.ChannelID[:4]))
			}
		}
		all = append(all, is)
	}
	if *asJSON {
		if writeJSON(stdout, stderr, "fractals ledger inspect", all, true) != 0 {
			return 1
		}
		return status
	}
	for _, is := range all {
		if is.Error != "" {
			fmt.Fprintf(stdout, "%s: REFUSED: %s\n", is.Path, is.Error)
			continue
		}
		fmt.Fprintf(stdout, "%s: %d channel(s), %d payment record(s), %d route(s), %d secret(s)\n", is.Path, len(is.Channels), is.Payments, is.Routes, is.Secrets)
		for _, c := range is.Channels {
			fmt.Fprintf(stdout, "  %s\n", c)
		}
		for _, a := range is.Actions {
			fmt.Fprintf(stdout, "  queued: %s\n", a)
		}
		for _, n := range is.Notes {
			fmt.Fprintf(stdout, "  pending: %s\n", n)
		}
	}
	return status
}
