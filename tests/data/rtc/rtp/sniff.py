#!/usr/bin/env python3
# Records the UDP payloads seen on `lo` for a while (used by capture-packets.mjs; needs root and
# must run in a private network namespace). Output records: !dHHI (time, src port, dst port,
# length) followed by the payload. Prints "ready" once the socket is bound.
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800


def main():
    out_path, seconds = sys.argv[1], float(sys.argv[2])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    s.bind(("lo", 0))
    s.settimeout(0.2)
    print("ready", flush=True)
    end = time.time() + seconds
    with open(out_path, "wb") as out:
        while time.time() < end:
            try:
                frame, addr = s.recvfrom(65535)
            except socket.timeout:
                continue
            # Loopback shows each packet twice (outgoing and incoming): keep one.
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            ip = frame[14:]  # lo frames carry a zeroed 14-byte Ethernet header
            if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            ihl = (ip[0] & 15) * 4
            udp = ip[ihl:]
            if len(udp) < 8:
                continue
            sport, dport, ulen = struct.unpack("!HHH", udp[:6])
            payload = udp[8:ulen]
            out.write(struct.pack("!dHHI", time.time(), sport, dport, len(payload)) + payload)


if __name__ == "__main__":
    main()
