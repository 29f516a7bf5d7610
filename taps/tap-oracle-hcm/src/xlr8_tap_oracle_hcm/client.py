"""The HCM base stream: the kit's Fusion stream on ``/hcmRestApi`` (nothing HCM-specific in paging or rows)."""

from __future__ import annotations

from xlr8_kit.oracle.stream import FusionStream


class OracleHcmStream(FusionStream):
    """Every HCM stream; generated per resource from describe."""
