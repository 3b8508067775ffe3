"""A minimal Server-Sent Events client: frames as the browser's EventSource parses them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx


@dataclass
class SseFrame:
    id: str | None = None
    event: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)

    @property
    def is_heartbeat(self) -> bool:
        return self.event is None and not self.data and bool(self.comments)


async def sse_frames(response: httpx.Response) -> AsyncIterator[SseFrame]:
    frame = SseFrame()
    data_lines: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            frame.data = "\n".join(data_lines)
            yield frame
            frame, data_lines = SseFrame(), []
            continue
        if line.startswith(":"):
            frame.comments.append(line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "id":
            frame.id = value
        elif name == "event":
            frame.event = value
        elif name == "data":
            data_lines.append(value)
