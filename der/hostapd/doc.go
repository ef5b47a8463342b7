// Package hostapd drives a Wi-Fi access point through hostapd's control interface, the unix
// datagram socket hostapd_cli speaks: one command per datagram (PING, STATUS, ENABLE, DISABLE,
// SET max_num_sta N), one reply per datagram (PONG, OK, FAIL, key=value lines). The client binds
// a socket of its own for the replies. AP adapts it to der.AccessPoint. Config is
// the driver's part of the unit file (control_socket, client_limit), registered as "hostapd".
package hostapd
