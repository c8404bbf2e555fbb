#!/usr/bin/env bash
# Installs everything Soundstage needs to build, run and test on Debian 12.
# Idempotent; uses sudo when not root.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
PKGS=(
  build-essential pkg-config meson ninja-build clang lld libclang-rt-14-dev
  libglib2.0-dev libglib2.0-bin libjson-glib-dev
  libgtk-4-dev libadwaita-1-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev ffmpeg
  portaudio19-dev
  libvulkan-dev glslc spirv-tools mesa-vulkan-drivers vulkan-tools vulkan-validationlayers
  xvfb xauth dbus-x11 at-spi2-core
  desktop-file-utils appstream-util appstream gettext
  python3 python3-numpy
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
