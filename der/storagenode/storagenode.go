package storagenode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/fractals-energy/fractals/der"
)

// maxReply bounds what a reply may hold; a status is under a hundred bytes.
const maxReply = 64 << 10

// Status is the node's reply, as on the wire.
type Status struct {
	Replication       string `json:"replication"` // running or paused
	ReadOnly          bool   `json:"read_only"`
	BandwidthLimitBps int64  `json:"bandwidth_limit_bps"` // 0: unlimited
}

// ParseStatus decodes and checks a status reply.
func ParseStatus(body []byte) (Status, error) {
	if len(body) > maxReply {
		return Status{}, fmt.Errorf("storagenode: status of %d bytes", len(body))
	}
	var st Status
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return Status{}, fmt.Errorf("storagenode: status: %w", err)
	}
	if st.Replication != "running" && st.Replication != "paused" {
		return Status{}, fmt.Errorf("storagenode: status: replication %.20q, want running or paused", st.Replication)
	}
	if st.BandwidthLimitBps < 0 {
		return Status{}, fmt.Errorf("storagenode: status: bandwidth_limit_bps %d is negative", st.BandwidthLimitBps)
	}
	return st, nil
}

// Node is a storage node at BaseURL (http://127.0.0.1:7480).
type Node struct {
	BaseURL string
	Client  *http.Client // default: one with a 2 s timeout
}

var _ der.StorageNode = (*Node)(nil)

var defaultClient = &http.Client{Timeout: 2 * time.Second}

func (n *Node) do(ctx context.Context, method, path string, body any) (Status, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, n.BaseURL+path, rd)
	if err != nil {
		return Status{}, fmt.Errorf("storagenode: %s %s: %w", method, path, err)
	}
	c := n.Client
	if c == nil {
		c = defaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return Status{}, fmt.Errorf("storagenode: %s %s: %v: %w", method, path, err, der.ErrStale)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		return Status{}, fmt.Errorf("storagenode: %s %s: %v: %w", method, path, err, der.ErrStale)
	}
	if resp.StatusCode != http.StatusOK {
		return Status{}, fmt.Errorf("storagenode: %s %s: HTTP %d: %.80q", method, path, resp.StatusCode, data)
	}
	st, err := ParseStatus(data)
	if err != nil {
		return Status{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return st, nil
}

// ReadStorageNode reports the node's state.
func (n *Node) ReadStorageNode(ctx context.Context) (der.StorageNodeStatus, error) {
	st, err := n.do(ctx, http.MethodGet, "/v1/node/status", nil)
	return toDer(st), err
}

func toDer(st Status) der.StorageNodeStatus {
	return der.StorageNodeStatus{ReplicationPaused: st.Replication == "paused", ReadOnly: st.ReadOnly,
		BandwidthLimit: der.BytesPerSecond(st.BandwidthLimitBps)}
}

// SetReplicationPaused pauses or resumes replication to the other units' nodes.
func (n *Node) SetReplicationPaused(ctx context.Context, paused bool) error {
	st, err := n.do(ctx, http.MethodPut, "/v1/node/replication", map[string]bool{"paused": paused})
	if err == nil && (st.Replication == "paused") != paused {
		err = fmt.Errorf("storagenode: replication still %s after the request", st.Replication)
	}
	return err
}

// SetReadOnly makes the node refuse or accept writes.
func (n *Node) SetReadOnly(ctx context.Context, readOnly bool) error {
	st, err := n.do(ctx, http.MethodPut, "/v1/node/read-only", map[string]bool{"read_only": readOnly})
	if err == nil && st.ReadOnly != readOnly {
		err = fmt.Errorf("storagenode: read_only still %v after the request", st.ReadOnly)
	}
	return err
}

// SetBandwidthLimit caps the node's network rate (0: unlimited).
func (n *Node) SetBandwidthLimit(ctx context.Context, limit der.BytesPerSecond) error {
	if limit < 0 {
		return fmt.Errorf("storagenode: bandwidth limit %d B/s is negative", limit)
	}
	st, err := n.do(ctx, http.MethodPut, "/v1/node/bandwidth", map[string]int64{"limit_bps": int64(limit)})
	if err == nil && st.BandwidthLimitBps != int64(limit) {
		err = fmt.Errorf("storagenode: bandwidth limit %d B/s after asking for %d", st.BandwidthLimitBps, limit)
	}
	return err
}
