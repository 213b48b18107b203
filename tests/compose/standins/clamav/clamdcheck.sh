#!/bin/sh
# As the real image's: healthy when clamd answers PING on its TCP port.
set -eu
if [ "$(echo PING | nc -w 5 -N 127.0.0.1 3310)" != "PONG" ]; then
  echo "ERROR: Unable to contact server"
  exit 1
fi
echo "Clamd is up"
