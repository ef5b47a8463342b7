package rig

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
)

// Hostapd emulates hostapd's control interface on a unix datagram socket: PING, STATUS, ENABLE,
// DISABLE, SET max_num_sta N and GET max_num_sta, each answered to the sender's own socket as
// hostapd does. Stations is how many clients are associated (capped by the limit).
type Hostapd struct {
	conn *net.UnixConn
	path string
	wg   sync.WaitGroup

	mu       sync.Mutex
	enabled  bool
	limit    int
	stations int
}

// StartHostapd listens at path with the access point enabled, limit clients allowed and
// stations associated.
func StartHostapd(path string, limit, stations int) (*Hostapd, error) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("rig: hostapd at %s: %w", path, err)
	}
	h := &Hostapd{conn: conn, path: path, enabled: true, limit: limit, stations: stations}
	h.wg.Add(1)
	go h.serve()
	return h, nil
}

// Close stops the emulator.
func (h *Hostapd) Close() error {
	err := h.conn.Close()
	h.wg.Wait()
	return err
}

// State reports what the emulated access point is doing now.
func (h *Hostapd) State() (enabled bool, limit, stations int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.enabled, h.limit, min(h.stations, h.limit)
}

func (h *Hostapd) serve() {
	defer h.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, from, err := h.conn.ReadFromUnix(buf)
		if err != nil {
			return
		}
		if from == nil {
			continue // an unbound client cannot get a reply
		}
		_, _ = h.conn.WriteToUnix([]byte(h.answer(string(buf[:n]))), from)
	}
}

func (h *Hostapd) answer(cmd string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	fields := strings.Fields(cmd)
	switch {
	case cmd == "PING":
		return "PONG\n"
	case cmd == "STATUS":
		if !h.enabled {
			return "state=DISABLED\n"
		}
		return fmt.Sprintf("state=ENABLED\nphy=phy0\nfreq=2412\nbss[0]=wlan0\nssid[0]=meshbox\nnum_sta[0]=%d\n", min(h.stations, h.limit))
	case cmd == "ENABLE" || cmd == "DISABLE":
		if h.enabled == (cmd == "ENABLE") {
			return "FAIL\n" // hostapd refuses to enable an enabled interface
		}
		h.enabled = cmd == "ENABLE"
		return "OK\n"
	case len(fields) == 3 && fields[0] == "SET" && fields[1] == "max_num_sta":
		n, err := strconv.Atoi(fields[2])
		if err != nil || n < 1 || n > 2007 {
			return "FAIL\n"
		}
		h.limit = n
		return "OK\n"
	case len(fields) == 2 && fields[0] == "GET" && fields[1] == "max_num_sta":
		return strconv.Itoa(h.limit)
	}
	return "UNKNOWN COMMAND\n"
}
