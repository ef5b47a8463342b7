// Package storagenode drives the unit's IGFS storage node through its HTTP API, as the HIL rig
// emulates it: GET /v1/node/status returns {"replication": "running"|"paused", "read_only": bool,
// "bandwidth_limit_bps": n}; PUT /v1/node/replication {"paused": bool}, PUT /v1/node/read-only
// {"read_only": bool} and PUT /v1/node/bandwidth {"limit_bps": n} change it and answer with the
// new status. Node adapts it to der.StorageNode. Config
// is the driver's part of the unit file (url), registered as "storagenode".
package storagenode
