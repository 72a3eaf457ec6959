"""Printer driver interface (the spec's printer protocol layer) shared by every printer family."""

# Error codes of command_ack failures (docs/protocol.md); DriverError.code is one of these.
PRINTER_OFFLINE = "printer_offline"
PRINTER_BUSY = "printer_busy"
PRINTER_REFUSED = "printer_refused"
DOWNLOAD_FAILED = "download_failed"
UPLOAD_FAILED = "upload_failed"
CARD_FULL = "card_full"
MD5_MISMATCH = "md5_mismatch"
SESSION_REUSE_UNSUPPORTED = "session_reuse_unsupported"
CANCELLED = "cancelled"
BAD_COMMAND = "bad_command"

# printer_event.event values a driver reports through on_event.
JOB_STARTED = "job_started"
JOB_PAUSED = "job_paused"
JOB_RESUMED = "job_resumed"
JOB_FINISHED = "job_finished"
JOB_FAILED = "job_failed"
JOB_CANCELLED = "job_cancelled"
PRINTER_ERROR = "printer_error"


class DriverError(Exception):
    """A printer operation failed; `code` is a protocol error code, `message` says why."""

    def __init__(self, code, message):
        super().__init__(code + ": " + message)
        self.code = code
        self.message = message


class PrinterDriver:
    """One printer: owns its connection, reports normalised status and job events.

    `config` is the `configure_printer.printer` map. `on_status(printer_id, changes)` receives
    the keys of the normalised status map that changed (a missing key means unchanged), at a
    bounded rate; `on_event(printer_id, event, data)` receives job and error events.
    """

    def __init__(self, config, on_status, on_event):
        self.config = config
        self.printer_id = config["printer_id"]
        self.on_status = on_status
        self.on_event = on_event

    async def run(self):
        """Own the connection forever (connect, reconnect with backoff); return after stop()."""
        raise NotImplementedError

    async def stop(self):
        """Ask run() to close the connection and return."""
        raise NotImplementedError

    def status(self):
        """The full merged normalised status map."""
        raise NotImplementedError

    def resume_job(self):
        """The hub had a job running on this printer before this driver started (a reboot): a
        job that ended meanwhile must still produce its end event. Default: nothing to do."""

    async def send_file(self, name, reader, size, progress, buf=None):
        """Upload `size` bytes pulled from `reader.readinto(mv)`; return the MD5 hex digest.

        `progress(bytes_sent)` is called as data goes out; `buf` is the caller's transfer
        buffer (the driver allocates none of its own when given). Raises DriverError.
        """
        raise NotImplementedError

    async def start_print(self, name, md5, plate=1, options=None):
        """Start printing plate `plate` of an uploaded file. Raises DriverError."""
        raise NotImplementedError

    async def control(self, action, args=None):
        """pause | resume | stop | speed {level} | light {on}. Raises DriverError."""
        raise NotImplementedError
