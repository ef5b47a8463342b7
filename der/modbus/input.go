package modbus

import "context"

// ReadInputRegisters reads n input registers (function 4) from addr, with the same back-off and
// write-read delay as holding registers: many non-SunSpec devices keep their measurements there.
func (u *Unit) ReadInputRegisters(ctx context.Context, addr, n uint16) ([]uint16, error) {
	if err := u.before(ctx, true); err != nil {
		return nil, err
	}
	return u.readTable(ctx, addr, n, true, true)
}
