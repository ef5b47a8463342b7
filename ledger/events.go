package ledger

// The closed set of the node loop's inputs (Node.handle switches over exactly these): calls of
// the API (payments, routes, withdrawals, settles, channel and chain reports, queries), frames
// from peers and the time passing (tickEvent).
func (*payEvent) isEvent()                {}
func (*frameEvent) isEvent()              {}
func (*addChannelEvent) isEvent()         {}
func (*routeEvent) isEvent()              {}
func (*withdrawEvent) isEvent()           {}
func (*settleEvent) isEvent()             {}
func (*claimsEvent) isEvent()             {}
func (*expiredWithdrawalsEvent) isEvent() {}
func (*chainEvent) isEvent()              {}
func (*queryEvent) isEvent()              {}
func (*settledEvent) isEvent()            {}
func (*tickEvent) isEvent()               {}
