#!/bin/sh
# Install the unpacked Trace Annotator bundle for the current user (no administrator rights).
#   ./install.sh            copy to ~/.local/opt/trace-annotator, add the menu entry and icons
#   ./install.sh --uninstall
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
PREFIX=${TRACE_ANNOTATOR_PREFIX:-$HOME/.local/opt/trace-annotator}
BIN=$HOME/.local/bin
ID=io.github.trace_annotator.TraceAnnotator
SIZES="16 22 24 32 48 64 128 256 512"

uninstall() {
    rm -rf "$PREFIX"
    rm -f "$BIN/annotator" "$BIN/trace-annotator" "$DATA/applications/trace-annotator.desktop" \
        "$DATA/metainfo/$ID.metainfo.xml" "$DATA/icons/hicolor/scalable/apps/trace-annotator.svg"
    for s in $SIZES; do rm -f "$DATA/icons/hicolor/${s}x${s}/apps/trace-annotator.png"; done
    echo "Trace Annotator removed (your labels and settings are kept in your data directory)."
}

if [ "${1:-}" = "--uninstall" ]; then uninstall; exit 0; fi

test -x "$HERE/annotator" || { echo "run install.sh from the unpacked bundle folder" >&2; exit 1; }
if [ "$HERE" != "$PREFIX" ]; then
    rm -rf "$PREFIX"
    mkdir -p "$(dirname "$PREFIX")"
    cp -a "$HERE" "$PREFIX"
fi
mkdir -p "$BIN" "$DATA/applications" "$DATA/metainfo" "$DATA/icons/hicolor/scalable/apps"
ln -sf "$PREFIX/annotator" "$BIN/annotator"
ln -sf "$PREFIX/annotator" "$BIN/trace-annotator"
ICONS=$PREFIX/_internal/annotator/_resources/icons
for s in $SIZES; do
    mkdir -p "$DATA/icons/hicolor/${s}x${s}/apps"
    cp "$ICONS/hicolor/${s}x${s}/apps/trace-annotator.png" "$DATA/icons/hicolor/${s}x${s}/apps/"
done
cp "$ICONS/trace-annotator.svg" "$DATA/icons/hicolor/scalable/apps/"
# The menu may not have ~/.local/bin on its PATH: point the entry at the bundle itself.
sed -e "s|^Exec=.*|Exec=\"$PREFIX/annotator\"|" -e "s|^TryExec=.*|TryExec=$PREFIX/annotator|" \
    "$PREFIX/share/trace-annotator.desktop" >"$DATA/applications/trace-annotator.desktop"
cp "$PREFIX/share/$ID.metainfo.xml" "$DATA/metainfo/"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$DATA/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q "$DATA/icons/hicolor" || true
echo "Installed in $PREFIX. Start it from the applications menu (Trace Annotator) or run: annotator"
