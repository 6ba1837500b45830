"""Low-level instrument drivers: thin, locked wrappers over pymeasure and our own pyserial drivers.

Every driver owns (or shares, for several axes on one controller) exactly one
connection and one lock, and every query holds the lock from write to reply,
so no two queries on a connection interleave.
"""

from ._errors import InstrumentError, InstrumentTimeout
from ._serial import SerialLine

__all__ = ["InstrumentError", "InstrumentTimeout", "SerialLine"]
