"""The operator's key command adds a signing key and prunes old ones."""

import os
import time
from pathlib import Path

from checkout.identity.keygen import main
from checkout.identity.keys import KeyStore


def test_keygen_adds_a_key_that_signs_and_prunes_old_ones(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 0
    first = next(tmp_path.glob("*.pem"))
    old = time.time() - 40 * 86400
    os.utime(first, (old, old))
    assert main([str(tmp_path), "--prune-older-than-days", "30"]) == 0
    keys = list(tmp_path.glob("*.pem"))
    assert len(keys) == 1 and keys[0] != first
    store = KeyStore.open(tmp_path, issuer="i", audience="a", create=False)
    assert store.current_kid == keys[0].stem
