#!/usr/bin/env bash
# Installs the Debian packages the TTS asset tests use, when we are root with apt-get; else skips.
set -u
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  if ! command -v espeak-ng >/dev/null 2>&1 || ! command -v flite >/dev/null 2>&1 || ! command -v text2wave >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
       espeak-ng flite festival festvox-kallpc16k festvox-us-slt-hts >/dev/null) \
      || echo "ci_setup: could not install the TTS engines; TTS tests will skip"
  fi
fi
exit 0
