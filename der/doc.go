// Package der is the device layer: the small interfaces through which the controller reads and
// commands distributed energy resources (PV inverters, batteries, meters, switched loads, EV
// chargers, relays) and the unit's own services (AccessPoint, StorageNode), the signals a device
// gives about its readings (ErrStale for one too old to trust, Liveness for a link that got no
// reply, ErrImplausible for one that cannot be true, with the bounds of plausible.go), the grid
// window (InGridWindow) and WithGridPresence (a PCC meter whose utility presence a grid-present
// input tells).
//
// It is also the registry of drivers (registry.go): a driver package registers a protocol name
// (Register) with the roles its devices may play (typed Role) and a DriverConfig, its part of a
// unit file entry, which checks itself (Check), opens der interfaces (Open, given an Env with the
// unit's cycle, clock, logger, site ratings and the resources several devices share, shared.go) and
// may declare the shared resources it uses (User), what it lends others (Offerer) and what only it
// may drive (Claimer), so the unit file's reader checks the whole file without knowing any driver.
// The drivers live in sub-packages: sunspec and regmap over Modbus TCP and RTU (modbus), mqtt, gpio,
// hostapd, storagenode; templates holds known devices as data, dertest the fakes tests share.
//
// It knows nothing of control decisions, and imports only internal packages and its drivers'
// protocol libraries.
package der
