#!/usr/bin/env bash
# Installs the Debian packages that the TTS asset tests and the browser test use, when we are root
# with apt-get; anywhere else it does nothing and those tests skip with a reason.
set -u
packages="espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts fortunes fortunes-min chromium"
if command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  missing=""
  for p in $packages; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "ci_setup: installing$missing"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null) \
      || echo "ci_setup: could not install$missing; the tests that need them will skip"
  fi
fi
exit 0
