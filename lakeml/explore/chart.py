"""The :class:`Chart` object: a rendered matplotlib figure that saves to PNG/SVG and shows in Jupyter."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Literal

from matplotlib.figure import Figure

from lakeml.errors import ConfigError

ImageFormat = Literal["png", "svg"]


class Chart:
    """A chart lakeml drew (matplotlib, Agg backend: no display needed).

    Example:
        >>> chart = lake.chart("SELECT carrier, COUNT(*) AS n FROM flights GROUP BY 1",
        ...                    kind="bar", x="carrier", y="n")      # doctest: +SKIP
        >>> chart.save("carriers.svg")                             # doctest: +SKIP
    """

    def __init__(self, figure: Figure, *, title: str = "", tight: bool = False) -> None:
        self.figure = figure
        self.title = title
        self.tight = tight

    def to_bytes(self, format: ImageFormat = "png", *, dpi: int = 110) -> bytes:
        """The chart encoded as PNG or SVG bytes."""
        if format not in ("png", "svg"):
            raise ConfigError(f"Unsupported chart format '{format}'.", hint="Use 'png' or 'svg'.")
        buffer = io.BytesIO()
        metadata = {"Software": None} if format == "png" else {"Date": None}
        self.figure.savefig(buffer, format=format, dpi=dpi, bbox_inches="tight" if self.tight else None,
                            metadata=metadata)
        return buffer.getvalue()

    def to_png(self) -> bytes:
        """PNG bytes of the chart."""
        return self.to_bytes("png")

    def to_svg(self) -> str:
        """SVG text of the chart."""
        return self.to_bytes("svg").decode("utf-8")

    def save(self, path: str | Path, *, format: ImageFormat | None = None) -> Path:
        """Write the chart to ``path``; the format comes from the suffix (.png or .svg) unless given.

        Raises:
            ConfigError: the suffix/format is neither PNG nor SVG.
        """
        target = Path(path)
        fmt = format or target.suffix.lower().lstrip(".")
        if fmt not in ("png", "svg"):
            raise ConfigError(f"Cannot tell the image format of '{target.name}'.",
                              hint="Name the output file *.png or *.svg[[, or pass format='png' or format='svg'|]].")
        data = self.to_bytes(fmt)  # type: ignore[arg-type]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    def data_uri(self, format: ImageFormat = "png") -> str:
        """The chart as a ``data:`` URI, for embedding in self-contained HTML."""
        mime = "image/png" if format == "png" else "image/svg+xml"
        return f"data:{mime};base64,{base64.b64encode(self.to_bytes(format)).decode('ascii')}"

    def _repr_png_(self) -> bytes:
        return self.to_png()

    def _repr_html_(self) -> str:
        return f'<img alt="{html.escape(self.title)}" src="{self.data_uri("png")}" style="max-width:100%"/>'

    def __repr__(self) -> str:
        return f"Chart({self.title!r})"
