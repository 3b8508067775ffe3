"""`python -m shopcommon.serve <uvicorn's arguments>`: uvicorn, as every service process runs it
(`shopcommon.services.uvicorn_argv`), ending with status 0 when stopped by SIGTERM.

On SIGTERM uvicorn stops listening, lets the requests in flight finish (up to
`--timeout-graceful-shutdown`), runs the application's shutdown (workers finish their batch), and
then raises the signal again for the handler that was there before it. With the default handler the
process would then die of the signal (status -15, 143 in a container), as if it had crashed. Here
that handler ends the process with status 0 instead: it stopped because it was asked to, and
finished its work first. (With `--workers N` the supervisor does the same for the whole group.)
"""

from __future__ import annotations

import signal
from types import FrameType

import uvicorn.main


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.main.main(prog_name="uvicorn")


if __name__ == "__main__":
    main()
