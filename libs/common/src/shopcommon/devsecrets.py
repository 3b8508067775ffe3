"""Dev-mode secrets: generated on first use into `.data/secrets/` (never into git) and reused,
so every process of one dev stack agrees on them. Outside dev, settings must provide secrets."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def data_dir() -> Path:
    return Path(os.environ.get("SHOP_DATA_DIR") or Path.cwd() / ".data")


def dev_secret(name: str, nbytes: int = 32) -> str:
    path = data_dir() / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(value)
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)  # atomic create-if-absent: two processes agree on the first value
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()
