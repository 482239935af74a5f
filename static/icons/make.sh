#!/usr/bin/env bash
# Rasterises the icons of the web app manifest and favicon.ico from the SVGs (run by `make icons`;
# the outputs are committed). Needs headless Chromium and python3.
#   icon-192.png, icon-512.png          purpose "any": static/icon.svg (rounded square)
#   maskable-192.png, maskable-512.png  purpose "maskable": icons/maskable.svg (full bleed, the glyph
#                                       inside the central 80% safe zone); also the apple-touch-icon
#   ../favicon.ico                      16, 32 and 48 px from static/icon.svg
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
chromium=${CHROMIUM:-chromium}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

render() { # SVG SIZE OUT
	cp "$1" "$work/src.svg"
	printf '<!doctype html><style>html,body{margin:0}img{display:block;width:100vw;height:100vh}</style><img src="src.svg">' >"$work/page.html"
	"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
		--default-background-color=00000000 --window-size="$2,$2" --screenshot="$work/out.png" \
		"file://$work/page.html" >/dev/null 2>&1
	mv "$work/out.png" "$3"
}

for size in 192 512; do
	render ../icon.svg "$size" "icon-$size.png"
	render maskable.svg "$size" "maskable-$size.png"
done
for size in 16 32 48; do
	render ../icon.svg "$size" "$work/fav-$size.png"
done
# An ICO file may hold PNG images as they are: a header, one directory entry per image, the images.
python3 - "$work" <<'PY'
import struct, sys
pngs = [open(f"{sys.argv[1]}/fav-{n}.png", "rb").read() for n in (16, 32, 48)]
out = struct.pack("<HHH", 0, 1, len(pngs))
offset = 6 + 16 * len(pngs)
for n, data in zip((16, 32, 48), pngs):
    out += struct.pack("<BBBBHHII", n, n, 0, 0, 1, 32, len(data), offset)
    offset += len(data)
open("../favicon.ico", "wb").write(out + b"".join(pngs))
PY
