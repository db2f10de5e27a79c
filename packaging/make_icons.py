"""Draw ModelDesk's icon and write it in every format the builds need.

    QT_QPA_PLATFORM=offscreen python packaging/make_icons.py

Writes ``resources/icons/``: ``modeldesk-SIZE.png`` (the window icon, Linux),
``modeldesk.ico`` (Windows) and ``modeldesk.icns`` (macOS). The ICO and ICNS
files hold PNG images, which both formats allow, so no imaging library is needed.
The outputs are committed; run this only to change the icon.
"""

from __future__ import annotations

import itertools
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "resources" / "icons"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS element types holding PNG data, by pixel size.
ICNS_TYPES = {16: b"icp4", 32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08", 512: b"ic09"}


def draw(size: int) -> bytes:
    """The icon at ``size`` pixels as PNG bytes: a graph of three layers on a blue tile."""
    from PySide6.QtCore import QBuffer, QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QImage, QLinearGradient, QPainter, QPen

    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    unit = size / 16
    tile = QRectF(0.5 * unit, 0.5 * unit, 15 * unit, 15 * unit)
    gradient = QLinearGradient(tile.topLeft(), tile.bottomRight())
    gradient.setColorAt(0, QColor("#2f6fd6"))
    gradient.setColorAt(1, QColor("#1b3f86"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(gradient)
    painter.drawRoundedRect(tile, 3.2 * unit, 3.2 * unit)
    layers = [[8.0], [4.0, 12.0], [8.0]]  # node heights per column: input, hidden, output
    columns = [3.6, 8.0, 12.4]
    pairs = zip(columns, layers, strict=True)
    nodes = [[QPointF(x * unit, y * unit) for y in ys] for x, ys in pairs]
    painter.setPen(QPen(QColor(255, 255, 255, 190), max(1.0, 0.9 * unit)))
    for left, right in itertools.pairwise(nodes):
        for a in left:
            for b in right:
                painter.drawLine(a, b)
    painter.setPen(Qt.PenStyle.NoPen)
    colours = ["#ffffff", "#ffd166", "#ffffff"]
    for column, colour in zip(nodes, colours, strict=True):
        painter.setBrush(QColor(colour))
        for point in column:
            painter.drawEllipse(point, 1.45 * unit, 1.45 * unit)
    painter.end()
    buffer = QBuffer()
    buffer.open(QBuffer.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(buffer.data())


def ico(images: dict[int, bytes]) -> bytes:
    """A Windows ICO file of PNG images (allowed since Windows Vista)."""
    header = struct.pack("<HHH", 0, 1, len(images))
    directory, data = b"", b""
    offset = len(header) + 16 * len(images)
    for size, png in sorted(images.items()):
        side = 0 if size >= 256 else size  # 0 means 256 in an ICO directory entry
        directory += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset + len(data))
        data += png
    return header + directory + data


def icns(images: dict[int, bytes]) -> bytes:
    """A macOS ICNS file of PNG images."""
    body = b"".join(
        ICNS_TYPES[size] + struct.pack(">I", 8 + len(png)) + png
        for size, png in sorted(images.items())
        if size in ICNS_TYPES
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    """Write every icon file."""
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication(sys.argv[:1])
    ICONS.mkdir(parents=True, exist_ok=True)
    images = {size: draw(size) for size in (*PNG_SIZES, 512)}
    for size in PNG_SIZES:
        (ICONS / f"modeldesk-{size}.png").write_bytes(images[size])
    (ICONS / "modeldesk.ico").write_bytes(ico({s: images[s] for s in (16, 24, 32, 48, 64, 256)}))
    (ICONS / "modeldesk.icns").write_bytes(icns(images))
    for path in sorted(ICONS.iterdir()):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
