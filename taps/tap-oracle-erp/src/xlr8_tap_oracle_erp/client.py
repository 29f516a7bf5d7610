"""The ERP base stream: the kit's Fusion stream on ``/fscmRestApi`` (nothing ERP-specific in paging or rows)."""

from __future__ import annotations

from xlr8_kit.oracle.stream import FusionStream


class OracleErpStream(FusionStream):
    """Every ERP stream; generated per resource from describe."""
