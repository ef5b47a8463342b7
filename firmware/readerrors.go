package firmware

// maxReadErrors bounds the read errors kept in the status, so a unit with many failing devices
// keeps a small status page.
const maxReadErrors = 16

// recordReadErrors keeps the last cycle's failed reads in the status, so the reason a value is
// stale or missing (a timeout, an implausible 1e12 W) shows in /api/status as well as in the log.
func (u *Unit) recordReadErrors(errs []error) {
	msgs := make([]string, 0, min(len(errs), maxReadErrors))
	for _, e := range errs[:min(len(errs), maxReadErrors)] {
		msgs = append(msgs, e.Error())
	}
	u.mu.Lock()
	u.status.ReadErrors = msgs
	u.mu.Unlock()
}
