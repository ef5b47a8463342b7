// Package modbus is the Modbus transport of the device layer, over github.com/goburrow/modbus (TCP
// and RTU): gateways whose connections all units behind them share, a request timeout, a limit on
// requests in flight per gateway, a delay between a write and the next read, and back-off for a unit
// that stops answering (its requests then fail fast with der.ErrStale, never fatally). Holding
// registers (read 3, write 16) and input registers (read 4); RTU is tested over a socat pty pair
// against pymodbus. Target is the gateway and unit id fields a Modbus driver's configuration embeds,
// with their checks.
//
// It knows registers, not meanings: SunSpec decoding lives in der/sunspec. It must not retry writes
// on its own (a control write is retried by its caller, which knows whether it is still wanted).
package modbus
