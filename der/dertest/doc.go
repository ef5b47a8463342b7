// Package dertest holds in-memory devices satisfying the der interfaces, for tests that need a
// device whose readings they set and whose commands they inspect (periph's gpiotest is the
// model): PV, Battery, Meter, Switch, Load, EV, AccessPoint and StorageNode. Each is safe for
// concurrent use; ReadErr makes reads fail, SetErr makes commands fail.
package dertest
