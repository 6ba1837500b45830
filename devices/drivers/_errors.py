"""What a driver raises: the instrument's own error, or no answer in time. Devices and plans catch these."""


class InstrumentError(RuntimeError):
    """An instrument reported an error; the message is the instrument's own."""


class InstrumentTimeout(TimeoutError):
    """An instrument did not finish in time; the message names the device."""
