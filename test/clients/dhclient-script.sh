#!/bin/sh
# ISC dhclient's event script for clients.test.js: it prints each event with the lease,
# for the test to read. It configures nothing: what the client accepted is all the test needs.
echo "dhclient-event reason=$reason address=$new_ip6_address prefixlen=$new_ip6_prefixlen"
