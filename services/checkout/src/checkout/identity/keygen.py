"""Operator command for checkout's signing keys (outside dev nothing is generated for you).

    python -m checkout.identity.keygen /keys          # add a new Ed25519 key; it signs from now on
    python -m checkout.identity.keygen /keys --prune-older-than-days 30

Rotation: add a key; every replica picks it up for new tokens, and every service accepts tokens of
both keys because both are published in the JWKS. Remove the old key once no token signed by it
can still be valid (after the longest access-token lifetime).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from checkout.identity.keys import KeyStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--prune-older-than-days", type=float, default=None)
    args = parser.parse_args(argv)
    args.directory.mkdir(parents=True, exist_ok=True)
    kid = KeyStore.generate_key(args.directory)
    print(f"new signing key {kid} in {args.directory}")
    if args.prune_older_than_days is not None:
        cutoff = time.time() - args.prune_older_than_days * 86400
        for pem in args.directory.glob("*.pem"):
            if pem.stem != kid and pem.stat().st_mtime < cutoff:
                pem.unlink()
                print(f"removed {pem.stem}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
