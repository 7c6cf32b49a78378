#!/usr/bin/python3
# python3-zeroconf, the mDNS stack of Home Assistant, as a client for clients.test.js. On
# one interface and one IP version, it browses for _http._tcp.local. (PTR), resolves each
# instance it finds (SRV, TXT, and the A/AAAA records of its host), and prints what it accepted
# as one JSON line. It stops by itself after the given number of seconds.
#
#   zeroconf-client.py 4 <an IPv4 address of the interface> <seconds>
#   zeroconf-client.py 6 <the interface's index> <seconds>
import json
import sys
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, Zeroconf

SERVICE_TYPE = '_http._tcp.local.'

version, interface, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
if version == '4':
    zeroconf = Zeroconf(interfaces=[interface], ip_version=IPVersion.V4Only)
else:
    zeroconf = Zeroconf(interfaces=[int(interface)], ip_version=IPVersion.V6Only)


class Found:
    def __init__(self):
        self.names = []

    def add_service(self, zc, type_, name):
        self.names.append(name)

    def update_service(self, zc, type_, name):
        pass

    def remove_service(self, zc, type_, name):
        pass


found = Found()
deadline = time.monotonic() + seconds
browser = ServiceBrowser(zeroconf, SERVICE_TYPE, found)
while not found.names and time.monotonic() < deadline:
    time.sleep(0.05)
services = []
for name in found.names:
    info = ServiceInfo(SERVICE_TYPE, name)
    resolved = info.request(zeroconf, max(0.0, deadline - time.monotonic()) * 1000)
    services.append({
        'name': name,
        'resolved': resolved,
        'server': info.server,
        'port': info.port,
        'txt': {key.decode(): (value or b'').decode() for key, value in info.properties.items()},
        'addresses': info.parsed_addresses(),
    })
browser.cancel()
zeroconf.close()
print(json.dumps({'services': services}), flush=True)
